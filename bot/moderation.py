"""Moderation without Discord: who moderates, and checked changes to a server's settings
(limits, budgets and role rules: bot/limits.py).

Pure functions; the cogs fetch, call, save and render. Refusals are lazy ``Text`` (put in the
moderator's language where they are shown); what is described for a reply takes its reader's
``locale``. Usage and history text: bot/usage_text.py.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar

from bot import blocklist
from bot.errors import ValidationError
from bot.i18n import (
    COMMAND_CHOICE,
    N_,
    Command,
    Option,
    Text,
    Words,
    lazy,
    lazy_n,
    translate,
)
from bot.models import Catalog
from bot.store import GuildSettings, Window

MODERATORS_ONLY = N_("Only moderators can use this command.")
ListAction = Literal["add", "remove", "clear"]
T = TypeVar("T")
RuleChoice = Literal["limit", "unlimited", "blocked", "clear"]
MAX_CREDITS = 1_000_000
# The names members know the operations by: the commands that start them.
COMMAND_OF = {"generate": "imagine", "edit": "edit", "variation": "vary"}
# How a limit's window reads after an amount: "4 credits per day".
PER_WINDOW: Mapping[Window, str] = {
    "hour": N_("per hour"),
    "day": N_("per day"),
    "week": N_("per week"),
    "month": N_("per month"),
}
NO_MODEL = N_("no model")
LEAVE_EMPTY = N_("none (leave it empty)")
ON, OFF = N_("on"), N_("off")
NO_DEFAULT = N_("None of these models can create images from a prompt ({command}).")
NEW_DEFAULT = N_("The default model is now {model} (the old one isn't allowed).")


@dataclass(frozen=True, slots=True)
class OptionChoice(Option):
    """One of an option's choices as the member's Discord shows it: the rule "limit" reads
    "лимит" in Russian."""

    def render(self, locale: str | None) -> str:
        return translate(locale, self.name, COMMAND_CHOICE) or self.name


UNLIMITED, CLEAR = Option("unlimited"), Option("clear")


def is_moderator(
    manage_guild: bool, role_ids: Iterable[int], moderator_role_ids: Iterable[int]
) -> bool:
    """Manage Server, or any role the server named a moderator role."""
    return manage_guild or not set(role_ids).isdisjoint(moderator_role_ids)


def one_line(text: str, limit: int) -> str:
    """``text`` on one line, cut to ``limit`` characters with an ellipsis when cut."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def quoted(text: str, limit: int) -> str:
    """Member text as inline code: no markdown, no mentions, never longer than ``limit``."""
    return "`" + one_line(text.replace("`", "ˋ"), limit - 2) + "`"


def refusal(message: Text) -> ValidationError:
    """A moderator's input refused, with why (one violation)."""
    return ValidationError([message])


def per_window(window: Window) -> Text:
    """ "per day", "per week"... as the reader's language says it after an amount."""
    return lazy(PER_WINDOW[window])


# --- guild settings --------------------------------------------------------------------------


def parse_models(text: str, catalog: Catalog) -> tuple[str, ...] | None:
    """A comma list of catalog models (None for "all"); unknown names are refused, all listed."""
    if text.strip().lower() in ("all", "*"):
        return None
    names = tuple(dict.fromkeys(n.strip() for n in text.replace(";", ",").split(",") if n.strip()))
    if not names:
        raise refusal(lazy("Name at least one model (comma-separated), or `all`."))
    unknown = [n for n in names if n not in catalog]
    if unknown:
        raise refusal(
            lazy_n(
                "Unknown model: {names}. Available: {available}.",
                "Unknown models: {names}. Available: {available}.",
                len(unknown),
                names=", ".join(unknown),
                available=", ".join(catalog.names()),
            )
        )
    return names


