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
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.images.types import Operation


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

    def sent(self) -> dict[str, Any]:
        """The fields to send (and to store): ``None`` values left out."""
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
    """A parameter whose allowed values each model lists under ``catalog_key`` in the catalog."""

    name: str  # the Params field and the API field
    catalog_key: str
    label: str  # how members read it in messages
    operations: tuple[Operation, ...] = ("generate", "edit")
    help: str = ""


CHOICES: tuple[Choice, ...] = (
    Choice("quality", "qualities", "Quality", help="how much detail (depends on the model)"),
    Choice("style", "styles", "Style", ("generate",), help="dall-e-3: vivid or natural"),
    Choice("background", "backgrounds", "Background", help="transparent, opaque or auto"),
    Choice("output_format", "output_formats", "Output format", help="png, jpeg or webp"),
    Choice("moderation", "moderations", "Moderation", ("generate",), help="low or auto"),
    Choice("input_fidelity", "input_fidelities", "Input fidelity", ("edit",), help="high or low"),
    Choice("complexity", "complexities", "Complexity", help="planning effort: low, medium, high"),
)
CHOICE_BY_NAME: Mapping[str, Choice] = {c.name: c for c in CHOICES}
