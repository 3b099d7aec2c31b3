"""/blend: several images made into one picture, as an edit that sends them all.

Which images a blend sends is decided here, from the model it will use: at least two, at most as
many as the model takes (the rest left out, with a note the member reads under the result), and
never to a model that takes one image at a time.
"""

from __future__ import annotations

from bot.errors import ImageInputError, NotAllowed
from bot.fetch import ImageSource
from bot.models import ModelSpec
from bot.words import plural

# Sent when the member gives no prompt of their own.
BLEND_PROMPT = (
    "Blend these images into one picture: combine their subjects, styles and colours into a "
    "single, natural-looking image."
)
MAX_LINKS = 16  # message links one /blend reads (each is a request to Discord)
NO_IMAGES = (
    "Give me at least two images to blend: attach them, or paste links to messages that have them."
)
ONE_IMAGE = "Blending needs at least two images, and you gave one. To change one image, use /edit."


def fit_blend(
    spec: ModelSpec | None, images: tuple[ImageSource, ...]
) -> tuple[tuple[ImageSource, ...], tuple[str, ...]]:
    """The images a blend sends to ``spec`` (the model it will use), and notes for the member.

    ``spec`` None, or a model that can't edit at all: the job's admission refuses it, naming what
    to use instead.
    """
    if not images:
        raise ImageInputError(NO_IMAGES)
    if len(images) == 1:
        raise ImageInputError(ONE_IMAGE)
    if spec is None or not spec.can("edit"):
        return images, ()
    most = spec.input.max_images
    if most < 2:
        raise NotAllowed(
            f"{spec.name} takes one image at a time, so it can't blend images. "
            "Pick a GPT image model."
        )
    if len(images) <= most:
        return images, ()
    note = (
        f"{spec.name} takes at most {plural(most, 'image', 'images')}, so I blended the first "
        f"{most} of the {len(images)} you gave."
    )
    return images[:most], (note,)
