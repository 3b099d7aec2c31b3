"""Logging set-up that can never write a secret, whatever a library puts in a message."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

REDACTED = "[redacted]"
# The password of any URL with credentials (postgresql://user:pw@host, https://u:pw@gateway):
# caught even when it is shorter than the secrets matched literally, or not known to the bot.
_LEARNT: set[str] = set()  # secrets met while running (servers' own API keys)
_URL_PASSWORD = re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]*:)[^/\s@]+@")


class RedactSecrets(logging.Filter):
    """Replaces every known secret, and any URL's password, in a record's final text."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        # Short values would redact common words; URL passwords are caught by the pattern anyway.
        self._secrets = tuple(sorted({s for s in secrets if s and len(s) >= 8}, key=len)[::-1])

    def redact(self, text: str) -> str:
        """``text`` with every secret and URL password replaced by a placeholder."""
        for secret in (*self._secrets, *_LEARNT):
            text = text.replace(secret, REDACTED)
        return _URL_PASSWORD.sub(rf"\1{REDACTED}@", text)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        text = self.redact(message)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if text != message or record.args:
            record.msg, record.args = text, None
        return True


def redact_also(secret: str) -> None:
    """Keep ``secret`` out of every log line from now on (a server's own API key, once known)."""
    if len(secret) >= 8:
        _LEARNT.add(secret)


def setup_logging(level: str, secrets: Iterable[str]) -> None:
    """Log to stderr at ``level`` through a filter that redacts the given secrets."""
    handler = logging.StreamHandler()
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%Y-%m-%d %H:%M:%S")
    )
    handler.addFilter(RedactSecrets(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Their DEBUG lines are whole payloads: member content, and a server's API key as typed into
    # /settings provider, before anyone could know to redact it.
    for name in ("discord.http", "discord.gateway"):
        logging.getLogger(name).setLevel(max(logging.getLevelName(level), logging.INFO))
