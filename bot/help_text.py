"""The /help embed: how to make images on this server, what each model is for, what it costs.

Pure: the cog gathers the server's settings, the member's usage and the prices, this module words
them. Every sentence a member reads is a whole template with named placeholders (no sentence put
together from pieces), so that a translation can replace it whole once member text goes through
gettext (issue 14). Plural sentences come as (one, many) pairs, as ``ngettext`` takes them.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import discord

from bot import words
from bot.images.types import Operation
from bot.models import ModelSpec
from bot.provider import Provider
from bot.quotas import MemberUsage
from bot.render import EMBED_TOTAL_LIMIT, FIELD_LIMIT, OK_COLOUR, TITLE_LIMIT, shorten
from bot.usage_text import member_usage_text

FIELDS_PER_EMBED = 25
TITLE = "Making images here"
DM_TEXT = (
    "My commands work inside a server, not in direct messages. Use /help in a server I'm in to "
    "see its models and your credits there."
)
COMMANDS_TEXT = (
    "**/imagine** — describe a picture and I'll draw it.\n"
    "**/edit** — upload an image and say what to change; add a mask to change only part of it.\n"
    "**/vary** — upload an image and get new takes on it.\n"
    "**/blend** — several images (attached, or on messages you link) made into one.\n"
    "**Reply + @mention** — reply to a message with an image, mention me and say what to change.\n"
    "**Apps → Edit image / Vary image** — right-click (or long-press) any message with an image.\n"
    "**/usage** — your credits: used, left, and when they reset.\n"
    "**/favourites**, **/show** — the results you saved, and any of yours posted again.\n"
    "I mention you when your images are ready, so you can go on chatting meanwhile."
)
BUTTONS_NAME = "Buttons"
BUTTONS_TEXT = (
    "🔁 **Re-roll** — the same prompt and settings again; it costs credits like a new request.\n"
    "🔀 **Vary / Vary 2…** — variations of that image.\n"
    "✏️ **Edit** — change that image with a prompt.\n"
    "⭐ **Save** — keep the result in /favourites; press it again to take it out.\n"
    "🗑️ **Delete** — the requester or a moderator removes the result (you're asked to confirm).\n"
    "✖️ **Cancel** — while a request waits in the queue; its credits come back.\n"
    "**Try again** — after a failure: the same settings again. Nothing was charged for the "
    "failure.\n"
    "**Change prompt** — after a failure: edit the prompt, keep the same settings."
)
CREDITS_NAME = "Your credits"
BLOCKED = "Your roles don't allow making images on this server."
FREE = "This server sets no credit limit: images are free for you here."
MODERATOR_FREE = "You're a moderator here, so your images are free: no credit limit applies to you."
MODERATOR_BUDGET = (
    "You're a moderator here: no member limit applies to you, but your images count against the "
    "server budget."
)
MODELS_NAME = "Models"
NO_MODELS = "No models are available on this server right now; tell a moderator."
MODEL_NAME = "{title}"
DEFAULT_MODEL_NAME = "{title} — default"
DEFAULT_FOR = "The default for {commands}."
WORKS_WITH = "Works with {commands}."
COSTS = (
    "An image costs {credits} credit at the default size ({size}).",
    "An image costs {credits} credits at the default size ({size}).",
)
SHUTS_DOWN = "⚠️ This model shuts down on {day}."
SHUTS_DOWN_INSTEAD = "⚠️ This model shuts down on {day}; use {instead} instead."
ASSUMED_TITLE = "{name} (new, like {base})"
MORE_MODELS_NAME = "More models"
MORE_MODELS = "Also here: {names}."
LIST_SEPARATOR = ", "
# The commands members start each operation with, as /help names them.
COMMAND_NAMES: Mapping[Operation, str] = {
    "generate": "/imagine",
    "edit": "/edit",
    "variation": "/vary",
}
OPERATIONS: tuple[Operation, ...] = ("generate", "edit", "variation")


def title_of(spec: ModelSpec, provider: Provider) -> str:
    """How members read a model's name: "Label (id)", and for a new model what it is taken as."""
    if spec.assumed_from:
        base = provider.spec(spec.assumed_from)
        label = base.label if base and base.label else spec.assumed_from
        return ASSUMED_TITLE.format(name=spec.name, base=label)
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
) -> list[ModelEntry]:
    """The models the server allows that the provider offers today, its defaults first."""
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
                title=title_of(spec, provider),
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

    def text(self) -> str:
        """The "Your credits" field: blocked, free, or the same lines /usage shows."""
        if self.usage.limit.kind == "blocked":
            return BLOCKED
        if self.free:
            return MODERATOR_FREE if self.moderator_exempt else FREE
        lines = member_usage_text(self.usage, self.default_price)
        return f"{MODERATOR_BUDGET}\n{lines}" if self.moderator_exempt else lines


