-- The pause a provider asked for with a 429, shared by every bot process on this database: until
-- then (seconds since the epoch, on the database's clock) no process sends it a request. Whoever
-- got the 429 writes it, keeping the later end. The shared slots themselves are advisory locks
-- (bot/store/gates.py), not rows: a process that dies frees them with its connection.
CREATE TABLE provider_pauses (
    provider_key  BIGINT PRIMARY KEY,
    until         DOUBLE PRECISION NOT NULL
);
