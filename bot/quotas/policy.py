"""Which limit applies to a member, and the policy explained in a moderator's words.

Role precedence is "most generous wins", like Discord's own role permissions: among the member's
roles that have an override, unlimited beats any limit, a larger limit beats a smaller one, and
the member is blocked only when every one of those roles is blocked. Overrides replace the
default limit (so a role can lower it, e.g. for newcomers). Moderators follow the same rules
unless the policy's ``moderators_unlimited`` is on; the server budget applies to everyone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.i18n import SOURCE, Text, lazy, lazy_n, render, t, tn
from bot.models import ModelSpec
from bot.quotas.pricing import price_lines
from bot.quotas.windows import credits_per, period_words
from bot.store import QuotaPolicy, RuleKind


def requests(count: int, locale: str = SOURCE) -> str:
    """ "1 request", "2 requests": how members and moderators read the in-flight limit."""
    return tn(locale, "{count} request", "{count} requests", count)


def in_flight_refusal(max_in_flight: int) -> Text:
    """The one message of a member who already has ``max_in_flight`` requests in progress."""
    return lazy_n(
        "You already have {count} request in progress. Wait for it to finish, then try again.",
        "You already have {count} requests in progress. Wait for one to finish, then try again.",
        max_in_flight,
    )


@dataclass(frozen=True, slots=True)
class MemberLimit:
    """The limit that applies to one member, and the role that decided it (None: default)."""

    kind: RuleKind
    limit: int | None = None
    role_id: int | None = None

    @property
    def credits(self) -> int | None:
        """Credits per window, None when unlimited (a blocked member has 0)."""
        return 0 if self.kind == "blocked" else self.limit


def member_limit(
    policy: QuotaPolicy, role_ids: Iterable[int], *, is_moderator: bool = False
) -> MemberLimit:
    """Resolve a member's per-window limit from their roles: the most generous rule wins."""
    if is_moderator and policy.moderators_unlimited:
        return MemberLimit("unlimited")
    rules = [(rid, policy.roles[rid]) for rid in sorted(set(role_ids)) if rid in policy.roles]
    if not rules:
        if policy.user_limit is None:
            return MemberLimit("unlimited")
        return MemberLimit("limit", policy.user_limit)
    for role_id, rule in rules:
        if rule.kind == "unlimited":
            return MemberLimit("unlimited", None, role_id)
    limits = [(rule.limit, role_id) for role_id, rule in rules if rule.limit is not None]
    if limits:
        limit, role_id = max(limits)
        return MemberLimit("limit", limit, role_id)
    return MemberLimit("blocked", None, rules[0][0])


def describe_policy(
    policy: QuotaPolicy, models: Sequence[ModelSpec] = (), locale: str = SOURCE
) -> str:
    """The policy as Discord-formatted lines for moderators and members in their ``locale``,
    defaults marked, then the price list of ``models`` (``pricing.price_lines``). Every line
    stands alone, so a long text can be split between any two lines."""
    lines = [t(locale, "**Image quota**")]
    for limit, same in _limits(policy):
        shown = render(locale, limit)
        lines.append("- " + (t(locale, "{limit} (default)", limit=shown) if same else shown))
    if policy.roles:
        lines.append(t(locale, "- Role overrides (the most generous of a member's roles applies):"))
        for role_id, rule in sorted(policy.roles.items()):
            if rule.kind == "unlimited":
                shown = t(locale, "unlimited")
            elif rule.kind == "blocked":
                shown = t(locale, "blocked")
            else:
                shown = credits_per(rule.limit or 0, policy.window).render(locale)
            lines.append(f"  - <@&{role_id}>: {shown}")
    if policy.costs:
        lines.append(t(locale, "- Prices set here (credits per image; * is any size or quality):"))
        for (model, size, quality), price in sorted(policy.costs.items()):
            lines.append(f"  - {model} {size} {quality}: {price}")
    lines.append(
        t(
            locale,
            "Windows reset on UTC boundaries; usage shown is for {period}.",
            period=period_words(policy.window, locale),
        )
    )
    return "\n".join(lines + price_lines(policy, models, locale))


def _limits(policy: QuotaPolicy) -> list[tuple[Text, bool]]:
    """Each limit in words, and whether it is the default."""
    default = QuotaPolicy(policy.guild_id)
    member = (
        lazy("Each member: no credit limit")
        if policy.user_limit is None
        else lazy("Each member: {limit}", limit=credits_per(policy.user_limit, policy.window))
    )
    at_once = (
        lazy("No limit on requests at a time")
        if policy.max_in_flight is None
        else lazy_n(
            "At most {count} request at a time per member",
            "At most {count} requests at a time per member",
            policy.max_in_flight,
        )
    )
    wait = (
        lazy("{seconds} s between requests", seconds=policy.cooldown_seconds)
        if policy.cooldown_seconds
        else lazy("No wait between requests")
    )
    budget = (
        lazy("Server budget: none")
        if policy.server_budget is None
        else lazy(
            "Server budget: {budget}",
            budget=credits_per(policy.server_budget, policy.server_window),
        )
    )
    moderators = (
        lazy("Moderators: no member limit")
        if policy.moderators_unlimited
        else lazy("Moderators: the same limits as everyone")
    )
    return [
        (member, (policy.user_limit, policy.window) == (default.user_limit, default.window)),
        (at_once, policy.max_in_flight == default.max_in_flight),
        (wait, policy.cooldown_seconds == default.cooldown_seconds),
        (budget, _same_budget(policy, default)),
        (moderators, policy.moderators_unlimited == default.moderators_unlimited),
    ]


def _same_budget(policy: QuotaPolicy, default: QuotaPolicy) -> bool:
    # Without a budget its window means nothing.
    if policy.server_budget != default.server_budget:
        return False
    return policy.server_budget is None or policy.server_window == default.server_window
