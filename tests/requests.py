"""Build ``ImageRequest``s in tests with the API's flat field names (``n=2, size=...``)."""

from __future__ import annotations

import dataclasses
from typing import Any

from bot.images.params import Params
from bot.images.types import ImageRequest, Operation

_PARAMS = {f.name for f in dataclasses.fields(Params)}


def _request(operation: Operation, *args: Any, **fields: Any) -> ImageRequest:
    names = {"generate": ("model", "prompt"), "edit": ("model", "prompt", "images")}.get(
        operation, ("model", "image")
    )
    fields.update(zip(names, args, strict=False))
    params = Params(**{k: fields.pop(k) for k in list(fields) if k in _PARAMS})
    if "image" in fields:
        image = fields.pop("image")
        fields["images"] = () if image is None else (image,)
    if "images" in fields:
        fields["images"] = tuple(fields["images"])
    return ImageRequest(operation, params=params, **fields)


def generate_request(*args: Any, **fields: Any) -> ImageRequest:
    """A ``POST /images/generations`` request."""
    return _request("generate", *args, **fields)


def edit_request(*args: Any, **fields: Any) -> ImageRequest:
    """A ``POST /images/edits`` request."""
    return _request("edit", *args, **fields)


def variation_request(*args: Any, **fields: Any) -> ImageRequest:
    """A ``POST /images/variations`` request (``image=`` one image)."""
    return _request("variation", *args, **fields)
