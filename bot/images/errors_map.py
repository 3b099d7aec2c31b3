"""Turn an Images API failure (HTTP status + error body + headers) into one typed, user-safe error.

Upstream text is never copied into a message: it can quote the prompt, echo a key fragment or be
an HTML page from a gateway. Only the ``param`` name is shown, and only when it looks like one.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any

from bot.errors import (
    APIError,
    AuthenticationFailed,
    BadResponse,
    ContentRejected,
    InvalidRequest,
    QuotaExhausted,
    RateLimited,
    UpstreamUnavailable,
)

_SAFE_WORD = re.compile(r"^[A-Za-z0-9_.\-\[\]]{1,64}$")
_SAFETY_CODES = frozenset({"content_policy_violation", "moderation_blocked"})
_QUOTA_CODES = frozenset({"insufficient_quota", "billing_hard_limit_reached"})
_UNAVAILABLE = frozenset({408, 409, 500, 502, 503, 504})

CONTENT_REJECTED = (
    "The image service's safety system rejected this request. "
    "Try rephrasing the prompt or using different images."
)
AUTH_FAILED = "The bot's API key was rejected; tell the server owner."
QUOTA_EXHAUSTED = "The bot's image credits have run out; tell the server owner."
RATE_LIMITED = "The image service is busy right now; try again in a moment."
UNAVAILABLE = "The image service is having trouble right now; try again later."
NOT_FOUND = "The image service does not offer this model or operation."
TOO_LARGE = "The images sent were too large for the image service."
UNREADABLE = "The image service sent a reply the bot could not read."


def safe_word(value: object) -> str | None:
    """``value`` if it is a short identifier-like string (a param name or code), else None."""
    if isinstance(value, str) and _SAFE_WORD.match(value):
        return value
    return None


def parse_error_body(body: bytes) -> dict[str, str | None]:
    """The ``{message, type, param, code}`` of an error body; empty values when it is not JSON."""
    fields: dict[str, str | None] = {"message": None, "type": None, "param": None, "code": None}
    try:
        payload: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return fields  # an HTML page from a proxy, a truncated body...
    error = payload.get("error", payload) if isinstance(payload, dict) else None
    if isinstance(error, str):  # some gateways answer {"error": "text"}
        fields["message"] = error
    elif isinstance(error, dict):
        for key in fields:
            value = error.get(key)
            fields[key] = value if isinstance(value, str) else None
    return fields


def retry_after_seconds(headers: Mapping[str, str], cap: float) -> float | None:
    """Seconds the server asked to wait (``retry-after-ms`` or ``Retry-After``), capped."""
    delay: float | None = None
    raw_ms = headers.get("retry-after-ms")
    raw = headers.get("Retry-After")
    if raw_ms is not None:
        delay = _float(raw_ms)
        delay = None if delay is None else delay / 1000
    if delay is None and raw is not None:
        delay = _float(raw)
        if delay is None:
            try:
                delay = parsedate_to_datetime(raw).timestamp() - time.time()
            except (TypeError, ValueError, IndexError):
                delay = None
    if delay is None:
        return None
    return min(max(delay, 0.0), cap)


def map_error(
    status: int,
    error: Mapping[str, str | None],
    headers: Mapping[str, str] | None = None,
    *,
    retry_cap: float = 30.0,
) -> APIError:
    """The one place where an HTTP failure becomes a typed error with a message safe for members."""
    code = safe_word(error.get("code"))
    param = safe_word(error.get("param"))
    kind = error.get("type") or ""
    message = (error.get("message") or "").lower()
    kw: dict[str, Any] = {"status": status, "code": code, "param": param}
    if code in _QUOTA_CODES or kind == "insufficient_quota":
        return QuotaExhausted(QUOTA_EXHAUSTED, **kw)
    if code in _SAFETY_CODES or (kind == "image_generation_user_error" and "safety" in message):
        return ContentRejected(CONTENT_REJECTED, **kw)
    if status in (401, 403):
        return AuthenticationFailed(AUTH_FAILED, **kw)
    if status == 429:
        # The member hears the whole wait the service asked for; our own retry waits are capped.
        wait = retry_after_seconds(headers or {}, float("inf"))
        delay = None if wait is None else min(wait, retry_cap)
        return RateLimited(_rate_limited(wait), retry_after=delay, **kw)
    if status in _UNAVAILABLE or status >= 500:
        return UpstreamUnavailable(UNAVAILABLE, **kw)
    if status == 404:
        return InvalidRequest(NOT_FOUND, **kw)
    if status == 413:
        return InvalidRequest(TOO_LARGE, **kw)
    if 400 <= status < 500:
        detail = f" (the `{param}` setting)" if param else ""
        return InvalidRequest(f"The image service refused this request{detail}.", **kw)
    return BadResponse(UNREADABLE, **kw)


def _rate_limited(wait: float | None) -> str:
    """The busy message, naming the wait when the service said how long."""
    if wait is None:
        return RATE_LIMITED
    seconds = max(1, math.ceil(wait))
    when = f"{seconds} s" if seconds < 60 else f"{math.ceil(seconds / 60)} min"
    return f"The image service is busy right now; try again in {when}."


def _float(raw: str) -> float | None:
    try:
        value = float(raw.strip())
    except ValueError:
        return None
    return value if value == value and value not in (float("inf"), float("-inf")) else None
