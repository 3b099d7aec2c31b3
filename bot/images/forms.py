"""The multipart forms of ``/images/edits`` and ``/images/variations``, as the SDK sends them.

Each is returned as a builder, not a form: an ``aiohttp.FormData`` can be sent only once, so every
attempt of the retry policy builds its own from the same fields and files.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aiohttp

from bot.images.types import ImageRequest, InputImage

FormBuilder = Callable[[], aiohttp.FormData]


def edit_form(req: ImageRequest) -> FormBuilder:
    """The edit's fields, its image(s) (``image[]`` when several), its mask and its markup."""
    fields, images = req.text_fields(), req.images
    name = "image" if len(images) == 1 else "image[]"

    def form() -> aiohttp.FormData:
        data = _text_form(fields)
        for image in images:
            _add_file(data, name, image)
        if req.mask is not None:
            _add_file(data, "mask", req.mask, mime="image/png")
        if req.markup is not None:
            _add_file(data, "markup", req.markup, mime="image/png")
        return data

    return form


def variation_form(req: ImageRequest) -> FormBuilder:
    """The variation's fields and its one image."""
    fields = req.text_fields()

    def form() -> aiohttp.FormData:
        data = _text_form(fields)
        _add_file(data, "image", req.images[0])
        return data

    return form


def _text_form(fields: dict[str, Any]) -> aiohttp.FormData:
    data = aiohttp.FormData()
    for key, value in fields.items():
        if isinstance(value, bool):
            data.add_field(key, "true" if value else "false")  # as the SDK sends them
        elif value is not None:
            data.add_field(key, str(value))
    return data


def _add_file(data: aiohttp.FormData, name: str, image: InputImage, mime: str = "") -> None:
    data.add_field(name, image.data, filename=image.filename, content_type=mime or image.mime)
