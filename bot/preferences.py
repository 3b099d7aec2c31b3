"""A member's preferences (/preferences): checked changes and how they read.

Checked against what the server allows when they are set; a job applies them, or leaves out one
that can't be used any more, in ``bot.presets``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from bot import presets
from bot.errors import ValidationError
from bot.i18n import N_, SOURCE, Words, lazy, t
from bot.moderation import quoted
from bot.store.models import GuildSettings, Preferences, Preset

if TYPE_CHECKING:
    from bot.provider import Provider

CLEAR = "clear"
FIELDS = ("model", "aspect", "quality", "preset")  # the Preferences fields a member sets
LABELS = {
    "model": N_("Model"),
    "aspect": N_("Shape"),
    "quality": N_("Quality"),
    "preset": N_("Preset"),
}
UNSET = {
    "model": N_("the server's default"),
    "aspect": N_("the model's default size"),
    "quality": N_("the model's default"),
    "preset": N_("no preset"),
}
APPLIES = N_("Options you give in a command always win over these.")
REMOVED = N_("was removed")


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
        raise ValidationError(
            [
                lazy(
                    "Shape {shape} isn't one I know. Shapes: {shapes}.",
                    shape=quoted(aspect, 20),
                    shapes=", ".join(presets.ASPECTS),
                )
            ]
        )
    wanted = changes.get("preset")
    if wanted and wanted.lower() == presets.NO_PRESET:
        checked["preset"] = None
    elif wanted:
        if preset is None:
            raise ValidationError([presets.no_such_preset(wanted)])
        checked["preset"] = preset.name
    return checked


def problems(
    prefs: Preferences,
    settings: GuildSettings,
    provider: Provider | None,
    preset_found: bool,
) -> dict[str, Words]:
    """Why a preference is skipped in jobs now, by field (``preset_found``: the server still has
    the preferred preset; ``provider``: None when the server has none it may use)."""
    found: dict[str, Words] = {}
    why = presets.unusable(prefs.model, settings, provider) if prefs.model and provider else None
    if why:
        found["model"] = why
    if prefs.preset and not preset_found:
        found["preset"] = lazy(REMOVED)
    return found


def describe(prefs: Preferences, skipped: Mapping[str, Words], locale: str = SOURCE) -> str:
    """The preferences as the member reads them in ``locale``, with the ones skipped now and
    why."""
    lines = []
    for name in FIELDS:
        value = getattr(prefs, name)
        text = f"`{value}`" if value else t(locale, UNSET[name])
        if name in skipped:
            text = t(
                locale,
                "{shown} ({value} {why}, so I leave it out for now)",
                shown=text,
                value=value,
                why=skipped[name],
            )
        lines.append(f"**{t(locale, LABELS[name])}**: {text}")
    return "\n".join([*lines, "", t(locale, APPLIES)])
