"""The operator's configuration, read once from the environment and `.env`."""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from bot.errors import ConfigError

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.openai.com/v1"
MB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the bot needs to start; secrets are kept out of repr."""

    discord_token: str = field(repr=False)
    openai_api_key: str = field(repr=False)
    openai_base_url: str = DEFAULT_BASE_URL
    default_model: str | None = None  # None: the first usable model of the catalog's preferences
    models_file: Path | None = None
    data_dir: Path = Path("data")
    database_url: str = field(default="", repr=False)  # may carry a password
    request_timeout: float = 120.0
    max_concurrent_requests: int = 4
    max_retries: int = 2
    max_input_mb: float = 25.0
    queue_size: int = 100
    worker_processes: int = 1
    dev_guild_id: int | None = None
    log_level: str = "INFO"
    locale: str = "en"  # the language of servers that chose none and whose Discord's isn't known
    models_refresh_hours: float = 6.0
    max_wait: float = 90.0  # seconds a member may be kept waiting on retries of one request
    safety_identifier: bool = True
    safety_salt: str = field(default="", repr=False)  # "": derived from the API key
    partial_images: int = 2  # previews streamed per image by models that stream; 0: none
    # Servers that may use the operator's provider: None every server, () none, else these ids.
    shared_provider: tuple[int, ...] | None = None
    secret_keys: tuple[str, ...] = field(default=(), repr=False)  # seal servers' own API keys
    private_providers: bool = False  # may a server's provider be on a loopback/private address
    http_port: int | None = None  # /healthz and /metrics; None: no HTTP port
    http_host: str = "127.0.0.1"  # only this machine, unless the operator says otherwise
    shutdown_grace: float = 60.0  # seconds running jobs get to finish on SIGTERM
    # Sharding: the shards of every process together, and those this process runs (None: all).
    # Unset: one process on discord.py's plain client.
    shard_count: int | None = None
    shard_ids: tuple[int, ...] | None = None

    @property
    def max_input_bytes(self) -> int:
        return int(self.max_input_mb * MB)

    def safety_key(self) -> bytes | None:
        """The salt of members' safety identifiers; None when they are turned off."""
        if not self.safety_identifier:
            return None
        if self.safety_salt:
            return self.safety_salt.encode()
        if not self.openai_api_key:  # servers' own providers only: derive from the sealing key
            basis = self.secret_keys[0] if self.secret_keys else self.discord_token
            return hashlib.sha256(b"imagebot-safety-salt:" + basis.encode()).digest()
        # Derived, so it is stable across restarts and never leaves the process; not the key itself.
        return hashlib.sha256(b"imagebot-safety-salt:" + self.openai_api_key.encode()).digest()

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every value the logs must never show: token, key, the database password (both spellings)."""
        password = urlsplit(self.database_url).password or ""
        return (
            self.discord_token,
            self.openai_api_key,
            password,
            unquote(password),
            *self.secret_keys,
        )

    @property
    def other_shards(self) -> bool:
        """Whether other processes run some of the shards (this one was given only some)."""
        return self.shard_ids is not None and len(self.shard_ids) < (self.shard_count or 0)

    def shares_provider_with(self, guild_id: int) -> bool:
        """Whether a server without its own provider may use the operator's."""
        return self.shared_provider is None or guild_id in self.shared_provider

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, *, require_discord: bool = True
    ) -> Settings:
        """Build settings from a mapping (default: os.environ after loading `.env`).

        `.env` is read from IMAGEBOT_HOME (./scripts/run sets it to the checkout), else from the
        current folder; relative paths in the settings resolve from the same folder.
        """
        if env is None:
            from dotenv import load_dotenv

            load_dotenv(_home(os.environ) / ".env", override=False)
            env = os.environ
        return _parse(env, require_discord=require_discord)


def _home(env: Mapping[str, str]) -> Path:
    """The folder the bot's own files are relative to: IMAGEBOT_HOME, else the current folder."""
    return Path(env.get("IMAGEBOT_HOME", "").strip() or ".").expanduser()


# name of the environment variable -> (field, parser); a parser raises ValueError with a reason.
def _positive_float(raw: str) -> float:
    value = float(raw)
    if value <= 0:
        raise ValueError("must be a positive number")
    return value


def _positive_int(raw: str) -> int:
    value = int(raw)
    if value < 1:
        raise ValueError("must be a whole number of at least 1")
    return value


