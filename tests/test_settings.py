"""Settings: parsing, one message naming every bad variable, secrets never shown."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.logs import RedactSecrets
from bot.settings import Settings

TOKEN = "discord-token-SECRET-abcdef"
KEY = "sk-test-SECRET-123456"


def test_defaults_and_prefixed_base_url(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "DISCORD_TOKEN": TOKEN,
            "OPENAI_API_KEY": KEY,
            "OPENAI_BASE_URL": "https://gw.example.com/openai/v1/",
            "IMAGEBOT_DATA_DIR": str(tmp_path),
            "DEV_GUILD_ID": "123456789012345678",
            "IMAGEBOT_WORKER_PROCESSES": "2",
        }
    )
    assert settings.openai_base_url == "https://gw.example.com/openai/v1"
    assert settings.database_url == f"sqlite:///{tmp_path / 'imagebot.sqlite3'}"
    assert settings.dev_guild_id == 123456789012345678
    assert settings.request_timeout == 120.0
    assert settings.max_input_bytes == 25 * 1024 * 1024
    assert settings.worker_processes == 2


def test_every_bad_variable_is_named_at_once_without_echoing_values() -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(
            {
                "OPENAI_BASE_URL": KEY,
                "IMAGEBOT_REQUEST_TIMEOUT": "soon",
                "IMAGEBOT_MAX_CONCURRENT_REQUESTS": "0",
                "DEV_GUILD_ID": "my-server",
                "LOG_LEVEL": "LOUD",
                "IMAGEBOT_MODELS_FILE": "/nonexistent/models.toml",
                "DATABASE_URL": "mysql://x",
            }
        )
    message = str(caught.value)
    for name in (
        "DISCORD_TOKEN is not set",
        "OPENAI_API_KEY is not set",
        "OPENAI_BASE_URL must be an http(s) URL",
        "IMAGEBOT_REQUEST_TIMEOUT is not a valid value",
        "IMAGEBOT_MAX_CONCURRENT_REQUESTS must be a whole number of at least 1",
        "DEV_GUILD_ID must be a Discord id",
        "LOG_LEVEL must be one of",
        "IMAGEBOT_MODELS_FILE no file at",
        "DATABASE_URL must start with",
    ):
        assert name in message
    assert len(caught.value.problems) == 9
    assert KEY not in message and "soon" not in message


def test_cli_mode_needs_no_discord_token() -> None:
    settings = Settings.from_env({"OPENAI_API_KEY": KEY}, require_discord=False)
    assert settings.discord_token == ""


def test_secrets_stay_out_of_repr_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings.from_env({"DISCORD_TOKEN": TOKEN, "OPENAI_API_KEY": KEY})
    assert TOKEN not in repr(settings) and KEY not in repr(settings)
    logger = logging.getLogger("test.redact")
    redact = RedactSecrets([TOKEN, KEY])
    logger.addFilter(redact)
    try:
        with caplog.at_level(logging.INFO, logger="test.redact"):
            logger.info("sending Authorization: Bearer %s with %s", KEY, TOKEN)
            try:
                raise RuntimeError(f"boom {KEY}")
            except RuntimeError:
                logger.exception("failed")
    finally:
        logger.removeFilter(redact)
    assert KEY not in caplog.text and TOKEN not in caplog.text
    assert "Bearer [redacted] with [redacted]" in caplog.text


DB_PASSWORD = "db-pa55word-SECRET"


def test_database_password_stays_out_of_repr_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    url = f"postgresql://imagebot:{DB_PASSWORD.replace('-', '%2D')}@db.internal:5432/imagebot"
    settings = Settings.from_env(
        {"DISCORD_TOKEN": TOKEN, "OPENAI_API_KEY": KEY, "DATABASE_URL": url}
    )
    assert settings.database_url == url
    assert "%2D" not in repr(settings) and DB_PASSWORD not in repr(settings)
    logger = logging.getLogger("test.redact.db")
    redact = RedactSecrets(settings.secrets)
    logger.addFilter(redact)
    try:
        with caplog.at_level(logging.INFO, logger="test.redact.db"):
            logger.info("connecting to %s", url)
            logger.info("password was %s", DB_PASSWORD)  # decoded, as a driver might quote it
            try:
                raise ConnectionError(f"could not connect to {url}")
            except ConnectionError:
                logger.exception("store failed")
    finally:
        logger.removeFilter(redact)
    assert DB_PASSWORD not in caplog.text
    assert DB_PASSWORD.replace("-", "%2D") not in caplog.text
    assert "postgresql://imagebot:[redacted]@db.internal:5432/imagebot" in caplog.text


def test_any_url_password_is_redacted_even_when_short_or_unknown() -> None:
    redact = RedactSecrets([])
    text = redact.redact("base https://me:pw@gw.example/v1 and postgres://u:x@h/db, https://h/p")
    assert text == (
        "base https://me:[redacted]@gw.example/v1 and postgres://u:[redacted]@h/db, https://h/p"
    )


def test_relative_settings_paths_and_env_file_resolve_from_imagebot_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "checkout"
    home.mkdir()
    (home / "models.toml").write_text("")
    (home / ".env").write_text(f"OPENAI_API_KEY={KEY}\nIMAGEBOT_MODELS_FILE=models.toml\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # ./scripts/run from another folder
    monkeypatch.setenv("IMAGEBOT_HOME", str(home))
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("IMAGEBOT_MODELS_FILE", raising=False)
    settings = Settings.from_env(require_discord=False)
    assert settings.openai_api_key == KEY
    assert settings.models_file == home / "models.toml"
    assert settings.data_dir == home / "data"
    assert settings.database_url == f"sqlite:///{home / 'data' / 'imagebot.sqlite3'}"
    given = Settings.from_env(
        {"OPENAI_API_KEY": KEY, "IMAGEBOT_HOME": str(home), "IMAGEBOT_DATA_DIR": "state"},
        require_discord=False,
    )
    assert given.data_dir == home / "state"
    absolute = Settings.from_env(
        {"OPENAI_API_KEY": KEY, "IMAGEBOT_HOME": str(home), "IMAGEBOT_DATA_DIR": str(tmp_path)},
        require_discord=False,
    )
    assert absolute.data_dir == tmp_path


def test_the_retired_per_member_setting_is_named_with_its_replacement(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # One in-flight limit: the server's (/quota in-flight); an old .env line must not pass silently.
    env = {"OPENAI_API_KEY": KEY, "IMAGEBOT_MAX_JOBS_PER_MEMBER": "5"}
    with caplog.at_level(logging.WARNING, logger="bot.settings"):
        settings = Settings.from_env(env, require_discord=False)
    assert not hasattr(settings, "max_jobs_per_member")
    (record,) = caplog.records
    assert "IMAGEBOT_MAX_JOBS_PER_MEMBER is no longer used" in record.getMessage()
    assert "/quota in-flight" in record.getMessage()
