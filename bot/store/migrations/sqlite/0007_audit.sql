-- Every moderator change to settings and quotas: who (NULL: made outside Discord), when, what,
-- and the changed fields before and after as readable text. Listed newest first per guild.
CREATE TABLE audit_log (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id  INTEGER NOT NULL,
    actor_id  INTEGER,
    at        REAL    NOT NULL,
    what      TEXT    NOT NULL,
    before    TEXT    NOT NULL,
    after     TEXT    NOT NULL
);
CREATE INDEX audit_log_guild ON audit_log (guild_id, id);
