"""What a moderator's change reads as: the changed fields of settings or a policy, in words.

Pure, and driven by the dataclass fields: a field added to ``GuildSettings`` or ``QuotaPolicy``
is described without new code. Known fields have their words below; any other reads as its name
with spaces and its value (tuples joined with commas, a bool as on or off, None as "none", or
"unlimited" in a policy, where None means no limit). Fields kept out of ``repr`` are secrets and
only ever read as "hidden".
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from bot import words
from bot.i18n import AUTONYMS, N_, Text, lazy
from bot.store.models import CostKey, RoleRule

Words = Callable[[Any], str]
ANY = "*"  # a CostKey's size or quality that matches any value (bot.quotas.costs.ANY)


class Diff(NamedTuple):
    """One change as it is recorded: what changed, and its words before and after."""

    what: str
    before: str
    after: str


def _listed(values: tuple[object, ...] | list[object], empty: str = "none") -> str:
    return ", ".join(str(v) for v in values) or empty


# Labels with a value in them, recorded filled in (in English); bot/audit_text.py reads them back
# to word them in the reader's language.
ROLE_RULE_FOR = N_("role rule for {role}")
PRICE_FOR = N_("price for {key}")


def _mentions(prefix: str, empty: str) -> Words:
    return lambda ids: ", ".join(f"<{prefix}{i}>" for i in ids) or empty


def _per(credits: int | None, window: str, none: str) -> str:
    return none if credits is None else f"{words.credits(credits)} per {window}"


def cost_key_text(key: CostKey) -> Text:
    """A price key as words: "gpt-image-1, any size, high quality", in the reader's language
    where it is shown (the audit trail records its English, ``describe_cost_key``)."""
    model, size, quality = key
    size_text = lazy("any size") if size == ANY else size
    quality_text = (
        lazy("any quality") if quality == ANY else lazy("{quality} quality", quality=quality)
    )
    return lazy("{model}, {size}, {quality}", model=model, size=size_text, quality=quality_text)


def describe_cost_key(key: CostKey) -> str:
    return str(cost_key_text(key))


def _rule_words(rule: RoleRule | None) -> str:
    if rule is None:
        return "the member limit"
    if rule.kind == "limit" and rule.limit is not None:
        return f"a limit of {words.credits(rule.limit)}"
    return rule.kind


def _price_words(credits: int | None) -> str:
    return "the default price" if credits is None else f"{words.credits(credits)} per image"


# field -> (label, words of its value); labels are stored in English and read in the server's
# language where they are shown (bot/audit_text.py); the values stay as recorded.
FIELDS: Mapping[str, tuple[str, Words]] = {
    "allowed_models": (N_("allowed models"), lambda v: "all" if v is None else _listed(v)),
    "default_model": (N_("default model"), lambda v: v or "the bot's default"),
    "allowed_channel_ids": (N_("channels"), _mentions("#", "every channel")),
    "moderator_role_ids": (N_("moderator roles"), _mentions("@&", "none")),
    "mod_log_channel_id": (N_("moderation log"), lambda v: "off" if v is None else f"<#{v}>"),
    "cooldown_seconds": (
        N_("cooldown"),
        lambda v: words.plural(v, "second", "seconds") if v else "none",
    ),
    "max_in_flight": (N_("requests at a time"), lambda v: "no limit" if v is None else str(v)),
    "moderators_unlimited": (
        N_("moderators"),
        lambda v: "no member limit" if v else "the same limits as everyone",
    ),
    "language": (
        N_("language"),
        lambda v: AUTONYMS.get(v, v) if v else "the server's Discord language",
    ),
}
# Fields read together, as the command that sets them does: (label, fields, words of the object)
GROUPS: tuple[tuple[str, tuple[str, ...], Words], ...] = (
    (
        N_("member limit"),
        ("user_limit", "window"),
        lambda p: _per(p.user_limit, p.window, "no limit"),
    ),
    (
        N_("server budget"),
        ("server_budget", "server_window"),
        lambda p: _per(p.server_budget, p.server_window, "none"),
    ),
)
# Mapping fields, one change per key: field -> (label of a key, words of its value)
KEYED: Mapping[str, tuple[Callable[[Any], str], Words]] = {
    "roles": (lambda role_id: ROLE_RULE_FOR.format(role=f"<@&{role_id}>"), _rule_words),
    "costs": (lambda key: PRICE_FOR.format(key=describe_cost_key(key)), _price_words),
}


def _fallback(none: str) -> Words:
    def words(value: Any) -> str:
        if value is None:
            return none
        if isinstance(value, bool):
            return "on" if value else "off"
        if isinstance(value, tuple | list):
            return _listed(value)
        return str(value)

    return words


def _hidden(value: object) -> str:
    return "none" if value is None else "hidden"


def _field_diffs(field: dataclasses.Field[Any], old: Any, new: Any, none: str) -> list[Diff]:
    label, words = FIELDS.get(field.name, (field.name.replace("_", " "), _fallback(none)))
    if not field.repr:
        words = _hidden
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        key_label, words = KEYED.get(field.name, (lambda k: f"{label} {k}", words))
        return [
            Diff(key_label(k), words(old.get(k)), words(new.get(k)))
            for k in sorted(old.keys() | new.keys())
            if old.get(k) != new.get(k)
        ]
    return [Diff(label, words(old), words(new))]


def field_diffs(old: Any, new: Any, *, none: str = "none") -> list[Diff]:
    """Each changed thing of two dataclasses of one type, in field order (``none``: None's word)."""
    diffs: list[Diff] = []
    done: set[str] = set()
    for field in dataclasses.fields(old):
        name = field.name
        if name == "guild_id" or name in done or getattr(old, name) == getattr(new, name):
            continue
        group = next((g for g in GROUPS if name in g[1]), None)
        if group is not None and (words := group[2])(old) != words(new):
            diffs.append(Diff(group[0], words(old), words(new)))
            done.update(group[1])
            continue
        diffs += _field_diffs(field, getattr(old, name), getattr(new, name), none)
    return diffs


def describe_change(kind: str, old: Any, new: Any, *, none: str = "none") -> Diff | None:
    """The change from ``old`` to ``new`` as one record, or None when nothing changed.

    One changed thing is named by itself ("cooldown": "none" -> "30 seconds"); several are named
    by ``kind`` ("settings", "quota") with each labelled on both sides.
    """
    diffs = field_diffs(old, new, none=none)
    if not diffs:
        return None
    if len(diffs) == 1:
        return diffs[0]
    before = "; ".join(f"{d.what}: {d.before}" for d in diffs)
    after = "; ".join(f"{d.what}: {d.after}" for d in diffs)
    return Diff(kind, before, after)
