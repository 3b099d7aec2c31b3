"""The /help embed: what each command does and each allowed model's limits."""

from __future__ import annotations

from collections.abc import Sequence

import discord

from bot.images.params import CHOICES
from bot.models import ModelSpec
from bot.provider import Provider
from bot.render import FIELD_LIMIT, OK_COLOUR, shorten

COMMANDS = (
    ("/imagine", "Create images from a description."),
    ("/edit", "Edit an image with a description; add a mask (transparent or white = edit)."),
    ("/vary", "Make variations of any image."),
    ("Reply + @mention", "Reply to a message with an image, mention me with a prompt to edit it."),
    ("Apps → Edit image / Vary image", "Right-click any message with an image."),
    ("/usage", "See how many credits you have left."),
)


def model_line(spec: ModelSpec) -> str:
    """One model's limits in a line or two."""
    ops = ", ".join(sorted(spec.operations))
    parts = [f"does: {ops}"]
    gen_sizes = spec.sizes("generate") or spec.sizes("edit") or spec.sizes("variation")
    if gen_sizes:
        parts.append("sizes: " + ", ".join(gen_sizes))
    if spec.free_size is not None:
        parts.append("or " + spec.free_size.describe())
    parts.append(f"up to {spec.n_max} per request")
    for choice in CHOICES:
        if choice.name in ("quality", "style", "complexity") and spec.values(choice.name):
            parts.append(f"{choice.label.lower()}: " + ", ".join(spec.values(choice.name)))
    limit = spec.prompt_limit("generate") or spec.prompt_limit("edit")
    if limit:
        parts.append(f"prompts up to {limit} characters")
    if spec.supports("edit"):
        parts.append(f"edits take up to {spec.input.max_images} image(s)")
    return "; ".join(parts)


def help_embed(provider: Provider, allowed: Sequence[str] | None) -> discord.Embed:
    """The help embed for a server: the models it allows that the provider offers today."""
    embed = discord.Embed(title="Image bot — help", colour=OK_COLOUR)
    embed.description = "\n".join(f"**{name}** — {text}" for name, text in COMMANDS)
    soon = {state.name: state for state in provider.soon_shut()}
    specs = [spec for spec in provider.usable() if allowed is None or spec.name in allowed]
    for spec in specs[:20]:
        line = model_line(spec)
        if spec.name in soon and (day := soon[spec.name].shutdown) is not None:
            instead = provider.replacement(spec, "generate")
            line = (
                f"⚠️ shuts down on {day.isoformat()}"
                + (f"; use {instead}. " if instead else ". ")
                + line
            )
        if spec.assumed_from:
            line = f"new: limits assumed from {spec.assumed_from}; " + line
        embed.add_field(
            name=shorten(spec.title, 256), value=shorten(line, FIELD_LIMIT), inline=False
        )
    if not specs:
        embed.add_field(name="Models", value="No models are available on this server right now.")
    return embed
