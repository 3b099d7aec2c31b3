"""Typed rows of the store: jobs, per-guild settings, quota policy, reservations and the ledger."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Literal, Protocol

JobStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]
JobOperation = Literal["generate", "edit", "variation"]
Window = Literal["hour", "day", "week", "month"]
WINDOWS: tuple[Window, ...] = ("hour", "day", "week", "month")
RuleKind = Literal["limit", "unlimited", "blocked"]
ReservationStatus = Literal["pending", "committed", "refunded"]
Scope = Literal["user", "server"]
# (model, size, quality); "*" in size or quality matches any value.
CostKey = tuple[str, str, str]

IN_FLIGHT: frozenset[JobStatus] = frozenset({"queued", "running"})


def _frozen(mapping: Mapping[Any, Any] | None = None) -> Mapping[Any, Any]:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True, slots=True)
class TokenUsage:
    """Token counts the API reported for one job (zero when it reported none)."""

    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0


@dataclass(frozen=True, slots=True)
class NewJob:
    """What the service knows when a member asks for images."""

    guild_id: int
    channel_id: int
    user_id: int
    operation: JobOperation
    model: str
    prompt: str | None = None
    params: Mapping[str, Any] = field(default_factory=_frozen)
    credits: int = 0
    reservation_id: int | None = None
    interaction_expires_at: float | None = None
    requester_name: str = ""  # display name at the time of the request


@dataclass(frozen=True, slots=True)
class Job:
    """One request in the audit log; interaction tokens are secrets and never stored."""

    id: int
    guild_id: int
    channel_id: int
    user_id: int
    operation: JobOperation
    model: str
    prompt: str | None
    params: Mapping[str, Any]
    status: JobStatus
    created_at: float
    revised_prompt: str | None = None
    error_kind: str | None = None
    credits: int = 0
    usage: TokenUsage = TokenUsage()
    started_at: float | None = None
    finished_at: float | None = None
    result_channel_id: int | None = None
    result_message_id: int | None = None
    interaction_expires_at: float | None = None
    reservation_id: int | None = None
    requester_name: str = ""  # display name at the time of the request ("" if not known)


@dataclass(frozen=True, slots=True)
class GuildSettings:
    """A guild's settings; a guild that never saved any gets these defaults."""

    guild_id: int
    allowed_models: tuple[str, ...] | None = None  # None: every model of the catalog
    default_model: str | None = None  # None: the operator's default
    allowed_channel_ids: tuple[int, ...] = ()  # empty: every channel
    moderator_role_ids: tuple[int, ...] = ()
    mod_log_channel_id: int | None = None
    low_moderation: bool = False  # moderation "low" in age-restricted channels (and only there)
    spoilers: bool = False  # results outside age-restricted channels are posted as spoilers
    prompt_check: bool = False  # prompts go through the provider's moderation endpoint first
    blocked_words: tuple[str, ...] = ()  # lower-case words or phrases; "*" is a wildcard
    language: str | None = None  # a catalog (bot/i18n.py); None: the server's Discord language


@dataclass(frozen=True, slots=True)
class RoleRule:
    """A role's override of the per-member limit: a limit, unlimited, or blocked."""

    kind: RuleKind
    limit: int | None = None

    def __post_init__(self) -> None:
        if (self.kind == "limit") != (self.limit is not None):
            raise ValueError("a 'limit' rule needs a limit; other rules take none")
        if self.limit is not None and self.limit < 0:
            raise ValueError("a limit can't be negative")


