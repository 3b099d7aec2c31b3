"""Imagine / edit / vary: from a member's request to finished images. No Discord here."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from bot import presets
from bot.errors import (
    AuthenticationFailed,
    EndpointMissing,
    ImageInputError,
    ModelUnavailable,
    QuotaExhausted,
    StreamRefused,
)
from bot.fetch import ImageSource
from bot.i18n import N_, Command, Text, Words, lazy
from bot.images import processing
from bot.images.codec import EXTENSIONS
from bot.images.params import Params
from bot.images.stream import OnPartial
from bot.images.types import ImageRequest, ImageResult, InputImage, Operation, RawImage, Usage
from bot.models import Catalog, ModelSpec
from bot.models.aspect import size_for_photo
from bot.models.shaping import shaped
from bot.models.spec import Plan
from bot.offload import Offloader
from bot.provider import Provider

_NOT_STREAMED = frozenset({"gif", "svg"})  # formats the API makes in one piece
# A server's own provider failing: its moderators can fix it, not the bot's operator.
OWN_KEY_REFUSED = lazy(
    "This server's image service refused its API key. The moderators have been told; "
    "one of them can set a new key with {command}.",
    command=Command("settings provider"),
)
OWN_CREDIT_GONE = lazy(
    "This server's image service says its credit has run out. The moderators have been told."
)
# A model or endpoint the provider turned out not to have, by whose provider it is (own: the
# server's) and, for an endpoint, by what was asked of it.
_GONE = {
    False: N_("{model} isn't offered by the image service any more."),
    True: N_("{model} isn't offered by this server's image service any more."),
}
_NO_ENDPOINT: dict[tuple[bool, Operation], str] = {
    (False, "generate"): N_("The image service has no endpoint to create images."),
    (False, "edit"): N_("The image service has no endpoint to edit images."),
    (False, "variation"): N_("The image service has no endpoint to make variations."),
    (True, "generate"): N_("This server's image service has no endpoint to create images."),
    (True, "edit"): N_("This server's image service has no endpoint to edit images."),
    (True, "variation"): N_("This server's image service has no endpoint to make variations."),
}

Fit = Literal["crop", "pad"]
Strength = Literal["subtle", "strong"]


@dataclass(frozen=True, slots=True)
class JobSpec:
    """Everything a member asked for; images are sources, read only when the job runs."""

    operation: Operation
    model: str
    prompt: str = ""
    params: Params = field(default_factory=Params)
    fit: Fit = "crop"
    strength: Strength = "subtle"  # variations made by editing: how far from the source
    images: tuple[ImageSource, ...] = ()
    mask: ImageSource | None = None
    # The images were found on a message rather than picked: use as many as the model takes.
    images_found: bool = False
    preset: str | None = None  # the server preset's name; "none": none, not even a preferred one
    template: str | None = None  # the preset's template, filled in by JobRunner.admit
    rerun: bool = False  # a stored job asked for again: as it was, the member's defaults left out
    notes: tuple[Words, ...] = ()  # what admitting it changed, said with the result
    blend: bool = False  # /blend: several images made into one (bot.blend decides which)

    def sent_prompt(self) -> str:
        """The prompt the API gets: the member's, inside the preset's template when there is one
        (stored and shown is always the member's own)."""
        return presets.fill(self.template, self.prompt) if self.template else self.prompt

    def stored(self) -> dict[str, object]:
        """The parameters worth storing and showing (no image bytes, no None values)."""
        values: dict[str, object] = {**self.params.stored(), "fit": self.fit}
        if self.operation == "variation":
            values["strength"] = self.strength
        if self.preset and self.template:
            values["preset"] = self.preset
        values["images"] = [source.filename for source in self.images]
        values["image_urls"] = [source.url for source in self.images if source.url]
        # Where each image is on Discord, to read a fresh link once the stored one expires.
        if any(source.message for source in self.images):
            values["image_messages"] = [_message(source) for source in self.images]
        if self.mask is not None:
            values["mask"] = self.mask.filename
            if self.mask.url:
                values["mask_url"] = self.mask.url
            if self.mask.message:
                values["mask_message"] = _message(self.mask)
        return {k: v for k, v in values.items() if v not in (None, [])}


def _message(source: ImageSource) -> list[int] | None:
    return list(source.message) if source.message else None


@dataclass(frozen=True, slots=True)
class Outcome:
    """The finished images, what was sent to get them, and what the bot adapted on the way."""

    result: ImageResult
    requests: tuple[ImageRequest, ...]
    notes: tuple[Words, ...] = ()

    @property
    def size(self) -> str | None:
        """The size made: as the API says, else as it was asked for (an edit's shape included)."""
        return self.result.size or (self.requests[0].params.size if self.requests else None)

    @property
    def quality(self) -> str | None:
        """The quality made: as the API says, else as it was asked for."""
        return self.result.quality or (self.requests[0].params.quality if self.requests else None)


class ImageService:
    """Validates, prepares inputs, calls the provider and merges the results of one job."""

    def __init__(
        self,
        provider: Provider,
        offload: Offloader,
        *,
        max_input_bytes: int,
        safety_salt: bytes | None = None,
        partial_images: int = 0,
    ) -> None:
        self.provider = provider
        self.offload = offload
        self.max_input_bytes = max_input_bytes
        self.safety_salt = safety_salt  # None: no safety identifier is sent
        self.partial_images = partial_images  # previews per streamed image; 0: never streamed

    @property
    def catalog(self) -> Catalog:
        return self.provider.catalog

    def check(self, job: JobSpec, provider: Provider | None = None) -> JobSpec:
        """Everything that can be refused before a download or a credit is spent; returns the job
        as it will run (its aspect ratio and detail made a size for its model).

        ``provider``: where the job goes (default: the operator's).
        """
        provider = provider or self.provider
        spec = provider.require(job.model, job.operation)
        others = provider.usable()
        job = dataclasses.replace(job, params=shaped(spec, job.operation, job.params, others))
        request = _request(job, spec, self.catalog, images=(), mask=None)
        self.catalog.precheck(request, image_count=len(job.images), spec=spec, others=others)
        for source in (*job.images, *([job.mask] if job.mask else [])):
            source.check_declared_size(self.max_input_bytes)
        return job

    async def run(
        self,
        job: JobSpec,
        *,
        member: int | None = None,
        on_partial: OnPartial | None = None,
        provider: Provider | None = None,
    ) -> Outcome:
        """Run a job end to end on ``provider`` (default: the operator's) and return its images;
        ``member`` is hashed for the provider.

        With ``on_partial``, a model that streams here sends previews of its image while it
        draws it, each handed to ``on_partial`` as it arrives.
        """
        provider = provider or self.provider
        job = self.check(job, provider)
        spec = provider.require(job.model, job.operation)
        notes: list[Words] = list(job.notes)
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
                edit=spec.endpoint(job.operation) == "edit",
            )
            # Uploads are named by the bot: a member's filename can hold newlines or paths.
            images = tuple(_named(image, f"image{n}") for n, image in enumerate(prepared.images, 1))
            mask = _named(prepared.mask, "mask") if prepared.mask else None
            notes.extend(prepared.notes)
        request = _request(job, spec, self.catalog, images=images, mask=mask)
        request = dataclasses.replace(request, safety_identifier=self._safety_id(member))
        plan = self.catalog.plan(request, spec, provider.usable())
        notes.extend(plan.notes)
        if job.operation == "variation" and request.operation == "edit":
            notes.append(_varied_by_edit(spec.name, job.strength))
        requests = self._streamed(provider, spec, plan) if on_partial is not None else plan.requests
        sent = await asyncio.gather(
            *(self._call(provider, spec, job, r, on_partial) for r in requests)
        )
        results = [result for result, _ in sent]
        return Outcome(_merge(results), tuple(request for _, request in sent), tuple(notes))

    def _streamed(
        self, provider: Provider, spec: ModelSpec, plan: Plan
    ) -> tuple[ImageRequest, ...]:
        """The plan's requests, asking for previews where they can have them.

        Only a lone request for one image streams: partial image events carry no index of the
        image they belong to, so the previews of n > 1 images (or of parallel requests) could
        not be told apart. GIF and SVG are made in one piece and never stream.
        """
        if (
            self.partial_images <= 0
            or len(plan.requests) != 1
            or plan.requests[0].n != 1
            or plan.requests[0].params.output_format in _NOT_STREAMED
            or not provider.streams(spec.name)
        ):
            return plan.requests
        return (dataclasses.replace(plan.requests[0], partial_images=self.partial_images),)

    async def fit_for_upload(
        self,
        result: ImageResult,
        limit_bytes: int,
        total_limit: int | None = None,
        *,
        total_known: bool = True,
    ) -> processing.Fitted:
        """Shrink result images that don't fit Discord's upload limit (others stay untouched)."""
        # The usual case costs nothing: no round trip of the images through a worker process.
        if all(len(image.data) <= limit_bytes for image in result.images) and (
            total_limit is None or sum(len(i.data) for i in result.images) <= total_limit
        ):
            return processing.Fitted(images=result.images, notes=())
        return await self.offload.run(
            processing.fit_for_upload,
            result.images,
            limit_bytes,
            total_limit=total_limit,
            total_known=total_known,
        )

    async def _read(self, source: ImageSource) -> RawImage:
        data = await source.read(self.max_input_bytes)
        if len(data) > self.max_input_bytes:
            raise ImageInputError(
                lazy("{name} is larger than the upload limit.", name=source.filename)
            )
        return RawImage(data, source.filename)

    async def _call(
        self,
        provider: Provider,
        spec: ModelSpec,
        job: JobSpec,
        request: ImageRequest,
        on_partial: OnPartial | None,
    ) -> tuple[ImageResult, ImageRequest]:
        """The result, and the request that got it (without ``stream`` if that was refused)."""
        try:
            return await self._send(provider, spec, job, request, on_partial), request
        except StreamRefused:
            if not request.streams:
                raise
            # A refused parameter made and billed nothing: ask once more, plainly.
            provider.mark_no_stream(spec.name)
            request = dataclasses.replace(request, partial_images=0)
            return await self._send(provider, spec, job, request, None), request

    async def _send(
        self,
        provider: Provider,
        spec: ModelSpec,
        job: JobSpec,
        request: ImageRequest,
        on_partial: OnPartial | None,
    ) -> ImageResult:
        try:
            return await provider.client.call(request, on_partial=on_partial)
        except ModelUnavailable as err:
            provider.mark_gone(spec.name)
            instead = provider.replacement(spec, job.operation)
            gone = lazy(_GONE[provider.own], model=spec.name)
            hint = lazy("Use {model} instead.", model=instead) if instead else None
            err.message = _with_hint(gone, hint)
            raise
        except EndpointMissing as err:
            provider.mark_missing(request.operation)
            instead = provider.default(job.operation)
            missing = lazy(_NO_ENDPOINT[provider.own, request.operation])
            hint = lazy("Try again: I'll use {model}.", model=instead) if instead else None
            err.message = _with_hint(missing, hint)
            raise
        except AuthenticationFailed as err:
            if provider.own:
                err.message = OWN_KEY_REFUSED
            raise
        except QuotaExhausted as err:
            if provider.own:
                err.message = OWN_CREDIT_GONE
            raise

    def _safety_id(self, member: int | None) -> str | None:
        if member is None or self.safety_salt is None:
            return None
        return safety_identifier(self.safety_salt, member)


