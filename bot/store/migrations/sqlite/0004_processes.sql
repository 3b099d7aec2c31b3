-- Bot processes and their leases: recovery takes over only what a dead process left behind.
-- lock_token names the folder of the process's lock file (see bot/store/lockfile.py), if any.
CREATE TABLE processes (
    id            TEXT    PRIMARY KEY,
    lock_token    TEXT,
    started_at    REAL    NOT NULL,
    heartbeat_at  REAL    NOT NULL
);
-- The process that runs a job or holds a reservation (NULL: written before this migration).
ALTER TABLE jobs ADD COLUMN owner TEXT;
ALTER TABLE reservations ADD COLUMN owner TEXT;
-- Set, with what the images cost, once they reached the member: such a reservation is only
-- ever committed, by its process or by recovery, never refunded.
ALTER TABLE reservations ADD COLUMN delivered_at REAL;
