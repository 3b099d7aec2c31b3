"""The one parameters type: what a member can set on an image request, from command to request body.

``Params`` travels unchanged from the Discord option (or CLI flag) through the job, the checks and
the stored job to the API request. ``CHOICES`` says, per parameter with a closed set of values,
which catalog key lists each model's values and on which operations it applies: validation,
autocomplete, /help and the CLI all read this table instead of naming parameters themselves.
Adding an API parameter of this kind means: a field here, a ``Choice`` row, its values in the
catalog, and one command option.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from bot.i18n import N_, SOURCE, t

if TYPE_CHECKING:
    from bot.images.types import Operation


LOCAL = frozenset({"aspect", "detail"})  # chosen by members, never sent to the API


@dataclass(frozen=True, slots=True)
class Params:
    """Every option of an Images API request a member may choose; ``None`` is not sent."""

    n: int = 1
    size: str | None = None
    quality: str | None = None
    style: str | None = None
    background: str | None = None
    output_format: str | None = None
    output_compression: int | None = None
    moderation: str | None = None
    input_fidelity: str | None = None
    complexity: str | None = None
    # The bot's own, never sent: made into ``size`` for the model (bot/models/shaping.py).
    aspect: str | None = None  # one of bot.models.aspect.RATIOS, e.g. "16:9"
    detail: str | None = None  # a tier: standard, 2K or 4K

    def sent(self) -> dict[str, Any]:
        """The fields to send to the API: ``None`` values and the bot's own (``LOCAL``) left out."""
        return {k: v for k, v in self.stored().items() if k not in LOCAL}

    def stored(self) -> dict[str, Any]:
        """The fields to store with a job (to run it again the same way): ``None`` values left out."""
        return {k: v for k, v in self.as_dict().items() if v is not None}

    def as_dict(self) -> dict[str, Any]:
        """Every field by name."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Params:
        """Params from a mapping with any extra keys (a stored job's parameters, CLI arguments)."""
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known and v is not None})

    def replace(self, **changes: Any) -> Params:
        """A copy with ``changes``."""
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True, slots=True)
class Choice:
    """A parameter whose allowed values each model lists under ``catalog_key`` in the catalog.

    ``meanings`` say in a member's words what each value does, for autocomplete; the value sent
    stays the API's. A value without one is shown as it is.
    """

    name: str  # the Params field and the API field
    catalog_key: str
    label: str  # how members read it in messages (an id of the catalogs, marked with N_)
    operations: tuple[Operation, ...] = ("generate", "edit")
    help: str = ""
    meanings: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def describe(self, value: str, locale: str = SOURCE) -> str:
        """``value`` with what it means in ``locale``, e.g. "high — slower, more detail"."""
        meaning = self.meanings.get(value)
        return f"{value} — {t(locale, meaning)}" if meaning else value


def _meanings(**words: str) -> Mapping[str, str]:
    return MappingProxyType(words)


_AUTO = N_("the model decides")
CHOICES: tuple[Choice, ...] = (
    Choice(
        "quality", "qualities", N_("Quality"), help="how much detail (depends on the model)",
        meanings=_meanings(
            low=N_("fastest and cheapest, less detail"),
            medium=N_("balanced detail and speed"),
            high=N_("slower, more detail, costs more"),
            xhigh=N_("slower still, even more detail"),
            max=N_("slowest, the most detail, costs the most"),
            auto=_AUTO,
            standard=N_("the usual detail"),
            hd=N_("finer detail, costs more"),
        ),
    ),
    Choice(
        "style", "styles", N_("Style"), ("generate",), help="dall-e-3: vivid or natural",
        meanings=_meanings(vivid=N_("bold, dramatic colours"), natural=N_("calmer, more true to life")),
    ),
    Choice(
        "background", "backgrounds", N_("Background"), help="transparent, opaque or auto",
        meanings=_meanings(
            transparent=N_("no background (PNG or WebP)"), opaque=N_("a solid background"), auto=_AUTO
        ),
    ),
    Choice(
        "output_format", "output_formats", N_("Output format"), help="png, jpeg or webp",
        meanings=_meanings(
            png=N_("lossless, keeps transparency"), jpeg=N_("smaller files, no transparency"),
            webp=N_("small files, keeps transparency"),
        ),
    ),
    Choice(
        "moderation", "moderations", N_("Moderation"), ("generate",), help="low or auto",
        meanings=_meanings(low=N_("less strict filtering"), auto=N_("the usual filtering")),
    ),
    Choice(
        "input_fidelity", "input_fidelities", N_("Input fidelity"), ("edit",), help="high or low",
        meanings=_meanings(
            high=N_("keeps faces and details of your image closer"), low=N_("freer changes")
        ),
    ),
    Choice(
        "complexity", "complexities", N_("Complexity"), help="planning effort: low, medium, high",
        meanings=_meanings(
            low=N_("quick planning, for simple pictures"),
            medium=N_("more planning"),
            high=N_("the most planning, for busy scenes"),
        ),
    ),
)  # fmt: skip
CHOICE_BY_NAME: Mapping[str, Choice] = {c.name: c for c in CHOICES}
