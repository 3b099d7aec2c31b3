"""What ``POST /moderations`` answers, read into one typed verdict (``ImagesClient.moderate``).

The answer has one result per input; the bot sends one string, so the verdict is that result's
``flagged`` and the names of the categories it flagged, as the API spells them
("self-harm/intent"). How members read those names is ``bot.safety``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MODERATION_MODEL = "omni-moderation-latest"


@dataclass(frozen=True, slots=True)
class Moderation:
    """The provider's verdict on a text: flagged or not, and which categories it flagged."""

    flagged: bool
    categories: tuple[str, ...] = ()


def parse_moderation(payload: Any) -> Moderation | None:
    """The verdict in a ``CreateModerationResponse``; None when the body isn't one."""
    results = payload.get("results") if isinstance(payload, dict) else None
    if not isinstance(results, list) or not results or not isinstance(results[0], dict):
        return None
    first = results[0]
    flagged = first.get("flagged")
    if not isinstance(flagged, bool):
        return None
    categories = first.get("categories")
    names = (
        tuple(name for name, on in categories.items() if isinstance(name, str) and on is True)
        if isinstance(categories, dict)
        else ()
    )
    return Moderation(flagged, names)
