-- Jobs a member saved with the ⭐ button, per server; /favourites lists them newest first.
CREATE TABLE favourites (
    guild_id    BIGINT           NOT NULL,
    user_id     BIGINT           NOT NULL,
    job_id      BIGINT           NOT NULL,
    created_at  DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (guild_id, user_id, job_id)
);
CREATE INDEX favourites_newest ON favourites (guild_id, user_id, created_at);
