"""A member's preferences (/preferences): checked changes and how they read.

Checked against what the server allows when they are set; a job applies them, or leaves out one
that can't be used any more, in ``bot.presets``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from bot import presets
from bot.errors import ValidationError
from bot.moderation import quoted
from bot.store.models import GuildSettings, Preferences, Preset

if TYPE_CHECKING:
    from bot.provider import Provider

CLEAR = "clear"
FIELDS = ("model", "aspect", "quality", "preset")  # the Preferences fields a member sets
LABELS = {"model": "Model", "aspect": "Shape", "quality": "Quality", "preset": "Preset"}
UNSET = {
    "model": "the server's default",
    "aspect": "the model's default size",
    "quality": "the model's default",
    "preset": "none",
}
APPLIES = "Options you give in a command always win over these."


def asked(**given: str | None) -> dict[str, str | None]:
    """The preferences a command gave (``clear``: None); the ones it left out aren't there."""
    return {
        name: None if value.strip().lower() == CLEAR else value.strip()
        for name, value in given.items()
        if value is not None and value.strip()
    }


def check(
    changes: Mapping[str, str | None],
    current: Preferences,
    provider: Provider,
    allowed: Sequence[str] | None,
    preset: Preset | None,
) -> dict[str, str | None]:
    """``changes`` as stored, each checked against what the server allows today: a model allowed
    and usable, a quality it has, a shape there is, a preset the server has (``preset``: the one
    looked up by the name asked for)."""
    checked = dict(changes)
    if changes.get("model"):
        checked["model"] = presets.check_model(provider, allowed, changes["model"])
    if changes.get("quality"):
        model = checked.get("model", current.model)
        checked["quality"] = presets.check_quality(changes["quality"], provider, allowed, model)
    aspect = changes.get("aspect")
    if aspect and aspect not in presets.ASPECTS:
        raise ValidationError([f"Shape {quoted(aspect, 20)} isn't one I know. "
                               f"Shapes: {', '.join(presets.ASPECTS)}."])  # fmt: skip
    wanted = changes.get("preset")
    if wanted and wanted.lower() == presets.NO_PRESET:
        checked["preset"] = None
    elif wanted:
        if preset is None:
            raise ValidationError([presets.NO_SUCH_PRESET.format(name=presets.shown(wanted))])
        checked["preset"] = preset.name
    return checked


def problems(
    prefs: Preferences,
    settings: GuildSettings,
    provider: Provider | None,
    preset_found: bool,
) -> dict[str, str]:
    """Why a preference is skipped in jobs now, by field (``preset_found``: the server still has
    the preferred preset; ``provider``: None when the server has none it may use)."""
    found: dict[str, str] = {}
    why = presets.unusable(prefs.model, settings, provider) if prefs.model and provider else None
    if why:
        found["model"] = why
    if prefs.preset and not preset_found:
        found["preset"] = "was removed"
    return found


def describe(prefs: Preferences, skipped: Mapping[str, str]) -> str:
    """The preferences as the member reads them, with the ones skipped now and why."""
    lines = []
    for name in FIELDS:
        value = getattr(prefs, name)
        text = f"`{value}`" if value else UNSET[name]
        if name in skipped:
            text += f" ({value} {skipped[name]}, so I leave it out for now)"
        lines.append(f"**{LABELS[name]}**: {text}")
    return "\n".join([*lines, "", APPLIES])
