-- A server's style presets (see bot/presets.py): a template with {prompt} where the member's
-- prompt goes, and optionally the model and quality it is meant for. Names are unique per server
-- whatever their case; at most 25 per server (the autocomplete's limit, checked on insert).
CREATE TABLE presets (
    guild_id    BIGINT  NOT NULL,
    name        TEXT    NOT NULL,
    template    TEXT    NOT NULL,
    model       TEXT,
    quality     TEXT,
    created_by  BIGINT,
    created_at  DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (guild_id, name)
);
CREATE UNIQUE INDEX presets_name ON presets (guild_id, lower(name));
-- A member's defaults on a server (/preferences): used when they choose none in a command.
-- NULL: no preference. A preset is named, not referenced: one removed since is skipped.
CREATE TABLE preferences (
    guild_id  BIGINT  NOT NULL,
    user_id   BIGINT  NOT NULL,
    model     TEXT,
    aspect    TEXT,
    quality   TEXT,
    preset    TEXT,
    PRIMARY KEY (guild_id, user_id)
);
