"""Sealing servers' API keys, and the operator's settings for servers' providers."""

from __future__ import annotations

import pytest

from bot.errors import ConfigError
from bot.keys import KeyBox, KeyUnreadable, last_four, new_secret_key
from bot.settings import Settings

BASE = {"DISCORD_TOKEN": "t" * 30, "OPENAI_API_KEY": "sk-operator-0000"}


def test_a_sealed_key_opens_with_the_same_keys_and_never_shows_the_secret() -> None:
    box = KeyBox([new_secret_key()])
    sealed = box.seal("sk-live-abcdefgh-1234")
    assert "sk-live" not in sealed and "1234" not in sealed
    assert box.open(sealed) == "sk-live-abcdefgh-1234"
    assert repr(box) == "KeyBox(…)"


def test_rotation_keeps_old_seals_readable_until_resealed() -> None:
    old, new = new_secret_key(), new_secret_key()
    sealed = KeyBox([old]).seal("sk-live-abcdefgh-1234")
    both = KeyBox([new, old])
    assert both.open(sealed) == "sk-live-abcdefgh-1234"
    assert both.needs_rotation(sealed)
    fresh = both.rotate(sealed)
    assert not both.needs_rotation(fresh)
    assert KeyBox([new]).open(fresh) == "sk-live-abcdefgh-1234"
    with pytest.raises(KeyUnreadable):
        KeyBox([new]).open(sealed)


def test_last_four_shows_nothing_of_a_short_key() -> None:
    assert last_four("sk-live-abcdefgh-1234") == "…1234"
    assert last_four("short") == "…"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("all", None), ("none", ()), ("123, 456", (123, 456))],
)
def test_which_servers_share_the_operators_provider(
    raw: str, expected: tuple[int, ...] | None
) -> None:
    settings = Settings.from_env({**BASE, "IMAGEBOT_SHARED_PROVIDER": raw})
    assert settings.shared_provider == expected
    assert settings.shares_provider_with(123) == (expected is None or 123 in expected)


def test_bad_secret_keys_are_refused_without_being_echoed() -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({**BASE, "IMAGEBOT_SECRET_KEYS": "not-a-fernet-key-SECRET"})
    assert "IMAGEBOT_SECRET_KEYS" in str(caught.value)
    assert "SECRET" not in str(caught.value).replace("IMAGEBOT_SECRET_KEYS", "")


def test_secret_keys_are_kept_out_of_logs_and_repr() -> None:
    key = new_secret_key()
    settings = Settings.from_env({**BASE, "IMAGEBOT_SECRET_KEYS": f"{key},{new_secret_key()}"})
    assert key in settings.secrets
    assert key not in repr(settings)


def test_a_bot_for_servers_own_providers_only_needs_no_key_of_its_own() -> None:
    env = {"DISCORD_TOKEN": "t" * 30, "IMAGEBOT_SHARED_PROVIDER": "none"}
    settings = Settings.from_env({**env, "IMAGEBOT_SECRET_KEYS": new_secret_key()})
    assert settings.openai_api_key == "" and settings.shared_provider == ()
    salt = settings.safety_key()
    assert salt is not None and salt != Settings.from_env(env).safety_key()  # from the sealing key
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):  # the terminal commands need it
        Settings.from_env(env, require_discord=False)
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):  # so does sharing it
        Settings.from_env({"DISCORD_TOKEN": "t" * 30})
