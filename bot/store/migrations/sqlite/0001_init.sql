-- Jobs: the audit log of every request. Interaction tokens are secrets and are never stored.
CREATE TABLE jobs (
    id                      INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id                INTEGER NOT NULL,
    channel_id              INTEGER NOT NULL,
    user_id                 INTEGER NOT NULL,
    operation               TEXT    NOT NULL CHECK (operation IN ('generate', 'edit', 'variation')),
    model                   TEXT    NOT NULL,
    params                  TEXT    NOT NULL DEFAULT '{}',
    prompt                  TEXT,
    revised_prompt          TEXT,
    status                  TEXT    NOT NULL DEFAULT 'queued'
        CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    error_kind              TEXT,
    credits                 INTEGER NOT NULL DEFAULT 0,
    input_tokens            INTEGER NOT NULL DEFAULT 0,
    output_tokens           INTEGER NOT NULL DEFAULT 0,
    total_tokens            INTEGER NOT NULL DEFAULT 0,
    created_at              REAL    NOT NULL,
    started_at              REAL,
    finished_at             REAL,
    result_channel_id       INTEGER,
    result_message_id       INTEGER,
    interaction_expires_at  REAL,
    reservation_id          INTEGER
);
CREATE INDEX jobs_guild_created ON jobs (guild_id, created_at DESC);
CREATE INDEX jobs_guild_user_created ON jobs (guild_id, user_id, created_at DESC);
CREATE INDEX jobs_in_flight ON jobs (status) WHERE status IN ('queued', 'running');

CREATE TABLE guild_settings (
    guild_id             INTEGER PRIMARY KEY,
    allowed_models       TEXT,
    default_model        TEXT,
    allowed_channel_ids  TEXT    NOT NULL DEFAULT '[]',
    moderator_role_ids   TEXT    NOT NULL DEFAULT '[]',
    mod_log_channel_id   INTEGER,
    updated_at           REAL    NOT NULL
);

CREATE TABLE quota_policies (
    guild_id              INTEGER PRIMARY KEY,
    window_kind           TEXT    NOT NULL,
    user_limit            INTEGER,
    server_budget         INTEGER,
    server_window         TEXT    NOT NULL,
    cooldown_seconds      INTEGER NOT NULL,
    max_in_flight         INTEGER,
    moderators_unlimited  INTEGER NOT NULL,
    updated_at            REAL    NOT NULL
);

CREATE TABLE quota_role_rules (
    guild_id      INTEGER NOT NULL,
    role_id       INTEGER NOT NULL,
    kind          TEXT    NOT NULL CHECK (kind IN ('limit', 'unlimited', 'blocked')),
    credit_limit  INTEGER,
    PRIMARY KEY (guild_id, role_id)
);

CREATE TABLE cost_overrides (
    guild_id  INTEGER NOT NULL,
    model     TEXT    NOT NULL,
    size      TEXT    NOT NULL,
    quality   TEXT    NOT NULL,
    credits   INTEGER NOT NULL CHECK (credits >= 0),
    PRIMARY KEY (guild_id, model, size, quality)
);

-- Credits used per member ('user') or per guild ('server') in one aligned window.
CREATE TABLE usage_buckets (
    guild_id      INTEGER NOT NULL,
    scope         TEXT    NOT NULL CHECK (scope IN ('user', 'server')),
    subject_id    INTEGER NOT NULL,
    window_kind   TEXT    NOT NULL,
    window_start  INTEGER NOT NULL,
    used          INTEGER NOT NULL CHECK (used >= 0),
    PRIMARY KEY (guild_id, scope, subject_id, window_kind, window_start)
);

-- Jobs in flight and the time of the last reservation, per member: the cooldown and cap.
CREATE TABLE member_state (
    guild_id          INTEGER NOT NULL,
    user_id           INTEGER NOT NULL,
    in_flight         INTEGER NOT NULL CHECK (in_flight >= 0),
    last_reserved_at  REAL,
    PRIMARY KEY (guild_id, user_id)
);

-- Held credits; once committed a row is the ledger entry of what a job cost.
CREATE TABLE reservations (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id             INTEGER NOT NULL,
    user_id              INTEGER NOT NULL,
    job_id               INTEGER,
    model                TEXT    NOT NULL,
    size                 TEXT,
    quality              TEXT,
    n                    INTEGER NOT NULL,
    cost_per_image       INTEGER NOT NULL,
    credits              INTEGER NOT NULL,
    status               TEXT    NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'committed', 'refunded')),
    window_kind          TEXT    NOT NULL,
    window_start         INTEGER NOT NULL,
    server_window        TEXT    NOT NULL,
    server_window_start  INTEGER NOT NULL,
    created_at           REAL    NOT NULL,
    expires_at           REAL    NOT NULL,
    charged              INTEGER NOT NULL DEFAULT 0,
    images               INTEGER NOT NULL DEFAULT 0,
    input_tokens         INTEGER NOT NULL DEFAULT 0,
    output_tokens        INTEGER NOT NULL DEFAULT 0,
    total_tokens         INTEGER NOT NULL DEFAULT 0,
    settled_at           REAL
);
CREATE INDEX reservations_pending ON reservations (expires_at) WHERE status = 'pending';
CREATE INDEX reservations_guild_created ON reservations (guild_id, created_at);
