"""Every SQL statement of the bot, written once for SQLite (>= 3.35) and PostgreSQL.

Placeholders are ``$1``-style (rewritten for SQLite). Parameters whose type PostgreSQL can't infer
are wrapped in ``CAST(... AS BIGINT)``, which SQLite also understands. Every statement that touches
guild data is scoped by ``guild_id``; the only unscoped ones are recovery (``FAIL_STALE_JOBS``,
``ORPHAN_RESERVATIONS``), the process leases, the providers' shared limits and migrations.
"""

from __future__ import annotations

# --- migrations ----------------------------------------------------------------------------------

CREATE_SCHEMA_VERSION = """
CREATE TABLE IF NOT EXISTS schema_version (
    version     INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    applied_at  DOUBLE PRECISION NOT NULL
)
"""
APPLIED_VERSIONS = "SELECT version FROM schema_version ORDER BY version"
RECORD_VERSION = "INSERT INTO schema_version (version, name, applied_at) VALUES ($1, $2, $3)"
# Serialises schema creation and migrations across processes; released when the transaction ends.
PG_MIGRATION_LOCK = "SELECT pg_advisory_xact_lock(7243120917)"

# --- jobs ----------------------------------------------------------------------------------------

INSERT_JOB = """
INSERT INTO jobs (guild_id, channel_id, user_id, operation, model, params, prompt, credits,
                  reservation_id, interaction_expires_at, created_at, status, requester_name,
                  owner)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'queued', $12, $13)
RETURNING *
"""
GET_JOB = "SELECT * FROM jobs WHERE guild_id = $1 AND id = $2"
MARK_JOB_RUNNING = """
UPDATE jobs SET status = 'running', started_at = $3
WHERE guild_id = $1 AND id = $2 AND status = 'queued'
RETURNING *
"""
MARK_JOB_SUCCEEDED = """
UPDATE jobs
SET status = 'succeeded', finished_at = $3, revised_prompt = $4, credits = $5,
    input_tokens = $6, output_tokens = $7, total_tokens = $8,
    result_channel_id = COALESCE($9, result_channel_id),
    result_message_id = COALESCE($10, result_message_id)
WHERE guild_id = $1 AND id = $2 AND status IN ('queued', 'running')
RETURNING *
"""
MARK_JOB_ENDED = """
UPDATE jobs SET status = $3, error_kind = $4, finished_at = $5
WHERE guild_id = $1 AND id = $2 AND status IN ('queued', 'running')
RETURNING *
"""
SET_JOB_RESULT_MESSAGE = """
UPDATE jobs SET result_channel_id = $3, result_message_id = $4
WHERE guild_id = $1 AND id = $2
RETURNING *
"""
RECENT_JOBS = """
SELECT * FROM jobs
WHERE guild_id = $1 AND (CAST($2 AS BIGINT) IS NULL OR user_id = CAST($2 AS BIGINT))
ORDER BY created_at DESC, id DESC
LIMIT $3
"""
# The name each member last asked under in [$2, $3): the bot has no member list to ask.
REQUESTER_NAMES = """
SELECT jobs.user_id, jobs.requester_name FROM jobs
JOIN (SELECT MAX(id) AS id FROM jobs
      WHERE guild_id = $1 AND requester_name <> '' AND created_at >= $2 AND created_at < $3
      GROUP BY user_id) AS latest ON jobs.id = latest.id
"""
# A job in flight is stale once its owner is gone: no process row with a heartbeat after $3 has
# its id (and it isn't the caller, $4). Jobs written before owners were recorded (NULL) go stale
# by age ($2), as they used to.
FAIL_STALE_JOBS = """
UPDATE jobs SET status = 'failed', error_kind = 'interrupted', finished_at = $1
WHERE status IN ('queued', 'running')
  AND ((owner IS NULL AND created_at <= $2)
       OR (owner IS NOT NULL AND owner <> $4
           AND owner NOT IN (SELECT id FROM processes WHERE heartbeat_at > $3)))
RETURNING *
"""

# --- guild settings and quota policy -------------------------------------------------------------
# A moderator's change locks the guild's row, reads it fresh and writes only the columns that
# changed (one UPDATE each), so two moderators or two processes can't undo each other's changes.

