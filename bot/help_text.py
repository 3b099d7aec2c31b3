"""The /help embed: what each command does and each allowed model's limits."""

from __future__ import annotations

from collections.abc import Sequence

import discord

from bot.models import Catalog, ModelSpec
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
    if spec.qualities:
        parts.append("quality: " + ", ".join(spec.qualities))
    if spec.styles:
        parts.append("style: " + ", ".join(spec.styles))
    limit = spec.prompt_limit("generate") or spec.prompt_limit("edit")
    if limit:
        parts.append(f"prompts up to {limit} characters")
    if spec.supports("edit"):
        parts.append(f"edits take up to {spec.input.max_images} image(s)")
    return "; ".join(parts)


def help_embed(catalog: Catalog, allowed: Sequence[str] | None) -> discord.Embed:
    """The help embed for a server (only its allowed models)."""
    embed = discord.Embed(title="Image bot — help", colour=OK_COLOUR)
    embed.description = "\n".join(f"**{name}** — {text}" for name, text in COMMANDS)
    specs = [spec for spec in catalog if allowed is None or spec.name in allowed]
    for spec in specs[:20]:
        embed.add_field(
            name=shorten(
                spec.name if spec.label in ("", spec.name) else f"{spec.label} ({spec.name})", 256
            ),
            value=shorten(model_line(spec), FIELD_LIMIT),
            inline=False,
        )
    if not specs:
        embed.add_field(name="Models", value="No models are allowed on this server yet.")
    return embed
