"""Pillow processing of member inputs and results: the one import for the service layer.

All of it is synchronous and CPU-bound, with picklable arguments and results: run it through
``asyncio.to_thread`` or a process pool, never on the event loop.
"""

from __future__ import annotations

from bot.images.codec import inspect
from bot.images.fit import Fitted, fit_for_upload
from bot.images.prepare import NO_TRANSPARENT_AREA, Fit, Prepared, prepare_inputs

__all__ = [
    "NO_TRANSPARENT_AREA",
    "Fit",
    "Fitted",
    "Prepared",
    "fit_for_upload",
    "inspect",
    "prepare_inputs",
]