SETTINGS_COLUMNS = (
    "allowed_models",
    "default_model",
    "allowed_channel_ids",
    "moderator_role_ids",
    "mod_log_channel_id",
    "low_moderation",
    "spoilers",
    "prompt_check",
    "blocked_words",
    "language",
)
POLICY_COLUMNS = (
    "window_kind",
    "user_limit",
    "server_budget",
    "server_window",
    "cooldown_seconds",
    "max_in_flight",
    "moderators_unlimited",
)


def _lock_row(table: str, columns: tuple[str, ...]) -> str:
    # Inserts the code's defaults when the guild has no row yet; either way the row stays locked
    # until the transaction ends and comes back as committed by the last writer.
    names = ", ".join(("guild_id", *columns, "updated_at"))
    marks = ", ".join(f"${i}" for i in range(1, len(columns) + 3))
    return (
        f"INSERT INTO {table} ({names}) VALUES ({marks})\n"
        "ON CONFLICT (guild_id) DO UPDATE SET updated_at = excluded.updated_at\n"
        "RETURNING *"
    )


def _set_columns(table: str, columns: tuple[str, ...]) -> dict[str, str]:
    return {c: f"UPDATE {table} SET {c} = $2 WHERE guild_id = $1" for c in columns}


GET_GUILD_SETTINGS = "SELECT * FROM guild_settings WHERE guild_id = $1"
LOCK_GUILD_SETTINGS = _lock_row("guild_settings", SETTINGS_COLUMNS)
SET_GUILD_SETTING = _set_columns("guild_settings", SETTINGS_COLUMNS)
GET_QUOTA_POLICY = "SELECT * FROM quota_policies WHERE guild_id = $1"
LOCK_QUOTA_POLICY = _lock_row("quota_policies", POLICY_COLUMNS)
SET_POLICY_COLUMN = _set_columns("quota_policies", POLICY_COLUMNS)
GET_ROLE_RULES = "SELECT * FROM quota_role_rules WHERE guild_id = $1"
GET_COST_OVERRIDES = "SELECT * FROM cost_overrides WHERE guild_id = $1"
DELETE_ROLE_RULE = "DELETE FROM quota_role_rules WHERE guild_id = $1 AND role_id = $2"
UPSERT_ROLE_RULE = """
INSERT INTO quota_role_rules (guild_id, role_id, kind, credit_limit) VALUES ($1, $2, $3, $4)
ON CONFLICT (guild_id, role_id) DO UPDATE
SET kind = excluded.kind, credit_limit = excluded.credit_limit
"""
DELETE_COST_OVERRIDE = """
DELETE FROM cost_overrides WHERE guild_id = $1 AND model = $2 AND size = $3 AND quality = $4
"""
UPSERT_COST_OVERRIDE = """
INSERT INTO cost_overrides (guild_id, model, size, quality, credits) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (guild_id, model, size, quality) DO UPDATE SET credits = excluded.credits
"""

# --- reservations: each conditional upsert is the atomic check-and-charge ------------------------

