-- A server's safety settings (see bot/safety.py): less strict filtering in age-restricted
-- channels, spoilered results elsewhere, a prompt check before anything is spent, and blocked
-- words (a JSON list of lower-case words or phrases, "*" a wildcard). All off for every server.
ALTER TABLE guild_settings ADD COLUMN low_moderation BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE guild_settings ADD COLUMN spoilers BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE guild_settings ADD COLUMN prompt_check BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE guild_settings ADD COLUMN blocked_words TEXT NOT NULL DEFAULT '[]';
