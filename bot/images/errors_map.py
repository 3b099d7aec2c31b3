"""Turn an Images API failure into one typed, user-safe error, whoever relays it.

Providers and gateways say the same thing in different places: OpenAI in ``code``; LiteLLM in
``type`` or only in its wrapped message (its ``code`` is the HTTP status as a string, and on edits
the upstream's JSON sits inside the message); new-api / one-api relays inside a 200 body. So each
meaning below lists every status, type, code and phrase known to carry it, and the first meaning
that matches wins: ``map_error`` is the only place that decides what a failure means.

Upstream text is never copied into a message: it can quote the prompt, echo a key fragment or be
an HTML page from a gateway. Only a ``param`` name is shown, and only when it looks like one.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

from bot.errors import (
    APIError,
    AuthenticationFailed,
    BadResponse,
    ContentRejected,
    EndpointMissing,
    InvalidRequest,
    ModelUnavailable,
    QuotaExhausted,
    RateLimited,
    StreamRefused,
    UpstreamUnavailable,
)
from bot.i18n import Text, lazy

ErrorFields = dict[str, str | None]  # the {message, type, param, code} of an error body

CONTENT_REJECTED = lazy(
    "The image service's safety system rejected this request. "
    "Try rephrasing the prompt or using different images."
)
AUTH_FAILED = lazy("The bot's API key was rejected; tell the server owner.")
QUOTA_EXHAUSTED = lazy("The bot's image credits have run out; tell the server owner.")
RATE_LIMITED = lazy("The image service is busy right now; try again in a moment.")
UNAVAILABLE = lazy("The image service is having trouble right now; try again later.")
NOT_FOUND = lazy("The image service does not offer this model or operation.")
NO_MODEL = lazy("The image service does not offer this model; try another one.")
NO_ENDPOINT = lazy(
    "The image service the bot uses does not offer this operation; try another command."
)
TOO_LARGE = lazy("The images sent were too large for the image service.")
UNREADABLE = lazy("The image service sent a reply the bot could not read.")
TOO_BIG = lazy("The image service returned an image larger than the bot accepts.")
STREAM_REFUSED = lazy("The image service can't send previews of this model's images.")
REFUSED = lazy("The image service refused this request.")

_SAFE_WORD = re.compile(r"^[A-Za-z0-9_.\-\[\]]{1,64}$")
_NOT_A_VALUE = frozenset({"", "none", "null", "undefined"})  # LiteLLM sends param "None"
_UNAVAILABLE = frozenset({408, 409})
_HOLD_CEILING = 300.0  # a relay's absurd Retry-After must not hold the bot's queue for hours
_SMALL_BODY = 64 * 1024  # an error inside a 200 body is small; an answer with images is not
_EMBEDDED = re.compile(r"\{\s*\"error\"\s*:")
_PARAM_IN_TEXT = (
    re.compile(r"setting `([a-z0-9_\[\]]{1,64})` is not supported"),  # UnsupportedParamsError
    re.compile(r"does not support parameters?:?\s*[\[{(]\s*['\"]([a-z0-9_\[\]]{1,64})['\"]"),
)
_WAIT_LEAD = re.compile(r"(?:try again|retry) (?:in|after)\s*")
_WAIT_PART = re.compile(
    r"(\d+(?:\.\d+)?)\s*(ms|milliseconds?|seconds?|secs?|s|minutes?|mins?|m|hours?|h)(?![a-z])"
    r"[\s,]*(?:and\s*)?"
)
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}
# Header, unit: the plain ones first, then what LiteLLM relays from its upstream on edits.
_WAIT_HEADERS = (
    ("retry-after-ms", 0.001),
    ("retry-after", 1.0),
    ("llm_provider-retry-after-ms", 0.001),
    ("llm_provider-retry-after", 1.0),
)


@dataclass(frozen=True, slots=True)
class _Said:
    """What one failure says, lower-cased: the status it means, its type, code and words."""

    status: int
    type: str
    code: str
    text: str
    bare: bool  # neither type nor code: a web server's or router's answer, not an API error
    param: str = ""


@dataclass(frozen=True, slots=True)
class _Meaning:
    """One meaning a failure can have, and every way providers are known to say it."""

    error: type[APIError]
    statuses: frozenset[int] = frozenset()  # statuses that mean this by themselves
    types: frozenset[str] = frozenset()
    codes: frozenset[str] = frozenset()
    phrases: tuple[str, ...] = ()  # lower-case substrings of the message
    bare: bool = False  # an answer with no type and no code means this too
    typed: tuple[tuple[str, str], ...] = ()  # (type, phrase): a type whose message says this
    only: frozenset[int] | None = None  # the statuses this meaning can come with
    params: frozenset[str] = frozenset()  # a refusal naming one of these parameters

    def matches(self, said: _Said) -> bool:
        """Whether the failure says this, by any of its signals."""
        if self.only is not None and said.status not in self.only:
            return False
        return (
            said.status in self.statuses
            or said.type in self.types
            or said.code in self.codes
            or (self.bare and said.bare)
            or said.param in self.params
            or any(phrase in said.text for phrase in self.phrases)
            or any(said.type == type_ and phrase in said.text for type_, phrase in self.typed)
        )


_ANY = frozenset(range(100, 600))
# A 429's message can list why LiteLLM cooled a model down (another member's refusal, a bad
# upstream key): only its quota words are about this request too.
_NOT_THROTTLED = _ANY - {429}
_REFUSALS = frozenset(range(200, 300)) | (frozenset(range(400, 500)) - {429})
# fmt: off
_MEANINGS = (
    _Meaning(
        QuotaExhausted,
        statuses=frozenset({402}),
        types=frozenset({"insufficient_quota"}),
        codes=frozenset({"insufficient_quota", "billing_hard_limit_reached", "billing_not_active",
                         "insufficient_user_quota", "insufficient_balance",
                         "pre_consume_token_quota_failed"}),
        phrases=("exceeded your current quota", "insufficient_quota", "insufficient_user_quota",
                 "billing hard limit", "billing_hard_limit", "insufficient balance",
                 "insufficient_balance", "insufficient credit", "credit balance is too low",
                 "余额不足", "额度不足", "额度已用尽"),
    ),
    _Meaning(
        ContentRejected,
        codes=frozenset({"content_policy_violation", "moderation_blocked", "content_filter",
                         "sensitive_words_detected"}),
        phrases=("content_policy_violation", "contentpolicyviolation", "moderation_blocked",
                 "safety system", "content_filter", "responsibleaipolicyviolation",
                 "sensitive_words_detected", "敏感词"),
        typed=(("image_generation_user_error", "safety"),
               ("image_generation_user_error", "moderation")),
        only=_REFUSALS,
    ),
    _Meaning(
        ModelUnavailable,
        codes=frozenset({"model_not_found"}),
        phrases=("invalid model name", "model_not_found", "model not found", "no such model",
                 "does not exist or you do not have access", "unknown model", "无可用渠道"),
        only=_NOT_THROTTLED,
    ),
    _Meaning(
        AuthenticationFailed,
        statuses=frozenset({401, 403}),
        types=frozenset({"authentication_error", "auth_error", "no_db_connection"}),
        codes=frozenset({"invalid_api_key", "no_db_connection"}),
        phrases=("incorrect api key", "invalid api key", "no connected db", "无效的令牌"),
        only=_NOT_THROTTLED,
    ),
    _Meaning(
        StreamRefused,  # OpenAI for dall-e, relays that can't stream (new-api: "stream is not ...")
        params=frozenset({"stream", "partial_images"}),
        phrases=("unknown parameter: 'stream'", "unknown parameter: 'partial_images'",
                 "stream is not supported", "streaming is not supported",
                 "does not support streaming", "stream mode is not supported"),
        only=_REFUSALS,
    ),
    _Meaning(
        RateLimited,
        statuses=frozenset({429}),
        types=frozenset({"throttling_error", "rate_limit_error", "all_deployments_in_cooldown"}),
        codes=frozenset({"rate_limit_exceeded", "all_deployments_in_cooldown"}),
        phrases=("rate limit", "too many requests", "no deployments available"),
    ),
    _Meaning(
        EndpointMissing,
        statuses=frozenset({405, 410}),
        phrases=("invalid url", "unrecognized request url", "no longer accepts requests"),
        bare=True,  # FastAPI's {"detail": "Not Found"}, an HTML or empty 404
        only=frozenset({404, 405, 410}),
    ),
)
# fmt: on
_MESSAGES: dict[type[APIError], Text] = {
    QuotaExhausted: QUOTA_EXHAUSTED,
    ContentRejected: CONTENT_REJECTED,
    AuthenticationFailed: AUTH_FAILED,
    EndpointMissing: NO_ENDPOINT,
    StreamRefused: STREAM_REFUSED,
}


def map_error(
    status: int,
    error: Mapping[str, str | None],
    headers: Mapping[str, str] | None = None,
    *,
    model: str | None = None,
) -> APIError:
    """The one place where a failure (an error status, or an error in a 2xx body) gets a type.

    ``model`` is the model the request asked for; a ``ModelUnavailable`` names it.
    """
    said, code, param = _read(status, error)
    kw: dict[str, Any] = {"status": status, "code": code, "param": param}
    meaning = next((m.error for m in _MEANINGS if m.matches(said)), None)
    if meaning is RateLimited:
        wait = wait_hint(headers or {}, said.text)
        hold = None if wait is None else min(wait, _HOLD_CEILING)
        return RateLimited(_rate_limited(wait), retry_after=hold, **kw)
    if meaning is ModelUnavailable:
        name = safe_word(model)
        message = (
            lazy("The image service does not offer `{model}`; try another model.", model=name)
            if name
            else NO_MODEL
        )
        return ModelUnavailable(message, model=model, **kw)
    if meaning is not None:
        return meaning(_MESSAGES[meaning], **kw)
    status = said.status
    if 200 <= status < 300:  # an error in a 2xx body that says nothing more specific
        status = 400 if "invalid_request" in said.type else 500
    if status in _UNAVAILABLE or status >= 500:
        return UpstreamUnavailable(UNAVAILABLE, **kw)
    if status == 404:
        return InvalidRequest(NOT_FOUND, **kw)
    if status == 413:
        return InvalidRequest(TOO_LARGE, **kw)
    if 400 <= status < 500:
        if param:
            refused = lazy(
                "The image service refused this request (the `{param}` setting).", param=param
            )
            return InvalidRequest(refused, **kw)
        return InvalidRequest(REFUSED, **kw)
    return BadResponse(UNREADABLE, **kw)


def safe_word(value: object) -> str | None:
    """``value`` if it is a short identifier-like string (a param name or code), else None."""
    if isinstance(value, str) and _SAFE_WORD.match(value) and value.lower() not in _NOT_A_VALUE:
        return value
    return None


def parse_error_body(body: bytes) -> ErrorFields:
    """The ``{message, type, param, code}`` of an error body; empty values when it is not JSON."""
    try:
        payload: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        payload = None  # an HTML page from a proxy, a truncated body...
    return _fields(payload)


def error_in_body(chunks: Sequence[bytes]) -> ErrorFields | None:
    """The error of a 2xx body that holds one and no images (new-api, one-api), else None."""
    if sum(len(chunk) for chunk in chunks) > _SMALL_BODY:
        return None
    body = b"".join(chunks)
    if b'"error"' not in body:
        return None
    try:
        payload: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None  # the success parse says what is wrong with it
    if not isinstance(payload, dict) or payload.get("data"):
        return None
    error = payload.get("error")
    return _fields(payload) if isinstance(error, dict | str) and error else None


def error_fields(payload: Any) -> ErrorFields:
    """The ``{message, type, param, code}`` of an already parsed error (a stream's error event)."""
    return _fields(payload)


def wait_hint(headers: Mapping[str, str], text: str = "") -> float | None:
    """Seconds the service asked to wait: a retry header (LiteLLM's relayed ones too), or its words."""
    lowered = {name.lower(): value for name, value in headers.items()}
    for name, unit in _WAIT_HEADERS:
        raw = lowered.get(name)
        delay = None if raw is None else _header_seconds(raw, unit)
        if delay is not None:
            return max(delay, 0.0)
    return _wait_in_text(text.lower())


# --- reading a failure --------------------------------------------------------------------------


def _read(status: int, error: Mapping[str, str | None]) -> tuple[_Said, str | None, str | None]:
    """What the failure says, and its code and param as worth keeping on the error."""
    message = error.get("message") or ""
    inner = _embedded(message)

    def pick(key: str) -> str | None:
        outer = error.get(key)
        if outer and outer.lower() not in _NOT_A_VALUE and not outer.isdigit():
            return outer
        return inner.get(key)

    text = message.lower()
    type_, code = (pick("type") or "").lower(), pick("code")
    param = safe_word(pick("param")) or next(
        (m[1] for p in _PARAM_IN_TEXT if (m := p.search(text)) is not None), None
    )
    raw_code = error.get("code") or ""
    bare = not (error.get("type") or raw_code)
    said = _Said(
        _meant_status(status, raw_code), type_, (code or "").lower(), text, bare, param or ""
    )
    return said, safe_word(code) or safe_word(raw_code), param


def _meant_status(status: int, code: str) -> int:
    """The status an error in a 2xx body stands for, when its ``code`` is one (as LiteLLM's)."""
    if 200 <= status < 300 and code.isdigit() and 400 <= int(code) < 600:
        return int(code)
    return status


def _fields(payload: Any) -> ErrorFields:
    fields: ErrorFields = {"message": None, "type": None, "param": None, "code": None}
    error = payload.get("error", payload) if isinstance(payload, dict) else None
    if isinstance(error, str):  # some gateways answer {"error": "text"}
        fields["message"] = error
    elif isinstance(error, dict):
        for key in fields:
            value = error.get(key)
            if isinstance(value, int) and not isinstance(value, bool):
                value = str(value)  # relays that send the code as a number
            fields[key] = value if isinstance(value, str) else None
        if fields["message"] is None and isinstance(error.get("detail"), str):
            fields["message"] = error["detail"]  # FastAPI's {"detail": "Not Found"}
    return fields


def _embedded(message: str) -> ErrorFields:
    """The fields of an upstream error JSON quoted inside a gateway's message (LiteLLM edits)."""
    found = _EMBEDDED.search(message)
    if found is None:
        return _fields(None)
    try:
        payload, _ = json.JSONDecoder().raw_decode(message, found.start())
    except ValueError:
        return _fields(None)
    return _fields(payload)


def _header_seconds(raw: str, unit: float) -> float | None:
    value = _float(raw)
    if value is not None:
        return value * unit
    if unit != 1.0:
        return None
    try:
        return parsedate_to_datetime(raw).timestamp() - time.time()
    except (TypeError, ValueError, IndexError):
        return None


def _wait_in_text(text: str) -> float | None:
    """The wait a message names ("try again in 5 seconds", OpenAI's "in 1m12.5s", "in 6ms")."""
    lead = _WAIT_LEAD.search(text)
    if lead is None:
        return None
    total, at, found = 0.0, lead.end(), False
    while (part := _WAIT_PART.match(text, at)) is not None:
        unit = part[2]
        scale = 0.001 if unit == "ms" or unit.startswith("milli") else _UNITS[unit[0]]
        total += float(part[1]) * scale
        at, found = part.end(), True
    return total if found else None


def _rate_limited(wait: float | None) -> Text:
    """The busy message, naming the wait when the service said how long."""
    if wait is None:
        return RATE_LIMITED
    seconds = max(1, math.ceil(wait))
    if seconds < 60:
        return lazy(
            "The image service is busy right now; try again in {seconds} s.", seconds=seconds
        )
    minutes = math.ceil(seconds / 60)
    return lazy("The image service is busy right now; try again in {minutes} min.", minutes=minutes)


def _float(raw: str) -> float | None:
    try:
        value = float(raw.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None
