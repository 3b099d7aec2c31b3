-- A server's own provider: its base URL and its API key, encrypted with the operator's keys
-- (bot/keys.py); key_hint is the key's last four characters, the only part ever shown.
CREATE TABLE guild_providers (
    guild_id    INTEGER PRIMARY KEY,
    base_url    TEXT NOT NULL,
    sealed_key  TEXT NOT NULL,
    key_hint    TEXT NOT NULL,
    set_by      INTEGER,
    set_at      REAL NOT NULL
);