def allow_models(
    settings: GuildSettings, models: tuple[str, ...] | None, catalog: Catalog, bot_default: str
) -> tuple[GuildSettings, list[Text]]:
    """Settings allowing ``models``; a default model that is no longer allowed is replaced, said
    in the notes."""
    notes: list[Text] = []
    default = settings.default_model
    if models is not None and (default or bot_default) not in models:
        able = [m for m in models if catalog.get(m).supports("generate")]
        new_default = able[0] if able else None
        notes.append(
            lazy(NO_DEFAULT, command=Command("imagine"))
            if new_default is None
            else lazy(NEW_DEFAULT, model=new_default)
        )
        default = new_default
    return dataclasses.replace(settings, allowed_models=models, default_model=default), notes


def choose_default_model(
    settings: GuildSettings, model: str, catalog: Catalog, bot_default: str
) -> GuildSettings:
    """Settings with ``model`` as the server's default ("none" goes back to the bot's)."""
    allowed = settings.allowed_models
    if model.strip().lower() in ("none", "clear", "default"):
        if allowed is not None and bot_default not in allowed:
            raise refusal(
                lazy(
                    "The bot's default, {model}, isn't allowed here: pick a model.",
                    model=bot_default,
                )
            )
        return dataclasses.replace(settings, default_model=None)
    spec = catalog.get(model.strip())  # names the available models when unknown
    if not spec.supports("generate"):
        raise refusal(
            lazy(
                "{model} can't create images from a prompt, so it can't be the default.",
                model=spec.name,
            )
        )
    if allowed is not None and spec.name not in allowed:
        raise refusal(not_allowed(spec.name, allowed))
    return dataclasses.replace(settings, default_model=spec.name)


def not_allowed(model: str, allowed: Sequence[str]) -> Text:
    """Why ``model`` can't be used here: the server's list of models leaves it out."""
    if not allowed:
        return lazy("{model} isn't allowed on this server: no model is.", model=model)
    return lazy(
        "{model} isn't allowed on this server. Allowed models: {models}.",
        model=model,
        models=", ".join(allowed),
    )


def change_ids(
    current: Sequence[T], action: ListAction, item: T | None, shown: Words
) -> tuple[T, ...]:
    """Add, remove or clear an item (an id, a word) in a list; ``shown`` names it in refusals."""
    if action == "clear":
        return ()
    if item is None:
        which = N_("Say which one to add.") if action == "add" else N_("Say which one to remove.")
        raise refusal(lazy(which))
    if action == "add":
        return tuple(dict.fromkeys([*current, item]))
    if item not in current:
        raise refusal(lazy("{item} isn't in the list.", item=shown))
    return tuple(i for i in current if i != item)


def describe_settings(settings: GuildSettings, bot_default: str) -> Text:
    """The server's settings as moderators read them (put in the moderator's language where it
    is shown)."""
    if settings.allowed_models is None:
        models: Words = lazy("all")
    else:
        models = ", ".join(settings.allowed_models) or lazy(NO_MODEL)
    default: Words = settings.default_model or lazy(
        "{model} (the bot's default)", model=bot_default
    )
    channels = " ".join(f"<#{c}>" for c in settings.allowed_channel_ids)
    roles = " ".join(f"<@&{r}>" for r in settings.moderator_role_ids)
    log = f"<#{settings.mod_log_channel_id}>" if settings.mod_log_channel_id else None
    return lazy(
        "**Allowed models:** {models}\n"
        "**Default model:** {default}\n"
        "**Channels:** {channels}\n"
        "**Moderators:** {moderators}\n"
        "**Moderation log:** {log}\n"
        "**Less strict filtering (moderation low):** {low}\n"
        "**Results as spoilers:** {spoilers}\n"
        "**Prompt check:** {check}\n"
        "**Blocked words:** {words}",
        models=models,
        default=default,
        channels=channels or lazy("every channel"),
        moderators=lazy("members with Manage Server and {roles}", roles=roles)
        if roles
        else lazy("members with Manage Server"),
        log=log or lazy(OFF),
        low=lazy(N_("in age-restricted channels") if settings.low_moderation else N_("never")),
        spoilers=lazy(N_("outside age-restricted channels") if settings.spoilers else OFF),
        check=lazy(ON if settings.prompt_check else OFF),
        words=blocklist.shown(settings.blocked_words),
    )