def _non_negative_int(raw: str) -> int:
    value = int(raw)
    if value < 0:
        raise ValueError("must be a whole number of at least 0")
    return value


def _partial_images(raw: str) -> int:
    value = int(raw)
    if not 0 <= value <= 3:
        raise ValueError("must be a whole number from 0 to 3")
    return value


def _port(raw: str) -> int | None:
    value = int(raw)
    if not 0 <= value <= 65535:
        raise ValueError("must be a port number from 1 to 65535 (0 or empty: off)")
    return value or None


def _non_negative_float(raw: str) -> float:
    value = float(raw)
    if value < 0:
        raise ValueError("must be a number of at least 0")
    return value


def _snowflake(raw: str) -> int:
    if not raw.isdigit():
        raise ValueError("must be a Discord id (digits only)")
    return int(raw)


def check_base_url(raw: str) -> str:
    """An API base URL without a trailing slash; ValueError saying what is wrong."""
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an http(s) URL such as https://api.openai.com/v1")
    if parts.username or parts.password:
        # aiohttp can't send those beside the Bearer key, and they would end up in output.
        raise ValueError("must not contain a user name or password; the key goes in OPENAI_API_KEY")
    return raw.rstrip("/")


def _switch(raw: str) -> bool:
    value = raw.lower()
    if value not in ("on", "off", "true", "false", "1", "0", "yes", "no"):
        raise ValueError("must be on or off")
    return value in ("on", "true", "1", "yes")


def _log_level(raw: str) -> str:
    level = raw.upper()
    if not isinstance(logging.getLevelName(level), int):
        raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR")
    return level


def _locale(raw: str) -> str:
    from bot.i18n import LOCALES, catalog_locale

    found = catalog_locale(raw)
    if found is None:
        raise ValueError(f"must be one of {', '.join(LOCALES)}")
    return found


def _database_url(raw: str) -> str:
    if not raw.startswith(("sqlite:///", "postgresql://", "postgres://")):
        raise ValueError("must start with sqlite:/// or postgresql://")
    return raw


def _servers(raw: str) -> tuple[int, ...] | None:
    value = raw.lower()
    if value == "all":
        return None
    if value == "none":
        return ()
    ids = [part.strip() for part in raw.split(",") if part.strip()]
    if not ids or not all(part.isdigit() for part in ids):
        raise ValueError("must be all, none, or comma-separated server ids")
    return tuple(int(part) for part in ids)


def _secret_keys(raw: str) -> tuple[str, ...]:
    keys = tuple(part.strip() for part in raw.split(",") if part.strip())
    from bot.keys import KeyBox

    try:
        KeyBox(keys)
    except ConfigError:
        raise ValueError(
            "must be Fernet keys: make one with ./scripts/run new-secret-key"
        ) from None
    return keys


def _shard_ids(raw: str) -> tuple[int, ...]:
    """ "0-3" or "0,1" or "0-3,8": sorted, each once."""
    ids: set[int] = set()
    for part in (p.strip() for p in raw.split(",")):
        first, dash, last = part.partition("-")
        if not first.strip().isdigit() or (dash and not last.strip().isdigit()):
            raise ValueError("must be shard numbers such as 0-3 or 0,1")
        low, high = int(first), int(last) if dash else int(first)
        if high < low:
            raise ValueError("must give each range low to high, such as 0-3")
        ids.update(range(low, high + 1))
    return tuple(sorted(ids))


def _existing_file(raw: str) -> Path:
    path = Path(raw).expanduser()
    if not path.is_file():
        raise ValueError(f"no file at {path}")
    return path


