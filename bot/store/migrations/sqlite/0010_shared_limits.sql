-- The pause a provider asked for with a 429, shared by the bot processes of a PostgreSQL database
-- (bot/store/gates.py). On SQLite one process is alone and its provider's queue pauses it, so the
-- table stays empty; it exists so both databases have the same tables.
CREATE TABLE provider_pauses (
    provider_key  INTEGER PRIMARY KEY,
    until         REAL    NOT NULL
);