# Takes one of the member's in-flight slots unless the cap $4 is reached or the cooldown $5 runs.
# Concurrent requests can commit out of clock order, so the last time only ever moves forward.
TAKE_MEMBER_SLOT = """
INSERT INTO member_state (guild_id, user_id, in_flight, last_reserved_at) VALUES ($1, $2, 1, $3)
ON CONFLICT (guild_id, user_id) DO UPDATE
SET in_flight = member_state.in_flight + 1,
    last_reserved_at = CASE
        WHEN member_state.last_reserved_at IS NULL
          OR member_state.last_reserved_at < excluded.last_reserved_at
        THEN excluded.last_reserved_at ELSE member_state.last_reserved_at END
WHERE (CAST($4 AS BIGINT) IS NULL OR member_state.in_flight < CAST($4 AS BIGINT))
  AND (CAST($5 AS DOUBLE PRECISION) <= 0
       OR member_state.last_reserved_at IS NULL
       OR member_state.last_reserved_at + CAST($5 AS DOUBLE PRECISION) <= excluded.last_reserved_at)
RETURNING in_flight
"""
# Adds $6 credits to a bucket unless that would pass the limit $7 (NULL: no limit). A new bucket
# starts at $6, so the caller rejects $6 > $7 before running this.
CHARGE_BUCKET = """
INSERT INTO usage_buckets (guild_id, scope, subject_id, window_kind, window_start, used)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (guild_id, scope, subject_id, window_kind, window_start) DO UPDATE
SET used = usage_buckets.used + excluded.used
WHERE CAST($7 AS BIGINT) IS NULL OR usage_buckets.used + excluded.used <= CAST($7 AS BIGINT)
RETURNING used
"""
# Unconditional: settling may only give back, or charge what the API really produced.
ADJUST_BUCKET = """
UPDATE usage_buckets
SET used = CASE WHEN used + $6 < 0 THEN 0 ELSE used + $6 END
WHERE guild_id = $1 AND scope = $2 AND subject_id = $3 AND window_kind = $4 AND window_start = $5
"""
GET_BUCKET_USED = """
SELECT used FROM usage_buckets
WHERE guild_id = $1 AND scope = $2 AND subject_id = $3 AND window_kind = $4 AND window_start = $5
"""
RESET_MEMBER_BUCKET = """
UPDATE usage_buckets SET used = 0
WHERE guild_id = $1 AND scope = 'user' AND subject_id = $2 AND window_kind = $3
  AND window_start = $4
"""
CLEAR_MEMBER_COOLDOWN = """
UPDATE member_state SET last_reserved_at = NULL WHERE guild_id = $1 AND user_id = $2
"""
GET_MEMBER_STATE = "SELECT * FROM member_state WHERE guild_id = $1 AND user_id = $2"
RELEASE_MEMBER_SLOT = """
UPDATE member_state SET in_flight = CASE WHEN in_flight > 0 THEN in_flight - 1 ELSE 0 END
WHERE guild_id = $1 AND user_id = $2
"""
INSERT_RESERVATION = """
INSERT INTO reservations (guild_id, user_id, job_id, model, size, quality, n, cost_per_image,
                          credits, window_kind, window_start, server_window,
                          server_window_start, created_at, expires_at, owner)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
RETURNING *
"""
GET_RESERVATION = "SELECT * FROM reservations WHERE guild_id = $1 AND id = $2"
# Only a pending reservation settles, so a second commit or refund changes nothing.
SETTLE_RESERVATION = """
UPDATE reservations
SET status = $3, charged = $4, images = $5, size = COALESCE($6, size),
    quality = COALESCE($7, quality), input_tokens = $8,
    output_tokens = $9, total_tokens = $10, settled_at = $11, cost_usd = $12
WHERE guild_id = $1 AND id = $2 AND status = 'pending'
RETURNING *
"""
# What the member was delivered and what it costs, kept on the still pending reservation so a
# failed or interrupted settlement is completed as a charge, never mistaken for a crash.
RECORD_DELIVERY = """
UPDATE reservations
SET charged = $3, images = $4, size = COALESCE($5, size), quality = COALESCE($6, quality),
    input_tokens = $7, output_tokens = $8, total_tokens = $9, delivered_at = $10,
    cost_usd = $11
WHERE guild_id = $1 AND id = $2 AND status = 'pending'
RETURNING *
"""
# Pending reservations nobody will settle: the owner is gone (as in FAIL_STALE_JOBS, $3 the
# caller), or it was delivered before $2 and its owner's retries have long given up; unowned ones
# once expired ($1).
ORPHAN_RESERVATIONS = """
SELECT * FROM reservations
WHERE status = 'pending'
  AND ((owner IS NULL AND expires_at <= $1)
       OR (owner IS NOT NULL AND owner <> $3
           AND owner NOT IN (SELECT id FROM processes WHERE heartbeat_at > $2))
       OR delivered_at <= $2)
ORDER BY id
"""

# --- processes: leases renewed by heartbeats -----------------------------------------------------

