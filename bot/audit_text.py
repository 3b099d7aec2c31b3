"""What moderators read about the audit trail: the moderation log post and the /settings list.

Pure functions over stored ``Change`` records; what a change says is decided when it is recorded
(``bot.store.changes``), so this only lays it out.
"""

from __future__ import annotations

from bot.moderation import one_line
from bot.quotas import MemberUsage
from bot.quotas.windows import period_words, relative_time
from bot.store import Change
from bot.store.changes import count

ARROW = "→"
POST_VALUE_LIMIT = 1800  # before and after each, so both fit in one embed description
LINE_VALUE_LIMIT = 200  # in a list: fifty changes fit in the messages /settings changes sends


def actor_text(change: Change) -> str:
    """Who made a change: their mention, or "someone outside Discord" (the CLI, a script)."""
    return "someone outside Discord" if change.actor_id is None else f"<@{change.actor_id}>"


def change_post(change: Change) -> str:
    """A change as the moderation log shows it: who, when, what, then before and after."""
    return "\n".join(
        [
            f"By {actor_text(change)} {relative_time(change.at)}: **{change.what}**",
            f"**Before:** {one_line(change.before, POST_VALUE_LIMIT)}",
            f"**After:** {one_line(change.after, POST_VALUE_LIMIT)}",
        ]
    )


def change_line(change: Change) -> str:
    """One change for a list: "<t:…:f> <@actor> what: before → after"."""
    before = one_line(change.before, LINE_VALUE_LIMIT)
    after = one_line(change.after, LINE_VALUE_LIMIT)
    return f"<t:{int(change.at)}:f> {actor_text(change)} {change.what}: {before} {ARROW} {after}"


def usage_value(usage: MemberUsage) -> str:
    """What a reset changes, as the audit trail records it: "8 credits used today"."""
    window = usage.member
    words = f"{count(window.used, 'credit', 'credits')} used {period_words(window.window)}"
    return f"{words}, cooldown running" if usage.cooldown_until is not None else words
