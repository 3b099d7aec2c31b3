"""The /help embed: how to make images on this server, what each model is for, what it costs.

Pure: the cog gathers the server's settings, the member's usage and the prices, this module words
them in the member's language. Every sentence a member reads is a whole message id with named
placeholders (bot/i18n.py), one a line, so that a translator can replace it whole; commands are
``Command`` values, so /help names them as the member's Discord shows them, and the buttons by
the labels they carry.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import discord

from bot import views
from bot.i18n import N_, SOURCE, Command, Listed, lazy, t, tn
from bot.images.types import Operation
from bot.models import ModelSpec
from bot.provider import Provider
from bot.quotas import MemberUsage
from bot.render import EMBED_TOTAL_LIMIT, FIELD_LIMIT, OK_COLOUR, TITLE_LIMIT, shorten
from bot.usage_text import member_usage_text

FIELDS_PER_EMBED = 25
TITLE = N_("Making images here")
DM_TEXT = N_(
    "My commands work inside a server, not in direct messages. Use {help} in a server I'm in to "
    "see its models and your credits there."
)
# What /help names: the commands as the member's Discord shows them, the buttons by their labels.
COMMANDS: Mapping[str, object] = {
    name: Command(name)
    for name in ("imagine", "edit", "vary", "blend", "usage", "favourites", "show", "help")
}
BUTTON_LABELS: Mapping[str, object] = {
    "reroll": lazy(views.REROLL_LABEL),
    "vary": lazy(views.VARY_LABEL),
    "vary_2": lazy(views.VARY_N_LABEL, number=2),
    "edit": lazy(views.EDIT_LABEL),
    "save": lazy(views.SAVE_LABEL),
    "delete": lazy(views.DELETE_LABEL),
    "cancel": lazy(views.CANCEL_LABEL),
    "try_again": lazy(views.TRY_AGAIN_LABEL),
    "change_prompt": lazy(views.CHANGE_PROMPT_LABEL),
    "favourites": Command("favourites"),
}
COMMAND_LINES = (
    N_("**{imagine}** — describe a picture and I'll draw it."),
    N_(
        "**{edit}** — upload an image and say what to change; add a mask to change only part of it."
    ),
    N_("**{vary}** — upload an image and get new takes on it."),
    N_("**{blend}** — several images (attached, or on messages you link) made into one."),
    N_(
        "**Reply + @mention** — reply to a message with an image, mention me and say what to "
        "change."
    ),
    N_(
        "**Apps → Edit image / Vary image** — right-click (or long-press) any message with an "
        "image."
    ),
    N_("**{usage}** — your credits: used, left, and when they reset."),
    N_("**{favourites}**, **{show}** — the results you saved, and any of yours posted again."),
    N_("I mention you when your images are ready, so you can go on chatting meanwhile."),
)
BUTTONS_NAME = N_("Buttons")
BUTTON_LINES = (
    N_(
        "🔁 **{reroll}** — the same prompt and settings again; it costs credits like a new request."
    ),
    N_("🔀 **{vary} / {vary_2}…** — variations of that image."),
    N_("✏️ **{edit}** — change that image with a prompt."),
    N_("⭐ **{save}** — keep the result in {favourites}; press it again to take it out."),
    N_(
        "🗑️ **{delete}** — the requester or a moderator removes the result (you're asked to "
        "confirm)."
    ),
    N_("✖️ **{cancel}** — while a request waits in the queue; its credits come back."),
    N_(
        "**{try_again}** — after a failure: the same settings again. Nothing was charged for the "
        "failure."
    ),
    N_("**{change_prompt}** — after a failure: edit the prompt, keep the same settings."),
)
CREDITS_NAME = N_("Your credits")
BLOCKED = N_("Your roles don't allow making images on this server.")
FREE = N_("This server sets no credit limit: images are free for you here.")
MODERATOR_FREE = N_(
    "You're a moderator here, so your images are free: no credit limit applies to you."
)
MODERATOR_BUDGET = N_(
    "You're a moderator here: no member limit applies to you, but your images count against the "
    "server budget."
)
MODELS_NAME = N_("Models")
NO_MODELS = N_("No models are available on this server right now; tell a moderator.")
DEFAULT_MODEL_NAME = N_("{title} — default")
DEFAULT_FOR = N_("The default for {commands}.")
WORKS_WITH = N_("Works with {commands}.")
SHUTS_DOWN = N_("⚠️ This model shuts down on {day}.")
SHUTS_DOWN_INSTEAD = N_("⚠️ This model shuts down on {day}; use {instead} instead.")
ASSUMED_TITLE = N_("{name} (new, like {base})")
MORE_MODELS_NAME = N_("More models")
MORE_MODELS = N_("Also here: {names}.")
# The commands members start each operation with, as /help names them.
COMMAND_NAMES: Mapping[Operation, Command] = {
    "generate": Command("imagine"),
    "edit": Command("edit"),
    "variation": Command("vary"),
}
OPERATIONS: tuple[Operation, ...] = ("generate", "edit", "variation")


def costs(locale: str, credits: int, size: str) -> str:
    """ "An image costs 4 credits at the default size (1024x1024).", in ``locale``."""
    return tn(
        locale,
        "An image costs {count} credit at the default size ({size}).",
        "An image costs {count} credits at the default size ({size}).",
        credits,
        size=size,
    )


def commands_text(locale: str) -> str:
    """The embed's description: what each command (and reply, and menu) does."""
    return "\n".join(t(locale, line, **COMMANDS) for line in COMMAND_LINES)


