"""What one model accepts, as immutable data read from the catalog TOML."""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.i18n import Number, Text, Words, lazy, lazy_n
from bot.images.types import ImageRequest, InputRules, Operation

AUTO = "auto"
_SIZE_RE = re.compile(r"^([1-9][0-9]{0,5})x([1-9][0-9]{0,5})$")


def parse_size(size: str) -> tuple[int, int] | None:
    """Width and height of a ``WIDTHxHEIGHT`` string, or None when it is not one."""
    match = _SIZE_RE.match(size)
    return (int(match[1]), int(match[2])) if match else None


def size_text(width: int, height: int) -> str:
    """A size as the API and members write it: ``1024x1536``."""
    return f"{width}x{height}"


def is_size_string(size: str) -> bool:
    """Whether ``size`` is ``auto`` or a well-formed ``WIDTHxHEIGHT``."""
    return size == AUTO or parse_size(size) is not None


@dataclass(frozen=True, slots=True)
class FreeSize:
    """Rules for sizes a model takes beyond its listed ones (gpt-image-2: any WxH within limits)."""

    multiple: int
    max_long: int
    max_short: int
    max_ratio: float
    min_pixels: int = 0
    max_pixels: int = 0  # 0: only the edges limit it

    def problems(self, width: int, height: int) -> tuple[Text, ...]:
        """Why ``width`` x ``height`` breaks these rules, in a member's words; empty if none."""
        long, short = max(width, height), min(width, height)
        # A size past the edges is usually past the pixel limit too: one reason is enough.
        edges_ok = long <= self.max_long and short <= self.max_short
        checks = (
            (
                width % self.multiple == 0 and height % self.multiple == 0,
                lazy("both sides must be multiples of {multiple}", multiple=self.multiple),
            ),
            (
                edges_ok,
                lazy(
                    "it can be at most {size} (or {turned})",
                    size=size_text(self.max_long, self.max_short),
                    turned=size_text(self.max_short, self.max_long),
                ),
            ),
            (
                long <= short * self.max_ratio,
                lazy(
                    "the long side can be at most {ratio} times the short side",
                    ratio=Number(self.max_ratio, 2),
                ),
            ),
            (
                width * height >= self.min_pixels,
                lazy_n(
                    "it needs at least {count} pixel",
                    "it needs at least {count} pixels",
                    self.min_pixels,
                    count=Number(self.min_pixels, 0),
                ),
            ),
            (
                not self.max_pixels or not edges_ok or width * height <= self.max_pixels,
                lazy_n(
                    "it can have at most {count} pixel",
                    "it can have at most {count} pixels",
                    self.max_pixels,
                    count=Number(self.max_pixels, 0),
                ),
            ),
        )
        return tuple(reason for ok, reason in checks if not ok)

    def describe(self) -> Text:
        """A short phrase for the size hint shown to members."""
        return lazy(
            "any WIDTHxHEIGHT in multiples of {multiple}, up to {size}, no more than {ratio}:1",
            multiple=self.multiple,
            size=size_text(self.max_long, self.max_short),
            ratio=Number(self.max_ratio, 2),
        )


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """One model's limits: which operations, sizes, counts and options it takes, and its lifecycle.

    ``operations`` are the endpoints the model has ("variation" only where the variations endpoint
    exists for it); ``can`` adds variations made through the edits endpoint.
    """

    name: str
    label: str
    description: str
    operations: frozenset[Operation]
    prompt_max: Mapping[Operation, int] = field(hash=False)
    size_choices: Mapping[Operation, tuple[str, ...]] = field(hash=False)
    default_sizes: Mapping[Operation, str] = field(hash=False)
    n_max: int
    choices: Mapping[str, tuple[str, ...]] = field(hash=False)  # Params field -> allowed values
    default_quality: str | None
    response_format: bool
    output_compression: bool
    free_size: FreeSize | None
    input: InputRules
    markup: bool = False
    vary_by_edit: bool = False  # its edits redraw the whole image, so they can make variations
    safety_identifier: bool = False
    streams: bool = False  # takes stream=true with partial_images (previews while it draws)
    gated_formats: tuple[str, ...] = ()  # declared by the provider, but only with access
    shutdown: datetime.date | None = None  # as the model's maker announced it, if known
    replacement: str | None = None
    lineage: tuple[str, ...] = ()  # the models it is ``like``, nearest first
    assumed_from: str | None = None  # a model the provider lists, limits taken from this one

    def supports(self, op: Operation) -> bool:
        """Whether the model has the endpoint for ``op``."""
        return op in self.operations

    def can(self, op: Operation) -> bool:
        """Whether the model can serve ``op`` at all (variations also through edits)."""
        return self.supports(op) or (op == "variation" and self.vary_by_edit)

    def endpoint(self, op: Operation) -> Operation:
        """The endpoint that serves ``op`` on this model."""
        return "edit" if op == "variation" and not self.supports("variation") else op

    def values(self, param: str) -> tuple[str, ...]:
        """The allowed values of a choice parameter (empty: the model doesn't take it)."""
        return self.choices.get(param, ())

    def sizes(self, op: Operation) -> tuple[str, ...]:
        """The listed sizes for ``op`` (for autocomplete), with ``auto`` when the model takes it."""
        return self.size_choices.get(self.endpoint(op), ())

    def default_size(self, op: Operation) -> str | None:
        """The size sent when a member picks none; None when the model can't do ``op``."""
        return self.default_sizes.get(self.endpoint(op))

    def prompt_limit(self, op: Operation) -> int | None:
        """The longest prompt, in characters, for ``op``; None when ``op`` takes no prompt."""
        return self.prompt_max.get(op)

    def size_allowed(self, op: Operation, size: str) -> bool:
        """Whether ``size`` is listed for ``op`` or fits the model's free-size rules."""
        if not self.can(op):
            return False
        if size in self.sizes(op):
            return True
        parsed = parse_size(size)
        if parsed is None or self.free_size is None:
            return False
        return not self.free_size.problems(*parsed)

    def shut_down_by(self, today: datetime.date) -> bool:
        """Whether the maker's announced shutdown date has come."""
        return self.shutdown is not None and self.shutdown <= today

    @property
    def title(self) -> str:
        """The label with the id, for lists members read."""
        return self.name if self.label in ("", self.name) else f"{self.label} ({self.name})"


@dataclass(frozen=True, slots=True)
class Plan:
    """The API calls that serve one member request, and what was adapted to make it work."""

    requests: tuple[ImageRequest, ...]
    notes: tuple[Words, ...] = ()

    @property
    def total_images(self) -> int:
        """How many images all the calls together ask for."""
        return sum(request.n for request in self.requests)
