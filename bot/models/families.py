"""Place a model id the catalog doesn't know in a known family, to use it on the day it appears.

``gpt-image-2.7-sunburst`` is taken as ``gpt-image-2.6-sunburst`` (same family and variant, the
nearest version below), ``gpt-image-2.6-flare-2027-01-05`` as the snapshot of
``gpt-image-2.6-flare``, ``gpt-image-3`` as ``gpt-image-2``. Ids without a version in a known
family (``whisper-1``, ``flux-schnell``) are not guessed: operators declare those in their TOML.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from dataclasses import dataclass

from bot.models.spec import ModelSpec

_SNAPSHOT = re.compile(r"^(?P<base>.+)-(?P<date>\d{4}-\d{2}-\d{2})$")
_VERSIONED = re.compile(
    r"^(?P<family>[a-z]+(?:-[a-z]+)*)-(?P<version>\d+(?:\.\d+)*)(?P<variant>(?:-[a-z][a-z0-9]*)*)$"
)


@dataclass(frozen=True, slots=True)
class _Name:
    family: str
    version: tuple[int, ...]
    variant: str


def _parse(name: str) -> _Name | None:
    match = _VERSIONED.match(name)
    if match is None:
        return None
    version = tuple(int(part) for part in match["version"].split("."))
    return _Name(match["family"], version, match["variant"])


def nearest_known(name: str, known: Iterable[ModelSpec]) -> ModelSpec | None:
    """The catalog model whose limits ``name`` most likely has, or None when there is none."""
    models = {spec.name: spec for spec in known}
    snapshot = _SNAPSHOT.match(name)
    base = snapshot["base"] if snapshot else name
    if base in models:
        return models[base]
    parsed = _parse(base)
    if parsed is None:
        return None
    kin = [
        (spec, other)
        for spec in models.values()
        if not _SNAPSHOT.match(spec.name)
        and (other := _parse(spec.name)) is not None
        and other.family == parsed.family
    ]
    same = [pair for pair in kin if pair[1].variant == parsed.variant] or kin
    if not same:
        return None
    below = [pair for pair in same if pair[1].version <= parsed.version]
    if below:
        return max(below, key=lambda pair: pair[1].version)[0]
    return min(same, key=lambda pair: pair[1].version)[0]


def assumed(name: str, base: ModelSpec) -> ModelSpec:
    """``base``'s limits under the new id, marked as assumed, with no lifecycle of its own."""
    return dataclasses.replace(
        base,
        name=name,
        label=name,
        description="",  # /help words it in the member's language (bot/help_text.py)
        shutdown=None,
        replacement=None,
        lineage=(base.name, *base.lineage),
        assumed_from=base.name,
    )