def buttons_text(locale: str) -> str:
    """The Buttons field: what each button under a result (or a failure) does."""
    return "\n".join(t(locale, line, **BUTTON_LABELS) for line in BUTTON_LINES)


def title_of(spec: ModelSpec, provider: Provider, locale: str = SOURCE) -> str:
    """How members read a model's name: "Label (id)", and for a new model what it is taken as."""
    if spec.assumed_from:
        base = provider.spec(spec.assumed_from)
        label = base.label if base and base.label else spec.assumed_from
        return t(locale, ASSUMED_TITLE, name=spec.name, base=label)
    return spec.title


@dataclass(frozen=True, slots=True)
class ModelEntry:
    """One model as a member of this server may use it today."""

    spec: ModelSpec
    title: str
    commands: tuple[Operation, ...]  # what it works with here
    default_for: tuple[Operation, ...]
    shutdown: datetime.date | None = None
    instead: str | None = None

    @property
    def priced_size(self) -> str | None:
        """The size a member gets when they pick none, for the first command it works with."""
        return self.spec.default_size(self.commands[0]) if self.commands else None


def server_models(
    provider: Provider,
    allowed: Sequence[str] | None,
    defaults: Mapping[Operation, str | None],
    locale: str = SOURCE,
) -> list[ModelEntry]:
    """The models the server allows that the provider offers today, its defaults first (their
    titles in ``locale``)."""
    soon = {state.name: state.shutdown for state in provider.soon_shut()}
    entries = []
    for spec in provider.usable():
        if allowed is not None and spec.name not in allowed:
            continue
        commands = tuple(op for op in OPERATIONS if provider.can(spec, op))
        day = soon.get(spec.name)
        entries.append(
            ModelEntry(
                spec=spec,
                title=title_of(spec, provider, locale),
                commands=commands,
                default_for=tuple(op for op in commands if defaults.get(op) == spec.name),
                shutdown=day,
                instead=provider.replacement(spec, commands[0]) if day and commands else None,
            )
        )
    # The defaults first (the /imagine one before the others), then in catalog order.
    order = {name: rank for rank, name in enumerate(dict.fromkeys(filter(None, defaults.values())))}
    entries.sort(key=lambda e: order.get(e.spec.name, len(order)))
    return entries


@dataclass(frozen=True, slots=True)
class Wallet:
    """What the member pays: their usage now, and whether they moderate here (and it matters)."""

    usage: MemberUsage
    moderator_exempt: bool = False  # a moderator, and the server lets moderators go unlimited
    default_price: tuple[str, int] | None = None  # (model, credits per image), as /usage shows

    @property
    def free(self) -> bool:
        """Nothing limits this member's images: no member limit and no server budget."""
        return self.usage.member.limit is None and self.usage.server.limit is None

    def text(self, locale: str = SOURCE) -> str:
        """The "Your credits" field: blocked, free, or the same lines /usage shows."""
        if self.usage.limit.kind == "blocked":
            return t(locale, BLOCKED)
        if self.free:
            return t(locale, MODERATOR_FREE if self.moderator_exempt else FREE)
        lines = member_usage_text(self.usage, self.default_price, locale)
        return f"{t(locale, MODERATOR_BUDGET)}\n{lines}" if self.moderator_exempt else lines


