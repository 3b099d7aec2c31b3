"""Every error the bot can show a user.

Each exception carries a message that is safe to show to a member as is: no upstream text that could
hold a key, no stack trace, no internal names. The message is a ``bot.i18n.Text`` (``lazy(...)``):
``render(locale)`` puts it in the reader's language where it is shown (cogs/common.py
``member_message``), ``str(error)`` is the English for logs. The error's ``kind`` is a short
stable word stored in the audit log and used by tests.
"""

from __future__ import annotations

from collections.abc import Iterable

from bot.i18n import SOURCE, Text, lazy, render


class BotError(Exception):
    """Base of all expected failures; ``str(error)`` is safe to show a user."""

    kind = "error"

    def __init__(self, message: str | Text) -> None:
        self.text = message
        super().__init__(str(message))

    @property
    def message(self) -> str:
        """The English, for logs and tests (``render`` for a member)."""
        return self.render(SOURCE)

    @message.setter
    def message(self, message: str | Text) -> None:
        """Reword the error (a provider's own refusal says more than a generic one)."""
        self.text = message

    def __str__(self) -> str:
        return self.message

    def render(self, locale: str | None) -> str:
        """The message in ``locale`` (a plain string, not catalogued, reads as it is)."""
        return render(locale, self.text)


class ConfigError(BotError):
    """The operator's configuration is missing or invalid; lists every problem at once."""

    kind = "config"

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = tuple(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"The configuration has {len(self.problems)} problem(s):\n{lines}")


class ValidationError(BotError):
    """A request breaks a model's limits; every violation is listed, phrased for a member."""

    kind = "validation"

    def __init__(self, violations: Iterable[str | Text]) -> None:
        self.violations = tuple(violations)
        super().__init__("")
        self.args = (self.message,)

    def render(self, locale: str | None) -> str:
        if len(self.violations) == 1:
            return render(locale, self.violations[0])
        listed = "\n".join(f"- {render(locale, v)}" for v in self.violations)
        return render(locale, lazy("This request can't be sent:\n{violations}", violations=listed))


class ImageInputError(BotError):
    """An input image or mask cannot be used (not an image, corrupt, hostile, too large)."""

    kind = "bad_image"


# --- Images API -------------------------------------------------------------------------------


class APIError(BotError):
    """The Images API failed; subclasses say how, in a member's terms."""

    kind = "api_error"
    retryable = False

    def __init__(
        self,
        message: str | Text,
        *,
        status: int | None = None,
        code: str | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.param = param


class ContentRejected(APIError):
    """The provider's safety system refused the prompt or the images."""

    kind = "content_rejected"


class InvalidRequest(APIError):
    """The provider refused a parameter (named in ``param`` when it says which)."""

    kind = "invalid_request"


class StreamRefused(InvalidRequest):
    """The provider refused ``stream`` / ``partial_images``: nothing was made or billed, so the
    request can be sent again without them."""

    kind = "stream_refused"


class AuthenticationFailed(APIError):
    """The API key is missing, wrong or revoked: the operator must fix it."""

    kind = "auth"


class QuotaExhausted(APIError):
    """The operator's account is out of credit or over its billing limit (never retried)."""

    kind = "billing"


class RateLimited(APIError):
    """The provider asked us to slow down; ``retry_after`` is in seconds when it said."""

    kind = "rate_limited"
    retryable = True

    def __init__(
        self, message: str | Text, *, retry_after: float | None = None, **kw: object
    ) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.retry_after = retry_after


class ModelUnavailable(APIError):
    """This provider does not offer the requested model; ``model`` is the one the bot asked for."""

    kind = "model_unavailable"

    def __init__(self, message: str | Text, *, model: str | None = None, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.model = model


class EndpointMissing(APIError):
    """This provider has no such endpoint (a gateway without variations, a retired route)."""

    kind = "no_endpoint"


class UpstreamUnavailable(APIError):
    """The provider is down or answered with a server error."""

    kind = "upstream_down"
    retryable = True


class UpstreamTimeout(APIError):
    """The provider did not answer in time."""

    kind = "timeout"
    retryable = True


class BadResponse(APIError):
    """The provider answered with something that is not a usable result."""

    kind = "bad_response"


# --- Quotas, policy and jobs -----------------------------------------------------------------


class QuotaExceeded(BotError):
    """A member, role or server has used its credits for the current window."""

    kind = "quota"

    def __init__(
        self, message: str | Text, *, remaining: int = 0, resets_at: float | None = None
    ) -> None:
        super().__init__(message)
        self.remaining = remaining
        self.resets_at = resets_at


class NotAllowed(BotError):
    """Policy forbids this: a blocked role, a disallowed model or channel, a non-moderator."""

    kind = "not_allowed"


class SafetyRefused(BotError):
    """The server's safety settings refuse this request (e.g. less strict filtering outside an
    age-restricted channel); told to the member and to the moderation log."""

    kind = "safety"

    def __init__(self, message: str | Text, *, rule: str | Text = "") -> None:
        super().__init__(message)
        self.rule = rule  # what refused it, for moderators ("blocked word `cat*`"); "" if plain


class PromptBlocked(SafetyRefused):
    """A blocked word or the prompt check refused the prompt, before anything was spent."""

    kind = "blocked"


class Busy(BotError):
    """The job queue is full, a member has too many jobs in flight, or is cooling down."""

    kind = "busy"


class JobNotFound(BotError):
    """A button points to a job that is no longer stored."""

    kind = "job_gone"
