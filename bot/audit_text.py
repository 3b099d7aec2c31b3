"""What moderators read about the audit trail: the moderation log post and the /settings list.

Pure functions over stored ``Change`` records; what a change says is decided when it is recorded
(``bot.store.changes``), so this only lays it out.
"""

from __future__ import annotations

from bot.i18n import SOURCE, t
from bot.moderation import one_line
from bot.quotas import MemberUsage
from bot.quotas.windows import period_words, relative_time
from bot.store import Change
from bot.words import credits

ARROW = "→"
POST_VALUE_LIMIT = 1800  # before and after each, so both fit in one embed description
LINE_VALUE_LIMIT = 200  # in a list: fifty changes fit in the messages /settings changes sends


def actor_text(change: Change, locale: str = SOURCE) -> str:
    """Who made a change: their mention, or "someone outside Discord" (the CLI, a script)."""
    if change.actor_id is None:
        return t(locale, "someone outside Discord")
    return f"<@{change.actor_id}>"


def change_post(change: Change, locale: str = SOURCE) -> str:
    """A change as the moderation log shows it, in the server's ``locale``: who, when, what,
    then before and after. What changed reads in ``locale`` when it is one of the labels
    ``bot.store.changes`` marks; its values read as they were recorded."""
    who, when = actor_text(change, locale), relative_time(change.at)
    before = one_line(change.before, POST_VALUE_LIMIT)
    after = one_line(change.after, POST_VALUE_LIMIT)
    return "\n".join(
        [
            t(
                locale,
                "By {who} {when}: **{what}**",
                who=who,
                when=when,
                what=t(locale, change.what),
            ),
            t(locale, "**Before:** {value}", value=before),
            t(locale, "**After:** {value}", value=after),
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
    words = f"{credits(window.used)} used {period_words(window.window)}"
    return f"{words}, cooldown running" if usage.cooldown_until is not None else words