@dataclass(frozen=True, slots=True)
class QuotaPolicy:
    """A guild's quota policy: one row plus role rules and price overrides, defaults in code."""

    guild_id: int
    window: Window = "day"
    user_limit: int | None = 20  # credits per member per window; None: unlimited
    server_budget: int | None = None  # credits per server_window for the whole guild
    server_window: Window = "month"
    cooldown_seconds: int = 0
    max_in_flight: int | None = 2  # None: no cap
    moderators_unlimited: bool = False
    roles: Mapping[int, RoleRule] = field(default_factory=_frozen)
    costs: Mapping[CostKey, int] = field(default_factory=_frozen)

    def __post_init__(self) -> None:
        if self.max_in_flight is not None and self.max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        if self.cooldown_seconds < 0:
            raise ValueError("cooldown_seconds can't be negative")
        for value in (self.user_limit, self.server_budget, *self.costs.values()):
            if value is not None and value < 0:
                raise ValueError("limits and prices can't be negative")
        object.__setattr__(self, "roles", _frozen(self.roles))
        object.__setattr__(self, "costs", _frozen(self.costs))


@dataclass(frozen=True, slots=True)
class ReservationRequest:
    """Everything the store needs to reserve credits in one transaction."""

    guild_id: int
    user_id: int
    credits: int
    user_limit: int | None
    server_budget: int | None
    window: Window
    window_start: int
    server_window: Window
    server_window_start: int
    max_in_flight: int | None
    cooldown_seconds: float
    model: str
    size: str | None
    quality: str | None
    n: int
    cost_per_image: int
    now: float
    expires_at: float
    job_id: int | None = None


@dataclass(frozen=True, slots=True)
class Reservation:
    """Credits held for one job until it is committed or refunded."""

    id: int
    guild_id: int
    user_id: int
    job_id: int | None
    model: str
    size: str | None
    quality: str | None
    n: int
    cost_per_image: int
    credits: int
    status: ReservationStatus
    window: Window
    window_start: int
    server_window: Window
    server_window_start: int
    created_at: float
    expires_at: float
    charged: int = 0
    images: int = 0
    usage: TokenUsage = TokenUsage()
    settled_at: float | None = None
    cost_usd: Decimal | None = None  # at list prices when settled (bot.quotas.money); None: unknown


@dataclass(frozen=True, slots=True)
class Change:
    """One moderator change in the audit log: who, when, what, and readable before and after."""

    id: int
    guild_id: int
    actor_id: int | None  # None: made outside Discord (the CLI, a test), so nobody is known
    at: float
    what: str
    before: str
    after: str


@dataclass(frozen=True, slots=True)
class Preset:
    """A server's style preset: its template holds ``{prompt}`` once, where the member's goes."""

    guild_id: int
    name: str
    template: str
    model: str | None = None  # None: the member's or the server's model
    quality: str | None = None  # None: the member's or the model's quality
    created_by: int | None = None
    created_at: float = 0.0


@dataclass(frozen=True, slots=True)
class Preferences:
    """A member's defaults on a server, used where a command leaves them out; None: none."""

    guild_id: int
    user_id: int
    model: str | None = None
    aspect: str | None = None
    quality: str | None = None
    preset: str | None = None


@dataclass(frozen=True, slots=True)
class Favourite:
    """A job a member saved with the ⭐ button, and when they saved it."""

    guild_id: int
    user_id: int
    job: Job
    saved_at: float


ReserveFailure = Literal["in_flight", "cooldown", "member_quota", "server_quota"]


@dataclass(frozen=True, slots=True)
class MemberState:
    """A member's jobs in flight and when they last reserved credits."""

    in_flight: int = 0
    last_reserved_at: float | None = None


@dataclass(frozen=True, slots=True)
class Spend:
    """Credits and images spent by one member or one model."""

    key: int | str
    credits: int
    images: int


class UsageLike(Protocol):
    """Anything with token counts, such as ``bot.images.types.Usage``."""

    @property
    def input_tokens(self) -> int: ...

    @property
    def output_tokens(self) -> int: ...

    @property
    def total_tokens(self) -> int: ...


def token_usage(usage: UsageLike | None) -> TokenUsage:
    """Copy reported token counts into a ``TokenUsage`` (zeros when none were reported)."""
    if usage is None:
        return TokenUsage()
    return TokenUsage(usage.input_tokens, usage.output_tokens, usage.total_tokens)
