-- A server's safety settings (see bot/safety.py): less strict filtering in age-restricted
-- channels, spoilered results elsewhere, a prompt check before anything is spent, and blocked
-- words (a JSON list of lower-case words or phrases, "*" a wildcard). All off for every server.
ALTER TABLE guild_settings ADD COLUMN low_moderation INTEGER NOT NULL DEFAULT 0;
ALTER TABLE guild_settings ADD COLUMN spoilers INTEGER NOT NULL DEFAULT 0;
ALTER TABLE guild_settings ADD COLUMN prompt_check INTEGER NOT NULL DEFAULT 0;
ALTER TABLE guild_settings ADD COLUMN blocked_words TEXT NOT NULL DEFAULT '[]';
