"""The input images of an edit or variation checked against a model's input rules, in a
member's words: how many, which formats, how large, square or not, and the mask."""

from __future__ import annotations

from bot.i18n import N_, Listed, Text, Words, lazy, lazy_n
from bot.images.codec import megabytes
from bot.images.types import ImageRequest, InputImage, InputRules
from bot.models.fields import IMAGE_FORMATS
from bot.models.spec import ModelSpec, size_text

_NO_VARY_IMAGE = N_("Attach an image to make variations of.")


def input_violations(
    spec: ModelSpec, request: ImageRequest, image_count: int | None = None
) -> list[Text]:
    """Why the images (and mask) of an edit or variation don't suit ``spec``; empty when they do.

    With ``image_count``, the images are not prepared yet: only their number is checked.
    """
    if request.operation == "generate":
        return []
    images = request.images
    missing = N_("Attach an image to edit.") if request.operation == "edit" else _NO_VARY_IMAGE
    rules, given = spec.input, len(images) if image_count is None else image_count
    if not given:
        return [lazy(missing)]
    found = []
    if given > rules.max_images:
        found.append(_too_many(spec.name, rules.max_images, given))
    for index, image in enumerate(images, start=1):
        which = lazy("The image") if len(images) == 1 else lazy("Image {index}", index=index)
        found += _image(spec.name, which, image, rules)
    if request.mask is None or not images:
        return found
    return found + _mask(request.mask, images[0], rules.mask_max_bytes)


def _too_many(name: str, most: int, given: int) -> Text:
    if most == 1:
        return lazy("{model} takes one image at a time; you gave {given}.", model=name, given=given)
    return lazy_n(
        "{model} takes at most {count} image; you gave {given}.",
        "{model} takes at most {count} images; you gave {given}.",
        most,
        model=name,
        given=given,
    )


def _image(name: str, which: Text, image: InputImage, rules: InputRules) -> list[Text]:
    """Why ``image`` (``which``: "The image", "Image 2") doesn't suit the model, if it doesn't."""
    formats = Listed(tuple(f for f in IMAGE_FORMATS if f in rules.formats), "or")
    size = size_text(image.width, image.height)
    checks = (
        (
            image.format in rules.formats,
            lazy(
                "{image} is a {format}; {model} takes {formats} images only.",
                image=which,
                format=image.format,
                model=name,
                formats=formats,
            ),
        ),
        (
            len(image.data) <= rules.max_bytes,
            lazy(
                "{image} is {size}; {model} takes images up to {limit}.",
                image=which,
                size=_mb(len(image.data)),
                model=name,
                limit=_mb(rules.max_bytes),
            ),
        ),
        (
            not rules.square or image.width == image.height,
            lazy(
                "{image} is {size}; {model} needs square images.",
                image=which,
                size=size,
                model=name,
            ),
        ),
        (
            max(image.width, image.height) <= rules.max_side,
            lazy_n(
                "{image} is {size}; {model} takes images up to {count} pixel on a side.",
                "{image} is {size}; {model} takes images up to {count} pixels on a side.",
                rules.max_side,
                image=which,
                size=size,
                model=name,
            ),
        ),
    )
    return [reason for ok, reason in checks if not ok]


def _mask(mask: InputImage, first: InputImage, max_bytes: int) -> list[Text]:
    mask_size, image_size = size_text(mask.width, mask.height), size_text(first.width, first.height)
    checks = (
        (
            mask.format == "png",
            lazy("The mask must be a png; yours is a {format}.", format=mask.format),
        ),
        (
            len(mask.data) <= max_bytes,
            lazy(
                "The mask is {size}; it can be at most {limit}.",
                size=_mb(len(mask.data)),
                limit=_mb(max_bytes),
            ),
        ),
        (
            mask_size == image_size,
            lazy(
                "The mask is {mask} but the image is {image}; they must match.",
                mask=mask_size,
                image=image_size,
            ),
        ),
    )
    return [message for ok, message in checks if not ok]


def _mb(size: int) -> Words:
    """Size as members read it, rounded up so that a file just over a limit doesn't read as the
    limit."""
    return megabytes(size, round_up=True)