_VARIABLES: dict[str, tuple[str, Callable[[str], Any]]] = {
    "OPENAI_BASE_URL": ("openai_base_url", check_base_url),
    "IMAGEBOT_DEFAULT_MODEL": ("default_model", str.strip),
    "IMAGEBOT_MODELS_FILE": ("models_file", _existing_file),
    "IMAGEBOT_DATA_DIR": ("data_dir", lambda raw: Path(raw).expanduser()),
    "DATABASE_URL": ("database_url", _database_url),
    "IMAGEBOT_REQUEST_TIMEOUT": ("request_timeout", _positive_float),
    "IMAGEBOT_MAX_CONCURRENT_REQUESTS": ("max_concurrent_requests", _positive_int),
    "IMAGEBOT_MAX_RETRIES": ("max_retries", _non_negative_int),
    "IMAGEBOT_MAX_INPUT_MB": ("max_input_mb", _positive_float),
    "IMAGEBOT_QUEUE_SIZE": ("queue_size", _positive_int),
    "IMAGEBOT_WORKER_PROCESSES": ("worker_processes", _non_negative_int),
    "DEV_GUILD_ID": ("dev_guild_id", _snowflake),
    "LOG_LEVEL": ("log_level", _log_level),
    "IMAGEBOT_LOCALE": ("locale", _locale),
    "IMAGEBOT_MODELS_REFRESH_HOURS": ("models_refresh_hours", _positive_float),
    "IMAGEBOT_MAX_WAIT": ("max_wait", _positive_float),
    "IMAGEBOT_SAFETY_IDENTIFIER": ("safety_identifier", _switch),
    "IMAGEBOT_SAFETY_SALT": ("safety_salt", str.strip),
    "IMAGEBOT_PARTIAL_IMAGES": ("partial_images", _partial_images),
    "IMAGEBOT_SHARED_PROVIDER": ("shared_provider", _servers),
    "IMAGEBOT_SECRET_KEYS": ("secret_keys", _secret_keys),
    "IMAGEBOT_PRIVATE_PROVIDERS": ("private_providers", _switch),
    "IMAGEBOT_HTTP_PORT": ("http_port", _port),
    "IMAGEBOT_HTTP_HOST": ("http_host", str.strip),
    "IMAGEBOT_SHUTDOWN_GRACE": ("shutdown_grace", _non_negative_float),
    "IMAGEBOT_SHARD_COUNT": ("shard_count", _positive_int),
    "IMAGEBOT_SHARD_IDS": ("shard_ids", _shard_ids),
}


# Settings that no longer exist, and what replaced them: said once at start, never silently dropped.
RETIRED = {
    "IMAGEBOT_MAX_JOBS_PER_MEMBER": (
        "moderators set a member's requests at a time per server with /quota in-flight (default 2)"
    ),
}
_PATHS = frozenset({"data_dir", "models_file"})  # relative to IMAGEBOT_HOME when it is set


def _parse(env: Mapping[str, str], *, require_discord: bool) -> Settings:
    problems: list[str] = []
    values: dict[str, Any] = {}
    # A bot that serves only servers with their own provider needs no key of its own (the
    # terminal commands always do: they use the operator's provider).
    keyless = require_discord and env.get("IMAGEBOT_SHARED_PROVIDER", "").strip().lower() == "none"
    for name, attr in (("DISCORD_TOKEN", "discord_token"), ("OPENAI_API_KEY", "openai_api_key")):
        secret = env.get(name, "").strip()
        needed = require_discord if name == "DISCORD_TOKEN" else not keyless
        if not secret and needed:
            problems.append(f"{name} is not set")
        values[attr] = secret
    home = _home(env)
    for name, replacement in RETIRED.items():
        if env.get(name, "").strip():
            log.warning("%s is no longer used: %s", name, replacement)
    for name, (attr, parse) in _VARIABLES.items():
        raw = env.get(name, "").strip()
        if not raw:
            continue
        if attr in _PATHS:
            raw = str(home / Path(raw).expanduser())  # an absolute path stays as it is
        try:
            values[attr] = parse(raw)
        except ValueError as exc:
            # The reason never quotes the value: a misplaced secret must not be echoed.
            reason = str(exc) if not str(exc).startswith(("invalid literal", "could not")) else ""
            problems.append(f"{name} {reason or 'is not a valid value'}")
    problems.extend(_shard_problems(values.get("shard_count"), values.get("shard_ids")))
    if problems:
        raise ConfigError(problems)
    data_dir: Path = values.setdefault("data_dir", home / "data")
    values.setdefault("database_url", f"sqlite:///{data_dir / 'imagebot.sqlite3'}")
    known = {f.name for f in fields(Settings)}
    return Settings(**{k: v for k, v in values.items() if k in known})


def _shard_problems(count: int | None, ids: tuple[int, ...] | None) -> list[str]:
    if ids is None:
        return []
    if count is None:
        return ["IMAGEBOT_SHARD_IDS needs IMAGEBOT_SHARD_COUNT (the shards of all processes)"]
    if ids[-1] >= count:
        return [
            f"IMAGEBOT_SHARD_IDS must be below IMAGEBOT_SHARD_COUNT ({count}): shards count from 0"
        ]
    return []
