"""/blend: several images made into one picture, as an edit that sends them all.

Which images a blend sends is decided here, once the job's model is known (the member's choice,
preset, preference or the server's default; ``JobRunner.admit``): at least two, at most as many
as the model takes (the rest left out, with a note the member reads under the result), and never
to a model that takes one image at a time.
"""

from __future__ import annotations

import dataclasses

from bot.errors import ImageInputError, NotAllowed
from bot.fetch import ImageSource
from bot.i18n import Command, Words, lazy, lazy_n
from bot.models import ModelSpec
from bot.service import JobSpec

# Sent when the member gives no prompt of their own.
BLEND_PROMPT = (
    "Blend these images into one picture: combine their subjects, styles and colours into a "
    "single, natural-looking image."
)
MAX_LINKS = 16  # message links one /blend reads (each is a request to Discord)
NO_IMAGES = lazy(
    "Give me at least two images to blend: attach them, or paste links to messages that have them."
)
ONE_IMAGE = lazy(
    "Blending needs at least two images, and you gave one. To change one image, use {edit}.",
    edit=Command("edit"),
)


def fitted(job: JobSpec, model: ModelSpec) -> JobSpec:
    """The blend ``job`` with the images ``model`` (the one it will use) takes, a note when some
    were left out, and the default instruction when the member gave no prompt (a refusal before
    this quotes back only what the member wrote)."""
    images, notes = fit_blend(model, job.images)
    return dataclasses.replace(
        job, prompt=job.prompt or BLEND_PROMPT, images=images, notes=(*job.notes, *notes)
    )


def fit_blend(
    spec: ModelSpec, images: tuple[ImageSource, ...]
) -> tuple[tuple[ImageSource, ...], tuple[Words, ...]]:
    """The images a blend sends to ``spec`` (the model it will use), and notes for the member."""
    if not images:
        raise ImageInputError(NO_IMAGES)
    if len(images) == 1:
        raise ImageInputError(ONE_IMAGE)
    most = spec.input.max_images
    if most < 2:
        raise NotAllowed(
            lazy(
                "{model} takes one image at a time, so it can't blend images. "
                "Pick a GPT image model.",
                model=spec.name,
            )
        )
    if len(images) <= most:
        return images, ()
    note = lazy_n(
        "{model} takes at most {count} image, so I blended the first {count} of the {given} "
        "you gave.",
        "{model} takes at most {count} images, so I blended the first {count} of the {given} "
        "you gave.",
        most,
        model=spec.name,
        given=len(images),
    )
    return images[:most], (note,)
