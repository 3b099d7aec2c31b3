-- The language a server's channel posts (moderation log, notices) read in: a catalog name of
-- bot/i18n.py (en, zh_CN, ru, es, pt_BR, ja, de, fr). NULL: follow the server's Discord language.
ALTER TABLE guild_settings ADD COLUMN language TEXT;
