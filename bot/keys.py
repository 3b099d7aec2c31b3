"""Servers' own API keys, encrypted at rest with keys only the operator holds.

The operator gives one or more Fernet keys in ``IMAGEBOT_SECRET_KEYS`` (comma-separated; make one
with ``./scripts/run new-secret-key``). The first encrypts; every one of them decrypts, so a new key
is put first and the old ones kept until ``rotate`` has re-encrypted every stored key (the bot does
that at start). A stored key is shown only as its last four characters.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from bot.errors import ConfigError


class KeyUnreadable(Exception):
    """A stored key that none of the operator's keys decrypts (a key was dropped too soon)."""


def new_secret_key() -> str:
    """A fresh key for ``IMAGEBOT_SECRET_KEYS``."""
    return Fernet.generate_key().decode()


def last_four(secret: str) -> str:
    """How a stored key is shown: "…abcd" (nothing of a key shorter than 12 characters)."""
    secret = secret.strip()
    return f"…{secret[-4:]}" if len(secret) >= 12 else "…"


class KeyBox:
    """Encrypts and decrypts servers' API keys with the operator's keys (newest first)."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ConfigError(["IMAGEBOT_SECRET_KEYS names no key"])
        try:
            fernets = [Fernet(key.strip().encode()) for key in keys]
        except (ValueError, TypeError):
            # Never quote the value: it is a secret.
            raise ConfigError(
                [
                    "IMAGEBOT_SECRET_KEYS must be Fernet keys: make one with ./scripts/run new-secret-key"
                ]
            ) from None
        self._newest = fernets[0]
        self._fernet = MultiFernet(fernets)

    def __repr__(self) -> str:
        return "KeyBox(…)"

    def seal(self, secret: str) -> str:
        """``secret`` encrypted with the newest key, as text for the database."""
        return self._fernet.encrypt(secret.encode()).decode()

    def open(self, sealed: str) -> str:
        """The secret ``sealed`` holds; ``KeyUnreadable`` when no key decrypts it."""
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken:
            raise KeyUnreadable("no key in IMAGEBOT_SECRET_KEYS decrypts this stored key") from None

    def needs_rotation(self, sealed: str) -> bool:
        """Whether ``sealed`` was encrypted with an older key than the newest."""
        try:
            self._newest.decrypt(sealed.encode())
        except InvalidToken:
            return True
        return False

    def rotate(self, sealed: str) -> str:
        """``sealed`` re-encrypted with the newest key (unchanged secret)."""
        try:
            return self._fernet.rotate(sealed.encode()).decode()
        except InvalidToken:
            raise KeyUnreadable("no key in IMAGEBOT_SECRET_KEYS decrypts this stored key") from None
