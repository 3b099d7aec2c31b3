-- Notices a server's moderators get once (a model shutting down, a default model gone): the key
-- names what was said, so a restart or a second process doesn't say it again.
CREATE TABLE notices (
    guild_id  BIGINT NOT NULL,
    key       TEXT NOT NULL,
    sent_at   DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (guild_id, key)
);