UPSERT_PROCESS = """
INSERT INTO processes (id, lock_token, started_at, heartbeat_at) VALUES ($1, $2, $3, $3)
ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at
"""
RENEW_PROCESS = "UPDATE processes SET heartbeat_at = $2 WHERE id = $1 RETURNING id"
DELETE_PROCESS = "DELETE FROM processes WHERE id = $1"
DELETE_EXPIRED_PROCESSES = "DELETE FROM processes WHERE heartbeat_at <= $1 AND id <> $2"
PROCESSES_WITH_LOCK_TOKEN = "SELECT id FROM processes WHERE lock_token = $1 AND id <> $2"

# --- reports -------------------------------------------------------------------------------------

SPEND_BY_MEMBER = """
SELECT user_id AS key, CAST(SUM(charged) AS BIGINT) AS credits,
       CAST(SUM(images) AS BIGINT) AS images
FROM reservations
WHERE guild_id = $1 AND status = 'committed' AND created_at >= $2 AND created_at < $3
GROUP BY user_id
ORDER BY credits DESC, key
LIMIT $4
"""
SPEND_BY_MODEL = """
SELECT model AS key, CAST(SUM(charged) AS BIGINT) AS credits,
       CAST(SUM(images) AS BIGINT) AS images
FROM reservations
WHERE guild_id = $1 AND status = 'committed' AND created_at >= $2 AND created_at < $3
GROUP BY model
ORDER BY credits DESC, key
"""
CHARGES_BETWEEN = """
SELECT * FROM reservations
WHERE guild_id = $1 AND status = 'committed' AND created_at >= $2 AND created_at < $3
ORDER BY created_at, id
"""

# --- notices -------------------------------------------------------------------------------------

CLAIM_NOTICE = """
INSERT INTO notices (guild_id, key, sent_at) VALUES ($1, $2, $3)
ON CONFLICT (guild_id, key) DO NOTHING
RETURNING guild_id
"""
# Spans guilds: the periodic model-lifecycle check tells every server with a moderation log.
MOD_LOG_CHANNELS = """
SELECT guild_id, mod_log_channel_id FROM guild_settings WHERE mod_log_channel_id IS NOT NULL
"""

# --- servers' own providers ----------------------------------------------------------------------

GET_GUILD_PROVIDER = """
SELECT guild_id, base_url, sealed_key, key_hint, set_by, set_at FROM guild_providers
WHERE guild_id = $1
"""
UPSERT_GUILD_PROVIDER = """
INSERT INTO guild_providers (guild_id, base_url, sealed_key, key_hint, set_by, set_at)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (guild_id) DO UPDATE SET base_url = excluded.base_url,
    sealed_key = excluded.sealed_key, key_hint = excluded.key_hint, set_by = excluded.set_by,
    set_at = excluded.set_at
"""
DELETE_GUILD_PROVIDER = "DELETE FROM guild_providers WHERE guild_id = $1"
# Spans guilds: re-encrypting every stored key with the operator's newest key.
ALL_GUILD_PROVIDERS = """
SELECT guild_id, base_url, sealed_key, key_hint, set_by, set_at FROM guild_providers
ORDER BY guild_id
"""
RESEAL_GUILD_PROVIDER = """
UPDATE guild_providers SET sealed_key = $2 WHERE guild_id = $1 AND sealed_key = $3
"""

# --- the audit trail of moderator changes --------------------------------------------------------

INSERT_CHANGE = """
INSERT INTO audit_log (guild_id, actor_id, at, what, before, after)
VALUES ($1, CAST($2 AS BIGINT), $3, $4, $5, $6)
RETURNING *
"""
RECENT_CHANGES = "SELECT * FROM audit_log WHERE guild_id = $1 ORDER BY id DESC LIMIT $2"

# --- servers' presets and members' preferences ---------------------------------------------------
# Preset names are matched whatever their case (a unique index on lower(name)); a changed preset
# keeps the name it was added under.

