"""What moderators read about the audit trail: the moderation log post and the /settings list.

Pure functions over stored ``Change`` records; what a change says is decided when it is recorded
(``bot.store.changes``), in English, so this only lays it out and words its label in the reader's
language: a label the catalogs name, or one made from a template below ("usage reset for <@5>"),
reads translated; the values before and after read as they were recorded.
"""

from __future__ import annotations

import re

from bot.i18n import N_, SOURCE, t
from bot.moderation import one_line
from bot.quotas import MemberUsage
from bot.quotas.windows import period_words, relative_time
from bot.store import Change
from bot.store.changes import PRICE_FOR, ROLE_RULE_FOR
from bot.words import credits

ARROW = "→"
POST_VALUE_LIMIT = 1800  # before and after each, so both fit in one embed description
LINE_VALUE_LIMIT = 200  # in a list: fifty changes fit in the messages /settings changes sends
# Labels recorded with a value in them: /quota reset's, and bot.store.changes' per-key labels.
USAGE_RESET = N_("usage reset for {member}")
LABEL_TEMPLATES = (USAGE_RESET, ROLE_RULE_FOR, PRICE_FOR)


def _pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"\{(\w+)\}", template)  # text, name, text, name, ..., text
    return re.compile(
        "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>.+)" for i, p in enumerate(parts)) + r"\Z"
    )


_PATTERNS = tuple((template, _pattern(template)) for template in LABEL_TEMPLATES)


def label_text(what: str, locale: str = SOURCE) -> str:
    """A change's recorded label in ``locale``: "usage reset for <@5>" reads "сброс расхода
    для <@5>" in Russian; a label no catalog knows reads as recorded."""
    for template, pattern in _PATTERNS:
        found = pattern.match(what)
        if found:
            return t(locale, template, **found.groupdict())
    return t(locale, what)


def actor_text(change: Change, locale: str = SOURCE) -> str:
    """Who made a change: their mention, or "someone outside Discord" (the CLI, a script)."""
    if change.actor_id is None:
        return t(locale, "someone outside Discord")
    return f"<@{change.actor_id}>"


def change_post(change: Change, locale: str = SOURCE) -> str:
    """A change as the moderation log shows it, in the server's ``locale``: who, when, what,
    then before and after. What changed reads in ``locale`` (``label_text``); its values read
    as they were recorded."""
    who, when = actor_text(change, locale), relative_time(change.at)
    before = one_line(change.before, POST_VALUE_LIMIT)
    after = one_line(change.after, POST_VALUE_LIMIT)
    what = label_text(change.what, locale)
    return "\n".join(
        [
            t(locale, "By {who} {when}: **{what}**", who=who, when=when, what=what),
            t(locale, "**Before:** {value}", value=before),
            t(locale, "**After:** {value}", value=after),
        ]
    )


def change_line(change: Change, locale: str = SOURCE) -> str:
    """One change for a list, in the moderator's ``locale``: "<t:…:f> <@actor> what: before →
    after" (the values as recorded)."""
    before = one_line(change.before, LINE_VALUE_LIMIT)
    after = one_line(change.after, LINE_VALUE_LIMIT)
    who, what = actor_text(change, locale), label_text(change.what, locale)
    return f"<t:{int(change.at)}:f> {who} {what}: {before} {ARROW} {after}"


def usage_value(usage: MemberUsage) -> str:
    """What a reset changes, as the audit trail records it (in English, as every stored value
    is): "8 credits used today"."""
    window = usage.member
    words = f"{credits(window.used)} used {period_words(window.window)}"
    return f"{words}, cooldown running" if usage.cooldown_until is not None else words
