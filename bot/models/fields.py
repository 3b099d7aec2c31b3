"""Parsers for the values of the catalog TOML: each returns a typed value or raises ``Bad``."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, cast

from bot.images.types import OPERATIONS, ImageFormat, InputRules, Operation
from bot.models.spec import FreeSize, is_size_string

T = TypeVar("T")
Parser = Callable[[Any], T]
IMAGE_FORMATS: tuple[ImageFormat, ...] = ("png", "jpeg", "webp", "gif")
# Output formats a provider may offer: the image formats, and svg (not a raster image).
OUTPUT_FORMATS = (*IMAGE_FORMATS, "svg")
_MIB = 1024 * 1024


class Bad(Exception):
    """A value in the catalog is not what its key needs; the message says why."""


def text(value: Any) -> str:
    """A non-empty string."""
    if not isinstance(value, str) or not value.strip():
        raise Bad(f"must be a non-empty string; got {value!r}")
    return value


def flag(value: Any) -> bool:
    """A TOML boolean."""
    if not isinstance(value, bool):
        raise Bad(f"must be true or false; got {value!r}")
    return value


def count(value: Any) -> int:
    """A whole number of at least 1."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise Bad(f"must be a whole number of at least 1; got {value!r}")
    return value


def amount(value: Any) -> float:
    """A number greater than 0 (int or float)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise Bad(f"must be a number greater than 0; got {value!r}")
    return float(value)


def words(value: Any) -> tuple[str, ...]:
    """A list of distinct non-empty strings (may be empty: the option doesn't apply)."""
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise Bad(f"must be a list of strings; got {value!r}")
    if len(set(value)) != len(value):
        raise Bad(f"lists a value twice: {value!r}")
    return tuple(value)


def operations(value: Any) -> frozenset[Operation]:
    """A non-empty list of known operations."""
    items = words(value)
    unknown = [v for v in items if v not in OPERATIONS]
    if unknown or not items:
        raise Bad(f"must list some of {', '.join(OPERATIONS)}; unknown: {unknown!r}")
    return frozenset(cast(Operation, v) for v in items)


def image_formats(value: Any) -> tuple[ImageFormat, ...]:
    """A list of image formats the bot can recognise."""
    items = words(value)
    unknown = [v for v in items if v not in IMAGE_FORMATS]
    if unknown:
        raise Bad(f"unknown image format(s) {unknown!r}; use {', '.join(IMAGE_FORMATS)}")
    return tuple(cast(ImageFormat, v) for v in items)


def day(value: Any) -> datetime.date | None:
    """A date (TOML date or "YYYY-MM-DD"), or ``false`` for none (the model isn't shutting down)."""
    if value is False:
        return None
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, str):
        try:
            return datetime.date.fromisoformat(value)
        except ValueError:
            pass
    raise Bad(f"must be a date like 2026-12-01, or false; got {value!r}")


def output_formats(value: Any) -> tuple[str, ...]:
    """A list of output formats a provider can send (image formats, and svg)."""
    items = words(value)
    unknown = [v for v in items if v not in OUTPUT_FORMATS]
    if unknown:
        raise Bad(f"unknown output format(s) {unknown!r}; use {', '.join(OUTPUT_FORMATS)}")
    return items


def size(value: Any) -> str:
    """``auto`` or ``WIDTHxHEIGHT``."""
    if not isinstance(value, str) or not is_size_string(value):
        raise Bad(f"{value!r} isn't a size; write WIDTHxHEIGHT (like 1024x1024) or 'auto'")
    return value


def sizes(value: Any) -> tuple[str, ...]:
    """A non-empty list of sizes."""
    if not isinstance(value, list) or not value:
        raise Bad(f"must be a non-empty list of sizes; got {value!r}")
    return tuple(size(v) for v in words(value))


def per_operation(parse: Parser[T]) -> Parser[dict[Operation, T]]:
    """Accept one value for every operation, or a table of values keyed by operation."""

    def parse_per_operation(value: Any) -> dict[Operation, T]:
        if not isinstance(value, Mapping):
            one = parse(value)
            return {op: one for op in OPERATIONS}
        unknown = [k for k in value if k not in OPERATIONS]
        if unknown:
            raise Bad(f"keys must be operations ({', '.join(OPERATIONS)}); got {unknown!r}")
        return {cast(Operation, k): parse(v) for k, v in value.items()}

    return parse_per_operation


def _table(value: Any, known: Mapping[str, Parser[Any]]) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise Bad(f"must be a table; got {value!r}")
    unknown = sorted(set(value) - set(known))
    if unknown:
        raise Bad(f"unknown key(s) {', '.join(unknown)}; known: {', '.join(known)}")
    return {k: known[k](v) for k, v in value.items()}


_FREE_SIZE_KEYS: dict[str, Parser[Any]] = {
    "multiple": count,
    "max_long": count,
    "max_short": count,
    "max_ratio": amount,
    "min_pixels": count,
    "max_pixels": count,
}


def free_size(value: Any) -> FreeSize:
    """The table ``{multiple, max_long, max_short, max_ratio[, min_pixels]}``."""
    values = _table(value, _FREE_SIZE_KEYS)
    missing = [k for k in ("multiple", "max_long", "max_short", "max_ratio") if k not in values]
    if missing:
        raise Bad(f"missing key(s) {', '.join(missing)}")
    if values["max_ratio"] < 1 or values["max_short"] > values["max_long"]:
        raise Bad("needs max_ratio >= 1 and max_short <= max_long")
    return FreeSize(**values)


_INPUT_KEYS: dict[str, Parser[Any]] = {
    "max_images": count,
    "formats": image_formats,
    "max_mb": amount,
    "square": flag,
    "max_side": count,
    "mask_max_mb": amount,
}


def input_rules(value: Any) -> InputRules:
    """The ``input`` table; sizes are in MiB, missing keys keep InputRules' defaults."""
    values = _table(value, _INPUT_KEYS)
    if "formats" in values:
        if not values["formats"]:
            raise Bad("formats must list at least one image format")
        values["formats"] = frozenset(values["formats"])
    for key, field_name in (("max_mb", "max_bytes"), ("mask_max_mb", "mask_max_bytes")):
        if key in values:
            values[field_name] = int(values.pop(key) * _MIB)
    return InputRules(**values)