def model_text(entry: ModelEntry, credits: int | None, room: int = FIELD_LIMIT) -> tuple[str, str]:
    """A model's field: its name, and its description, commands, price and shutdown warning.

    Only the description is cut to keep the value within ``room`` characters: what the model
    works with, costs and when it goes away matter more than how it is praised.
    """
    title = shorten(entry.title, TITLE_LIMIT - 16)
    name = (DEFAULT_MODEL_NAME if entry.default_for else MODEL_NAME).format(title=title)
    commands = LIST_SEPARATOR.join(COMMAND_NAMES[op] for op in entry.commands)
    lines = [WORKS_WITH.format(commands=commands)]
    if entry.default_for and entry.default_for != entry.commands:
        names = LIST_SEPARATOR.join(COMMAND_NAMES[op] for op in entry.default_for)
        lines.append(DEFAULT_FOR.format(commands=names))
    if credits is not None and entry.priced_size:
        lines.append(words.noun(credits, *COSTS).format(credits=credits, size=entry.priced_size))
    if entry.shutdown is not None:
        day = entry.shutdown.isoformat()
        if entry.instead and entry.instead != entry.spec.name:
            lines.append(SHUTS_DOWN_INSTEAD.format(day=day, instead=entry.instead))
        else:
            lines.append(SHUTS_DOWN.format(day=day))
    rest = "\n".join(lines)
    left = room - len(rest) - 1
    if entry.spec.description and left >= 20:
        rest = f"{shorten(entry.spec.description, left)}\n{rest}"
    return name, shorten(rest, room)


def help_embed(
    entries: Sequence[ModelEntry], wallet: Wallet, prices: Mapping[str, int]
) -> discord.Embed:
    """The help embed for one member of one server, within Discord's embed limits.

    ``prices``: credits for one image of each model at its defaults (left out when images are free).
    """
    embed = discord.Embed(title=TITLE, description=COMMANDS_TEXT, colour=OK_COLOUR)
    embed.add_field(name=CREDITS_NAME, value=shorten(wallet.text(), FIELD_LIMIT), inline=False)
    embed.add_field(name=BUTTONS_NAME, value=BUTTONS_TEXT, inline=False)
    if not entries:
        embed.add_field(name=MODELS_NAME, value=NO_MODELS, inline=False)
        return embed
    room = FIELDS_PER_EMBED - len(embed.fields)
    shown = entries if len(entries) <= room else entries[: room - 1]
    hidden = entries[len(shown) :]
    more = MORE_MODELS.format(names=LIST_SEPARATOR.join(e.spec.name for e in hidden))
    more = shorten(more, FIELD_LIMIT) if hidden else ""
    budget = EMBED_TOTAL_LIMIT - len(embed) - len(MORE_MODELS_NAME) - len(more) - 50
    for entry in shown:
        credits = None if wallet.free else prices.get(entry.spec.name)
        each = budget // (len(shown) - shown.index(entry)) - len(entry.title) - 16
        name, value = model_text(entry, credits, max(min(each, FIELD_LIMIT), 1))
        embed.add_field(name=name, value=value, inline=False)
        budget -= len(name) + len(value)
    if hidden:
        embed.add_field(name=MORE_MODELS_NAME, value=more, inline=False)
    return embed


def dm_embed() -> discord.Embed:
    """What /help says in a direct message: the commands work in servers only."""
    return discord.Embed(title=TITLE, description=DM_TEXT, colour=OK_COLOUR)
