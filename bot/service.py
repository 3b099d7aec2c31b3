"""Imagine / edit / vary: from a member's request to finished images. No Discord here."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from bot.errors import ImageInputError
from bot.fetch import ImageSource
from bot.images import processing
from bot.images.client import ImagesClient
from bot.images.codec import EXTENSIONS
from bot.images.types import (
    EditRequest,
    GenerateRequest,
    ImageRequest,
    ImageResult,
    InputImage,
    Operation,
    RawImage,
    Usage,
    VariationRequest,
)
from bot.models import Catalog, ModelSpec
from bot.offload import Offloader

Fit = Literal["crop", "pad"]


@dataclass(frozen=True, slots=True)
class JobSpec:
    """Everything a member asked for; images are sources, read only when the job runs."""

    operation: Operation
    model: str
    prompt: str = ""
    n: int = 1
    size: str | None = None
    quality: str | None = None
    style: str | None = None
    background: str | None = None
    output_format: str | None = None
    output_compression: int | None = None
    moderation: str | None = None
    input_fidelity: str | None = None
    fit: Fit = "crop"
    images: tuple[ImageSource, ...] = ()
    mask: ImageSource | None = None

    def params(self) -> dict[str, object]:
        """The parameters worth storing and showing (no image bytes, no None values)."""
        skip = {"operation", "model", "prompt", "images", "mask"}
        values = {
            f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in skip
        }
        values["images"] = [source.filename for source in self.images]
        values["image_urls"] = [source.url for source in self.images if source.url]
        if self.mask is not None:
            values["mask"] = self.mask.filename
            if self.mask.url:
                values["mask_url"] = self.mask.url
        return {k: v for k, v in values.items() if v not in (None, [])}


@dataclass(frozen=True, slots=True)
class Outcome:
    """The finished images, what was sent to get them, and what the bot adapted on the way."""

    result: ImageResult
    requests: tuple[ImageRequest, ...]
    notes: tuple[str, ...] = ()


class ImageService:
    """Validates, prepares inputs, calls the API and merges the results of one job."""

    def __init__(
        self,
        client: ImagesClient,
        catalog: Catalog,
        offload: Offloader,
        *,
        max_input_bytes: int,
    ) -> None:
        self.client = client
        self.catalog = catalog
        self.offload = offload
        self.max_input_bytes = max_input_bytes

    def check(self, job: JobSpec) -> ModelSpec:
        """Everything that can be refused before a download or a credit is spent."""
        spec = self.catalog.get(job.model)
        self.catalog.precheck(_request(job, images=(), mask=None), image_count=len(job.images))
        for source in (*job.images, *([job.mask] if job.mask else [])):
            source.check_declared_size(self.max_input_bytes)
        return spec

    async def run(self, job: JobSpec) -> Outcome:
        """Run a job end to end and return its images."""
        spec = self.check(job)
        notes: list[str] = []
        images: tuple[InputImage, ...] = ()
        mask: InputImage | None = None
        if job.operation != "generate":
            raws = await asyncio.gather(*(self._read(s) for s in job.images))
            raw_mask = await self._read(job.mask) if job.mask else None
            prepared = await self.offload.run(
                processing.prepare_inputs,
                raws,
                raw_mask,
                spec.input,
                fit=job.fit,
                max_bytes=self.max_input_bytes,
                model=spec.name,
            )
            # Uploads are named by the bot: a member's filename can hold newlines or paths.
            images = tuple(_named(image, f"image{n}") for n, image in enumerate(prepared.images, 1))
            mask = _named(prepared.mask, "mask") if prepared.mask else None
            notes.extend(prepared.notes)
        plan = self.catalog.plan(_request(job, images=images, mask=mask))
        notes.extend(plan.notes)
        results = await asyncio.gather(*(self._call(request) for request in plan.requests))
        return Outcome(_merge(results), plan.requests, tuple(notes))

    async def fit_for_upload(
        self, result: ImageResult, limit_bytes: int, total_limit: int | None = None
    ) -> processing.Fitted:
        """Shrink result images that don't fit Discord's upload limit (others stay untouched)."""
        # The usual case costs nothing: no round trip of the images through a worker process.
        if all(len(image.data) <= limit_bytes for image in result.images) and (
            total_limit is None or sum(len(i.data) for i in result.images) <= total_limit
        ):
            return processing.Fitted(images=result.images, notes=())
        return await self.offload.run(
            processing.fit_for_upload, result.images, limit_bytes, total_limit=total_limit
        )

    async def _read(self, source: ImageSource) -> RawImage:
        data = await source.read(self.max_input_bytes)
        if len(data) > self.max_input_bytes:
            raise ImageInputError(f"{source.filename} is larger than the upload limit.")
        return RawImage(data, source.filename)

    async def _call(self, request: ImageRequest) -> ImageResult:
        if isinstance(request, GenerateRequest):
            return await self.client.generate(request)
        if isinstance(request, EditRequest):
            return await self.client.edit(request)
        return await self.client.create_variation(request)


def _request(
    job: JobSpec, *, images: Sequence[InputImage], mask: InputImage | None
) -> ImageRequest:
    """The API request a job stands for (images filled in once prepared)."""
    if job.operation == "generate":
        return GenerateRequest(
            model=job.model,
            prompt=job.prompt,
            n=job.n,
            size=job.size,
            quality=job.quality,
            style=job.style,
            background=job.background,
            output_format=job.output_format,
            output_compression=job.output_compression,
            moderation=job.moderation,
        )
    if job.operation == "edit":
        return EditRequest(
            model=job.model,
            prompt=job.prompt,
            images=tuple(images),
            mask=mask,
            n=job.n,
            size=job.size,
            quality=job.quality,
            background=job.background,
            output_format=job.output_format,
            output_compression=job.output_compression,
            input_fidelity=job.input_fidelity,
        )
    return VariationRequest(
        model=job.model,
        image=images[0] if images else None,  # type: ignore[arg-type]  # precheck runs before the image exists
        n=job.n,
        size=job.size,
    )


def _named(image: InputImage, stem: str) -> InputImage:
    """``image`` under a filename the bot chose, with the extension of its real format."""
    return dataclasses.replace(image, filename=f"{stem}{EXTENSIONS[image.format]}")


def _merge(results: Sequence[ImageResult]) -> ImageResult:
    """One result from the parallel calls of a split request."""
    first = results[0]
    if len(results) == 1:
        return first
    usages = [r.usage for r in results if r.usage is not None]
    usage = None
    if usages:
        usage = Usage(
            **{f.name: sum(getattr(u, f.name) for u in usages) for f in dataclasses.fields(Usage)}
        )
    images = tuple(image for r in results for image in r.images)
    return dataclasses.replace(first, images=images, usage=usage)