LIST_PRESETS = "SELECT * FROM presets WHERE guild_id = $1 ORDER BY lower(name)"
GET_PRESET = "SELECT * FROM presets WHERE guild_id = $1 AND lower(name) = lower($2)"
UPDATE_PRESET = """
UPDATE presets SET template = $3, model = $4, quality = $5, created_by = $6, created_at = $7
WHERE guild_id = $1 AND lower(name) = lower($2)
RETURNING *
"""
# Inserts only while the server has fewer than $8 presets.
INSERT_PRESET_UNDER_LIMIT = """
INSERT INTO presets (guild_id, name, template, model, quality, created_by, created_at)
SELECT CAST($1 AS BIGINT), CAST($2 AS TEXT), CAST($3 AS TEXT), CAST($4 AS TEXT),
       CAST($5 AS TEXT), CAST($6 AS BIGINT), CAST($7 AS DOUBLE PRECISION)
WHERE (SELECT COUNT(*) FROM presets WHERE guild_id = $1) < $8
RETURNING *
"""
DELETE_PRESET = "DELETE FROM presets WHERE guild_id = $1 AND lower(name) = lower($2) RETURNING *"
PREFERENCE_COLUMNS = ("model", "aspect", "quality", "preset")
GET_PREFERENCES = "SELECT * FROM preferences WHERE guild_id = $1 AND user_id = $2"
# One statement per preference, so setting one never writes back another read earlier.
SET_PREFERENCE = {
    column: f"""
INSERT INTO preferences (guild_id, user_id, {column}) VALUES ($1, $2, $3)
ON CONFLICT (guild_id, user_id) DO UPDATE SET {column} = excluded.{column}
"""
    for column in PREFERENCE_COLUMNS
}

# --- favourites: jobs members saved with the ⭐ button -------------------------------------------

ADD_FAVOURITE = """
INSERT INTO favourites (guild_id, user_id, job_id, created_at) VALUES ($1, $2, $3, $4)
ON CONFLICT (guild_id, user_id, job_id) DO NOTHING
RETURNING job_id
"""
REMOVE_FAVOURITE = """
DELETE FROM favourites WHERE guild_id = $1 AND user_id = $2 AND job_id = $3 RETURNING job_id
"""
IS_FAVOURITE = "SELECT job_id FROM favourites WHERE guild_id = $1 AND user_id = $2 AND job_id = $3"
COUNT_FAVOURITES = """
SELECT COUNT(*) AS saved FROM favourites
JOIN jobs ON jobs.guild_id = favourites.guild_id AND jobs.id = favourites.job_id
WHERE favourites.guild_id = $1 AND favourites.user_id = $2
"""
# Newest saved first; a job no longer stored drops out of the list.
FAVOURITE_JOBS = """
SELECT jobs.*, favourites.created_at AS saved_at FROM favourites
JOIN jobs ON jobs.guild_id = favourites.guild_id AND jobs.id = favourites.job_id
WHERE favourites.guild_id = $1 AND favourites.user_id = $2
ORDER BY favourites.created_at DESC, favourites.job_id DESC
LIMIT $3 OFFSET $4
"""

# --- shared provider limits (PostgreSQL only: bot/store/gates.py) --------------------------------
# A slot is the session advisory lock (provider key $1, slot number $2) held by the gates'
# connection; giving it back tells the processes waiting on the provider's channel ($3).

TAKE_SHARED_SLOT = "SELECT pg_try_advisory_lock($1, $2)"
GIVE_BACK_SHARED_SLOT = "SELECT pg_advisory_unlock($1, $2), pg_notify($3, 'free')"
# The pause after a 429 ends at the later of the stored end and now + $2 (the database's clock).
PAUSE_PROVIDER = """
WITH paused AS (
    INSERT INTO provider_pauses (provider_key, until)
    VALUES ($1, EXTRACT(EPOCH FROM clock_timestamp())::DOUBLE PRECISION
                + CAST($2 AS DOUBLE PRECISION))
    ON CONFLICT (provider_key) DO UPDATE
    SET until = GREATEST(provider_pauses.until, excluded.until)
    RETURNING until
)
SELECT pg_notify($3, 'pause') FROM paused
"""
PROVIDER_PAUSE_LEFT = """
SELECT until - EXTRACT(EPOCH FROM clock_timestamp())::DOUBLE PRECISION
FROM provider_pauses WHERE provider_key = $1
"""
