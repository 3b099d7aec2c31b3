"""Which limit applies to a member, and the policy explained in a moderator's words.

Role precedence is "most generous wins", like Discord's own role permissions: among the member's
roles that have an override, unlimited beats any limit, a larger limit beats a smaller one, and
the member is blocked only when every one of those roles is blocked. Overrides replace the
default limit (so a role can lower it, e.g. for newcomers). Moderators follow the same rules
unless the policy's ``moderators_unlimited`` is on; the server budget applies to everyone.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bot.quotas.windows import period_words
from bot.store import QuotaPolicy, RuleKind, Window

_PER: dict[Window, str] = {"hour": "hour", "day": "day", "week": "week", "month": "month"}


def requests(count: int) -> str:
    """ "1 request", "2 requests": how members and moderators read the in-flight limit."""
    return f"{count} request{'' if count == 1 else 's'}"


def in_flight_refusal(max_in_flight: int) -> str:
    """The one message of a member who already has ``max_in_flight`` requests in progress."""
    return (
        f"You already have {requests(max_in_flight)} in progress. "
        "Wait for one to finish, then try again."
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


def describe_policy(policy: QuotaPolicy) -> str:
    """The policy as a short Discord-formatted text for moderators and members."""
    per = _PER[policy.window]
    if policy.user_limit is None:
        member = "Each member: no credit limit"
    else:
        member = f"Each member: {policy.user_limit} credits per {per}"
    extras = []
    if policy.cooldown_seconds:
        extras.append(f"{policy.cooldown_seconds} s between requests")
    if policy.max_in_flight is not None:
        extras.append(f"{requests(policy.max_in_flight)} at a time")
    if extras:
        member += f" ({', '.join(extras)})"
    lines = ["**Image quota**", f"- {member}"]
    if policy.server_budget is None:
        lines.append("- Server budget: none")
    else:
        lines.append(
            f"- Server budget: {policy.server_budget} credits per {_PER[policy.server_window]}"
        )
    lines.append(
        "- Moderators: no member limit"
        if policy.moderators_unlimited
        else "- Moderators: the same limits as everyone"
    )
    if policy.roles:
        lines.append("- Role overrides (the most generous of a member's roles applies):")
        for role_id, rule in sorted(policy.roles.items()):
            text = {"unlimited": "unlimited", "blocked": "blocked"}.get(
                rule.kind, f"{rule.limit} credits per {per}"
            )
            lines.append(f"  - <@&{role_id}>: {text}")
    if policy.costs:
        lines.append("- Custom prices (credits per image):")
        for (model, size, quality), credits in sorted(policy.costs.items()):
            lines.append(f"  - {model} {size} {quality}: {credits}")
    lines.append(
        f"Windows reset on UTC boundaries; usage shown is for {period_words(policy.window)}."
    )
    return "\n".join(lines)