def _with_hint(problem: Text, hint: Text | None) -> Text:
    """A refusal and, when there is one, what to do instead, as one message."""
    return problem if hint is None else lazy("{problem} {hint}", problem=problem, hint=hint)


def _varied_by_edit(model: str, strength: Strength) -> Text:
    """The note of a variation asked for through an edit (the model has no variations)."""
    if strength == "strong":
        return lazy(
            "{model} has no variations endpoint, so I asked it for a strong variation "
            "through an edit.",
            model=model,
        )
    return lazy(
        "{model} has no variations endpoint, so I asked it for a subtle variation through an edit.",
        model=model,
    )


def safety_identifier(salt: bytes, member: int) -> str:
    """A stable, salted hash of a member: the provider can tell members apart, never who."""
    return hmac.new(salt, f"discord-member:{member}".encode(), hashlib.sha256).hexdigest()[:32]


def _request(
    job: JobSpec,
    spec: ModelSpec,
    catalog: Catalog,
    *,
    images: tuple[InputImage, ...],
    mask: InputImage | None,
) -> ImageRequest:
    """The API request a job stands for (images filled in once prepared)."""
    endpoint = spec.endpoint(job.operation)
    prompt = job.sent_prompt()
    if job.operation == "variation" and endpoint == "edit":
        instruction = catalog.vary_prompts.get(job.strength, "")
        prompt = f"{instruction} {job.prompt}".strip()
    params = job.params
    if endpoint == "edit" and images and params.size is None:  # keep the photo's shape
        first = images[0]
        size = size_for_photo(spec, endpoint, first.width, first.height, params.detail)
        params = params.replace(size=size)
    return ImageRequest(endpoint, spec.name, prompt, params, images, mask)


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