def model_text(
    entry: ModelEntry, credits: int | None, room: int = FIELD_LIMIT, locale: str = SOURCE
) -> tuple[str, str]:
    """A model's field: its name, and its description, commands, price and shutdown warning.

    Only the description is cut to keep the value within ``room`` characters: what the model
    works with, costs and when it goes away matter more than how it is praised.
    """
    title = shorten(entry.title, TITLE_LIMIT - 16)
    name = t(locale, DEFAULT_MODEL_NAME, title=title) if entry.default_for else title
    lines = [t(locale, WORKS_WITH, commands=_commands(entry.commands))]
    if entry.default_for and entry.default_for != entry.commands:
        lines.append(t(locale, DEFAULT_FOR, commands=_commands(entry.default_for)))
    if credits is not None and entry.priced_size:
        lines.append(costs(locale, credits, entry.priced_size))
    if entry.shutdown is not None:
        day = entry.shutdown.isoformat()
        if entry.instead and entry.instead != entry.spec.name:
            lines.append(t(locale, SHUTS_DOWN_INSTEAD, day=day, instead=entry.instead))
        else:
            lines.append(t(locale, SHUTS_DOWN, day=day))
    rest = "\n".join(lines)
    left = room - len(rest) - 1
    description = entry.spec.description  # the operator's catalog: as written
    if entry.spec.assumed_from:
        description = t(locale, ASSUMED, base=entry.spec.assumed_from)
    if description and left >= 20:
        rest = f"{shorten(description, left)}\n{rest}"
    return name, shorten(rest, room)


ASSUMED = N_("New at the provider; limits assumed from {base}.")


def _commands(operations: Sequence[Operation]) -> Listed:
    return Listed(tuple(COMMAND_NAMES[op] for op in operations))


def help_embed(
    entries: Sequence[ModelEntry],
    wallet: Wallet,
    prices: Mapping[str, int],
    locale: str = SOURCE,
) -> discord.Embed:
    """The help embed for one member of one server, in their ``locale``, within Discord's embed
    limits.

    ``prices``: credits for one image of each model at its defaults (left out when images are free).
    """
    embed = discord.Embed(
        title=t(locale, TITLE), description=commands_text(locale), colour=OK_COLOUR
    )
    credits_text = shorten(wallet.text(locale), FIELD_LIMIT)
    embed.add_field(name=t(locale, CREDITS_NAME), value=credits_text, inline=False)
    embed.add_field(name=t(locale, BUTTONS_NAME), value=buttons_text(locale), inline=False)
    if not entries:
        embed.add_field(name=t(locale, MODELS_NAME), value=t(locale, NO_MODELS), inline=False)
        return embed
    room = FIELDS_PER_EMBED - len(embed.fields)
    shown = entries if len(entries) <= room else entries[: room - 1]
    hidden = entries[len(shown) :]
    more_name = t(locale, MORE_MODELS_NAME)
    names = Listed(tuple(e.spec.name for e in hidden))
    more = shorten(t(locale, MORE_MODELS, names=names), FIELD_LIMIT) if hidden else ""
    budget = EMBED_TOTAL_LIMIT - len(embed) - len(more_name) - len(more) - 50
    for entry in shown:
        credits = None if wallet.free else prices.get(entry.spec.name)
        each = budget // (len(shown) - shown.index(entry)) - len(entry.title) - 16
        name, value = model_text(entry, credits, max(min(each, FIELD_LIMIT), 1), locale)
        embed.add_field(name=name, value=value, inline=False)
        budget -= len(name) + len(value)
    if hidden:
        embed.add_field(name=more_name, value=more, inline=False)
    return embed


def dm_embed(locale: str = SOURCE) -> discord.Embed:
    """What /help says in a direct message: the commands work in servers only."""
    text = t(locale, DM_TEXT, help=COMMANDS["help"])
    return discord.Embed(title=t(locale, TITLE), description=text, colour=OK_COLOUR)
