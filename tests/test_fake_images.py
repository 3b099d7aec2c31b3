"""The fake Images API is as strict as the real services: SDK 3.57 rules, two worlds, faults.

Plain aiohttp requests, not the bot's client, so these facts hold whatever the client does.
"""

from __future__ import annotations

import base64
import itertools
import json
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from datetime import date
from io import BytesIO
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from PIL import Image

from tests.fakes.openai_server import TEST_API_KEY, FakeImagesServer

DATA = Path(__file__).parent / "data"
AUTH = {"Authorization": f"Bearer {TEST_API_KEY}"}
NOT_FOUND = "The model `{}` does not exist or you do not have access to it."


@dataclass
class Answer:
    status: int
    body: Any

    @property
    def param(self) -> str | None:
        """The ``param`` of an error answer."""
        return self.body["error"]["param"] if self.status >= 400 else None

    def image(self, index: int = 0) -> Image.Image:
        """The ``index``-th image of a successful base64 answer, decoded."""
        im = Image.open(BytesIO(base64.b64decode(self.body["data"][index]["b64_json"])))
        im.load()
        return im


class Api:
    """Requests to one fake, the way any HTTP client would send them."""

    def __init__(self, fake: FakeImagesServer, session: aiohttp.ClientSession) -> None:
        self.fake, self.session = fake, session

    async def _answer(self, resp: aiohttp.ClientResponse) -> Answer:
        text = await resp.text()
        try:
            return Answer(resp.status, json.loads(text))
        except ValueError:
            return Answer(resp.status, text)

    async def get(self, path: str) -> Answer:
        async with self.session.get(self.fake.base_url + path, headers=AUTH) as resp:
            return await self._answer(resp)

    async def generate(self, model: str | None = "gpt-image-2", **fields: Any) -> Answer:
        body = {"prompt": "a lighthouse", **fields} | ({"model": model} if model else {})
        url = self.fake.base_url + "/images/generations"
        async with self.session.post(url, json=body, headers=AUTH) as resp:
            return await self._answer(resp)

    async def multipart(
        self, endpoint: str, fields: dict[str, Any], files: list[tuple[str, bytes, str]]
    ) -> Answer:
        form = aiohttp.FormData()
        for name, value in fields.items():
            form.add_field(name, str(value))
        for index, (name, data, mime) in enumerate(files):
            form.add_field(name, data, filename=f"f{index}.{mime[6:]}", content_type=mime)
        url = f"{self.fake.base_url}/images/{endpoint}"
        async with self.session.post(url, data=form, headers=AUTH) as resp:
            return await self._answer(resp)

    async def edit(
        self,
        model: str,
        *,
        images: list[bytes] | None = None,
        extra: Iterable[tuple[str, bytes, str]] = (),
        **fields: Any,
    ) -> Answer:
        pictures = images if images is not None else [png(64, 64)]
        files = [("image[]", data, "image/png") for data in pictures] + list(extra)
        return await self.multipart("edits", {"model": model, "prompt": "a hat", **fields}, files)

    async def vary(self, model: str = "dall-e-2") -> Answer:
        return await self.multipart("variations", {"model": model}, [("image", png(), "image/png")])


def png(width: int = 64, height: int = 64, *, hole: bool = False, fmt: str = "PNG") -> bytes:
    """A test picture; ``hole``: a transparent quarter, as a markup or mask has."""
    im = Image.new("RGBA" if fmt == "PNG" else "RGB", (width, height), (90, 140, 200))
    if hole:
        im.paste((0, 0, 0, 0), (0, 0, width // 2, height // 2))
    out = BytesIO()
    im.save(out, fmt)
    return out.getvalue()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
async def serve(session: aiohttp.ClientSession) -> AsyncIterator[Callable[..., Any]]:
    """``api = await serve(world=..., ...)``: a running fake and a way to talk to it."""
    fakes: list[FakeImagesServer] = []

    async def start(**kwargs: Any) -> Api:
        fake = FakeImagesServer(**kwargs)
        await fake.start()
        fakes.append(fake)
        return Api(fake, session)

    yield start
    for fake in fakes:
        await fake.close()


@pytest.fixture
async def gateway(serve: Callable[..., Any]) -> Api:
    api: Api = await serve(world="gateway")
    return api


@pytest.fixture
async def openai(serve: Callable[..., Any]) -> Api:
    api: Api = await serve(world="openai")
    return api


def assert_refused(answer: Answer, param: str, status: int = 400) -> None:
    assert answer.status == status, answer.body
    error = answer.body["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["param"] == param and error["message"]


# --- the SDK 3.57 models and rules -------------------------------------------------------------

NEW_MODELS = [
    "gpt-image-2",
    "gpt-image-2-2026-04-21",
    "gpt-image-2.5-sunburst",
    "gpt-image-2.5-sunburst-2026-09-08",
    "gpt-image-2.5-flare",
    "gpt-image-2.5-flare-2026-09-08",
    "gpt-image-2.6-sunburst",
    "gpt-image-2.6-flare",
    "gpt-image-1.5-2025-12-16",
]
MODELS_25 = [m for m in NEW_MODELS if "2.5" in m]


@pytest.mark.parametrize("model", NEW_MODELS)
async def test_every_new_model_generates_and_edits(gateway: Api, model: str) -> None:
    made = await gateway.generate(model, size="1536x1024")
    edited = await gateway.edit(model)
    assert made.status == 200 and made.image().size == (1536, 1024)
    assert edited.status == 200 and edited.body["output_format"] == "png"
    assert model in {m["id"] for m in (await gateway.get("/models")).body["data"]}


async def test_complexity_is_for_gpt_image_models_only(gateway: Api) -> None:
    assert (await gateway.generate("gpt-image-2.6-flare", complexity="high")).status == 200
    assert (await gateway.edit("gpt-image-2.5-flare", complexity="low")).status == 200
    assert_refused(await gateway.generate("dall-e-3", complexity="high"), "complexity")
    assert_refused(await gateway.generate("gpt-image-2", complexity="extreme"), "complexity")


@pytest.mark.parametrize(
    ("model", "quality", "accepted"),
    [
        ("gpt-image-2.5-sunburst", "xhigh", True),
        ("gpt-image-2.5-flare-2026-09-08", "max", True),
        ("gpt-image-2", "xhigh", False),
        ("gpt-image-2.6-sunburst", "max", False),
        ("gpt-image-1.5", "high", True),
        ("gpt-image-1.5", "standard", False),
        ("dall-e-3", "hd", True),
        ("dall-e-3", "high", False),
        ("dall-e-2", "standard", True),
        ("dall-e-2", "hd", False),
    ],
)
async def test_quality_per_model(gateway: Api, model: str, quality: str, accepted: bool) -> None:
    answer = await gateway.generate(model, quality=quality, size="1024x1024")
    if accepted:
        assert answer.status == 200
        assert answer.body.get("quality", quality) == quality
    else:
        assert_refused(answer, "quality")


@pytest.mark.parametrize(
    ("model", "size", "accepted"),
    [
        ("gpt-image-2", "1536x864", True),
        ("gpt-image-2.5-sunburst-2026-09-08", "3840x2160", True),
        ("gpt-image-2.5-flare", "2160x3840", True),
        ("gpt-image-2.5-flare", "3072x1024", True),  # exactly 3:1
        ("gpt-image-2.5-flare", "3072x1008", False),  # wider than 3:1
        ("gpt-image-2", "3856x1296", False),  # fewer pixels than 4K, but the long side is over
        ("gpt-image-2", "3840x2176", False),  # short side over 2160
        ("gpt-image-2", "1000x1000", False),  # not multiples of 16
        ("gpt-image-2.6-sunburst", "1536x864", False),
        ("gpt-image-2.6-flare", "1024x1536", True),
        ("gpt-image-1.5", "1536x864", False),
        ("gpt-image-1.5", "512x512", False),
    ],
)
async def test_free_sizes(gateway: Api, model: str, size: str, accepted: bool) -> None:
    answer = await gateway.generate(model, size=size, quality="low")
    if accepted:
        width, height = (int(v) for v in size.split("x"))
        assert answer.status == 200 and answer.body["size"] == size
        assert answer.image().size == (width, height)
    else:
        assert_refused(answer, "size")


@pytest.mark.parametrize(
    ("model", "fidelity", "accepted"),
    [
        ("gpt-image-1.5", "high", True),
        ("gpt-image-1.5-2025-12-16", "low", True),
        ("gpt-image-1", "high", True),
        ("gpt-image-1-mini", "low", True),
        ("gpt-image-1-mini", "high", False),
        ("gpt-image-2", "low", False),
        ("gpt-image-2-2026-04-21", "high", False),
        ("gpt-image-2.5-sunburst", "low", False),
        ("gpt-image-2.6-flare", "high", False),
        ("chatgpt-image-latest", "low", False),
    ],
)
async def test_input_fidelity(gateway: Api, model: str, fidelity: str, accepted: bool) -> None:
    answer = await gateway.edit(model, input_fidelity=fidelity)
    if accepted:
        assert answer.status == 200
    else:
        assert_refused(answer, "input_fidelity")


async def test_input_fidelity_is_an_edit_parameter(gateway: Api) -> None:
    assert_refused(await gateway.generate("gpt-image-1.5", input_fidelity="high"), "input_fidelity")


@pytest.mark.parametrize("model", MODELS_25)
async def test_markup_guides_a_25_edit(gateway: Api, model: str) -> None:
    markup = [("markup", png(hole=True), "image/png")]
    answer = await gateway.edit(model, extra=markup)
    assert answer.status == 200 and answer.image().format == "PNG"


@pytest.mark.parametrize(
    ("model", "markup", "with_mask"),
    [
        ("gpt-image-2", png(hole=True), False),  # not a 2.5 model
        ("gpt-image-2.6-sunburst", png(hole=True), False),
        ("gpt-image-2.5-sunburst", png(hole=True), True),  # never with a mask
        ("gpt-image-2.5-sunburst", png(32, 64, hole=True), False),  # not the image's size
        ("gpt-image-2.5-flare", png(), False),  # no transparent pixels
        ("gpt-image-2.5-flare", png(fmt="JPEG"), False),  # not a PNG
    ],
)
async def test_markup_refused(gateway: Api, model: str, markup: bytes, with_mask: bool) -> None:
    mime = "image/png" if markup.startswith(b"\x89PNG") else "image/jpeg"
    extra = [("markup", markup, mime)] + [("mask", png(hole=True), "image/png")] * with_mask
    assert_refused(await gateway.edit(model, extra=extra), "markup")


async def test_markup_is_unknown_to_dall_e(gateway: Api) -> None:
    answer = await gateway.edit("dall-e-2", extra=[("markup", png(hole=True), "image/png")])
    assert_refused(answer, "markup")


async def test_safety_identifier_on_gpt_models_and_user_everywhere(gateway: Api) -> None:
    hashed = await gateway.generate("gpt-image-2", safety_identifier="h-42", user="u-1")
    fallback = await gateway.edit("gpt-image-2.6-flare", safety_identifier="", user="u-7")
    assert hashed.status == 200 and hashed.body["safety_identifier"] == "h-42"
    assert fallback.status == 200 and fallback.body["safety_identifier"] == "u-7"
    assert (await gateway.generate("dall-e-3", user="u-1")).status == 200
    assert (
        await gateway.multipart("variations", {"user": "u-1"}, [("image", png(), "image/png")])
    ).status == 200
    assert_refused(
        await gateway.generate("dall-e-3", safety_identifier="h-42"), "safety_identifier"
    )


@pytest.mark.parametrize("model", ["gpt-image-2", "gpt-image-2.5-sunburst", "gpt-image-2.6-flare"])
async def test_style_and_response_format_are_for_dall_e_only(gateway: Api, model: str) -> None:
    assert_refused(await gateway.generate(model, style="vivid"), "style")
    refused = await gateway.generate(model, response_format="b64_json")
    assert_refused(refused, "response_format")
    assert refused.body["error"]["code"] == "unknown_parameter"
    dalle = await gateway.generate("dall-e-3", style="natural", response_format="b64_json")
    assert dalle.status == 200 and dalle.image().size == (1024, 1024)


@pytest.mark.parametrize("fmt", ["gif", "svg"])
async def test_gated_formats_need_access(serve: Callable[..., Any], fmt: str) -> None:
    plain: Api = await serve()
    only_gif: Api = await serve(gated_formats={"gif"})
    assert_refused(await plain.generate("gpt-image-2", output_format=fmt), "output_format")
    assert_refused(await plain.edit("gpt-image-2.5-flare", output_format=fmt), "output_format")
    if fmt == "svg":
        assert_refused(await only_gif.generate("gpt-image-2", output_format=fmt), "output_format")


async def test_gif_output_with_access(serve: Callable[..., Any]) -> None:
    api: Api = await serve(gated_formats=True)
    answer = await api.generate("gpt-image-2.5-sunburst", output_format="gif", frame_count=4)
    assert answer.status == 200 and answer.body["output_format"] == "gif"
    gif = answer.image()
    assert gif.format == "GIF" and getattr(gif, "n_frames", 1) == 4
    assert_refused(
        await api.generate("gpt-image-2", output_format="gif", frame_count=17), "frame_count"
    )
    assert_refused(await api.generate("gpt-image-2", frame_count=3), "frame_count")
    mask = [("mask", png(hole=True), "image/png")]
    assert_refused(await api.edit("gpt-image-2", output_format="gif", extra=mask), "mask")


async def test_svg_output_with_access(serve: Callable[..., Any]) -> None:
    api: Api = await serve(gated_formats=True)
    svg = {"model": "gpt-5", "reasoning": {"effort": "low"}}
    answer = await api.generate("gpt-image-2", output_format="svg", svg=svg)
    assert answer.status == 200 and answer.body["output_format"] == "svg"
    assert base64.b64decode(answer.body["data"][0]["b64_json"]).startswith(b"<svg")
    assert_refused(await api.generate("gpt-image-2", output_format="svg", n=2), "n")
    assert_refused(await api.generate("gpt-image-2", svg=svg), "svg")
    form: dict[str, Any] = {"svg[model]": "gpt-5", "svg[reasoning][effort]": "low"}
    edit = await api.edit("gpt-image-2.6-flare", output_format="svg", **form)
    assert edit.status == 200


# --- streaming (tests/fakes/openai_stream.py) --------------------------------------------------

STREAM_CONTRACT = json.loads((DATA / "openai_image_stream_events.json").read_text())


async def stream_events(
    api: Api, endpoint: str = "generations", **fields: Any
) -> tuple[str, list[tuple[str, dict[str, Any]]]]:
    """POST a streaming request; the Content-Type and each ``(event, data)`` of the answer."""
    url = f"{api.fake.base_url}/images/{endpoint}"
    if endpoint == "generations":
        body = {"model": "gpt-image-2", "prompt": "a lighthouse", "stream": True, **fields}
        request = api.session.post(url, json=body, headers=AUTH)
    else:
        form = aiohttp.FormData()
        for name, value in {"model": "gpt-image-2", "prompt": "a hat", **fields}.items():
            form.add_field(name, str(value))
        form.add_field("image", png(), filename="in.png", content_type="image/png")
        request = api.session.post(url, data=form, headers=AUTH)
    async with request as resp:
        assert resp.status == 200, await resp.text()
        text = await resp.text()
        ctype = resp.headers["Content-Type"]
    found = []
    for block in filter(None, text.split("\n\n")):
        lines = dict(line.split(": ", 1) for line in block.split("\n"))
        found.append((lines["event"], json.loads(lines["data"])))
    return ctype, found


def assert_contract(name: str, data: dict[str, Any]) -> None:
    shape = STREAM_CONTRACT["events"][name]
    assert set(shape["required"]) <= set(data) <= set(shape["required"] + shape["optional"])
    assert data["type"] == name
    for field_name, allowed in STREAM_CONTRACT["values"].items():
        assert data[field_name] in allowed


async def test_gpt_streams_partials_then_the_result(gateway: Api) -> None:
    plain = await gateway.generate("gpt-image-2", size="1536x1024", quality="low")
    ctype, found = await stream_events(gateway, size="1536x1024", quality="low", partial_images=2)
    assert ctype.startswith("text/event-stream")
    assert [name for name, _ in found] == [
        "image_generation.partial_image", "image_generation.partial_image",
        "image_generation.completed",
    ]  # fmt: skip
    images = []
    for name, data in found:
        assert_contract(name, data)
        im = Image.open(BytesIO(base64.b64decode(data["b64_json"])))
        im.load()
        assert im.size == (1536, 1024) and im.format == "PNG"
        images.append(im.getpixel((1535, 1023)))
    assert [data.get("partial_image_index") for _, data in found] == [0, 1, None]
    assert len(set(images)) == 3  # each partial differs from the others and from the result
    usage = found[-1][1]["usage"]
    assert usage["output_tokens"] == plain.body["usage"]["output_tokens"] + 2 * 100
    assert set(STREAM_CONTRACT["usage"]["required"]) <= set(usage)


async def test_edits_stream_with_the_sdks_form_field(gateway: Api) -> None:
    _, found = await stream_events(gateway, "edits", stream="true", partial_images=1,
                                   output_format="webp")  # fmt: skip
    assert [name for name, _ in found] == ["image_edit.partial_image", "image_edit.completed"]
    for name, data in found:
        assert_contract(name, data)
        assert data["output_format"] == "webp"
    assert gateway.fake.image_requests[-1].form["stream"] == "true"


async def test_partial_events_are_spaced_in_time(serve: Callable[..., Any]) -> None:
    api: Api = await serve(partial_delay=0.15)
    await stream_events(api, partial_images=3)
    times = [at for _, at in api.fake.sent_events]
    assert len(times) == 4
    assert all(b - a >= 0.12 for a, b in itertools.pairwise(times))


@pytest.mark.parametrize("model", ["dall-e-2", "dall-e-3"])
async def test_dalle_refuses_stream_like_openai(gateway: Api, model: str) -> None:
    answer = await gateway.generate(model, stream=True, partial_images=1)
    assert_refused(answer, "stream")
    assert answer.body["error"]["code"] == "unknown_parameter"
    assert "Unknown parameter: 'stream'" in answer.body["error"]["message"]


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"partial_images": 4}, "partial_images"),
        ({"partial_images": -1}, "partial_images"),
        ({"partial_images": "two"}, "partial_images"),
        ({"stream": "yes"}, "stream"),
    ],
)
async def test_stream_values_are_checked(gateway: Api, fields: dict[str, Any], param: str) -> None:
    assert_refused(await gateway.generate("gpt-image-2", **{"stream": True, **fields}), param)


@pytest.mark.parametrize("fmt", ["gif", "svg"])
async def test_gif_and_svg_do_not_stream(serve: Callable[..., Any], fmt: str) -> None:
    api: Api = await serve(gated_formats=True)
    assert_refused(await api.generate("gpt-image-2", output_format=fmt, stream=True), "stream")
    answer = await api.generate("gpt-image-2", output_format=fmt, stream=True, partial_images=2)
    assert_refused(answer, "partial_images")


async def test_json_mode_ignores_stream_like_litellm(serve: Callable[..., Any]) -> None:
    api: Api = await serve(stream_mode="json")
    answer = await api.generate("gpt-image-2", stream=True, partial_images=2)
    assert answer.status == 200 and answer.image().size == (1024, 1024)


async def test_refuse_mode_counts_each_refusal(serve: Callable[..., Any]) -> None:
    api: Api = await serve(stream_mode="refuse")
    assert_refused(await api.generate("gpt-image-2", stream=True, partial_images=2), "stream")
    assert (await api.generate("gpt-image-2")).status == 200
    assert api.fake.stream_refusals == 1
    with pytest.raises(ValueError, match="stream_mode"):
        FakeImagesServer(stream_mode="maybe")  # type: ignore[arg-type]


@pytest.mark.parametrize(("count", "accepted"), [(16, True), (17, False)])
async def test_gpt_edits_take_16_images(gateway: Api, count: int, accepted: bool) -> None:
    answer = await gateway.edit("gpt-image-2.5-flare", images=[png(32, 32)] * count)
    if accepted:
        assert answer.status == 200
    else:
        assert_refused(answer, "image")


# --- the openai world --------------------------------------------------------------------------

SHUTDOWNS = {
    "gpt-image-1": "2026-10-23",
    "dall-e-2": "2026-05-12",
    "dall-e-3": "2026-05-12",
    "gpt-image-1-mini": "2026-12-01",
    "gpt-image-1.5": "2026-12-01",
    "gpt-image-1.5-2025-12-16": "2026-12-01",
    "chatgpt-image-latest": "2026-12-01",
}


async def test_openai_lists_models_with_shutdown_dates(openai: Api) -> None:
    answer = await openai.get("/models")
    expected = json.loads((DATA / "openai_models_2026-12-01.json").read_text())
    assert answer.status == 200 and answer.body == expected
    by_id = {m["id"]: m for m in answer.body["data"]}
    for model in (*NEW_MODELS, *SHUTDOWNS):
        entry = by_id[model]
        assert set(entry) == {"id", "object", "created", "owned_by", "shutdown_date"}
        assert entry["object"] == "model" and isinstance(entry["created"], int)
        assert entry["shutdown_date"] == SHUTDOWNS.get(model)
    one = await openai.get("/models/gpt-image-1")
    assert one.status == 200 and one.body == by_id["gpt-image-1"]
    assert_refused(await openai.get("/models/dall-e-9"), "model", 404)


@pytest.mark.parametrize(
    ("today", "model", "served"),
    [
        (date(2026, 10, 22), "gpt-image-1", True),
        (date(2026, 10, 23), "gpt-image-1", False),
        (date(2026, 11, 30), "gpt-image-1.5", True),
        (date(2026, 12, 1), "gpt-image-1.5", False),
        (date(2026, 12, 1), "gpt-image-1-mini", False),
        (date(2026, 12, 1), "chatgpt-image-latest", False),
        (date(2026, 5, 11), "dall-e-3", True),
        (date(2026, 5, 12), "dall-e-3", False),
        (date(2030, 1, 1), "gpt-image-2.6-flare", True),
    ],
)
async def test_openai_refuses_shut_down_models(
    serve: Callable[..., Any], today: date, model: str, served: bool
) -> None:
    api: Api = await serve(world="openai", today=today)
    answer = await api.generate(model, size="1024x1024")
    if served:
        assert answer.status == 200
        return
    assert_refused(answer, "model", 404)
    error = answer.body["error"]
    assert error["type"] == "invalid_request_error" and error["code"] == "model_not_found"
    assert error["message"] == NOT_FOUND.format(model)


async def test_openai_time_moves_with_the_injected_clock(serve: Callable[..., Any]) -> None:
    clock = [date(2026, 11, 30)]
    api: Api = await serve(world="openai", today=lambda: clock[0])
    assert (await api.edit("gpt-image-1.5", input_fidelity="high")).status == 200
    clock[0] = date(2026, 12, 1)
    assert_refused(await api.edit("gpt-image-1.5", input_fidelity="high"), "model", 404)
    listed = {m["id"] for m in (await api.get("/models")).body["data"]}
    assert "gpt-image-1.5" in listed  # still listed, with its past shutdown date


@pytest.mark.parametrize("model", ["dall-e-2", "gpt-image-2", "gpt-image-2.5-sunburst"])
async def test_openai_variations_are_retired(openai: Api, model: str) -> None:
    answer = await openai.vary(model)
    assert answer.status == 404 and answer.body["error"]["code"] is None
    assert "no longer accepts requests" in answer.body["error"]["message"]


async def test_openai_model_ids_it_does_not_serve(openai: Api) -> None:
    assert_refused(await openai.generate(None), "model")
    assert_refused(await openai.generate("dall-e-9"), "model", 404)
    assert_refused(await openai.generate("gpt-4o-mini"), "model")  # listed, not an image model


async def test_openai_serves_extra_models_with_a_family_s_rules(serve: Callable[..., Any]) -> None:
    new = "gpt-image-2.7-sunburst"
    api: Api = await serve(world="openai", extra_models={new: "gpt-image-2.5"})
    entry = next(m for m in (await api.get("/models")).body["data"] if m["id"] == new)
    assert entry["shutdown_date"] is None and entry["object"] == "model"
    answer = await api.generate(new, quality="max", size="1536x864")
    assert answer.status == 200 and answer.image().size == (1536, 864)
    assert (await api.edit(new, extra=[("markup", png(hole=True), "image/png")])).status == 200
    retiring: Api = await serve(
        world="openai", extra_models={new: "gpt-image-2.6"}, shutdown_dates={new: "2026-12-01"}
    )
    assert_refused(await retiring.generate(new), "model", 404)
    with pytest.raises(ValueError, match="family"):
        FakeImagesServer(extra_models={new: "gpt-image-9"})


# --- the gateway world -------------------------------------------------------------------------


async def test_gateway_serves_every_model_without_dates(gateway: Api) -> None:
    listed = (await gateway.get("/models")).body["data"]
    assert {m["id"] for m in listed} >= set(NEW_MODELS) | set(SHUTDOWNS)
    assert all(m.get("shutdown_date") is None for m in listed)
    wide = await gateway.generate("dall-e-3", size="1792x1024", response_format="b64_json")
    assert wide.status == 200 and wide.image().size == (1792, 1024)
    varied = await gateway.vary("dall-e-2")
    assert varied.status == 200 and varied.body["data"][0]["url"].startswith("http://127.0.0.1")


async def test_gateway_without_a_models_route(serve: Callable[..., Any]) -> None:
    api: Api = await serve(world="gateway", models_endpoint=False)
    assert (await api.get("/models")).status == 404
    assert (await api.generate("gpt-image-2")).status == 200


# --- faults ------------------------------------------------------------------------------------


async def test_raw_fault_answers_any_body(gateway: Api) -> None:
    gateway.fake.fail_next("raw", status=404, body='{"detail":"Not Found"}')
    answer = await gateway.vary()
    assert (answer.status, answer.body) == (404, {"detail": "Not Found"})
    assert (await gateway.vary()).status == 200


async def test_error_inside_a_200_body(gateway: Api) -> None:
    gateway.fake.fail_next("insufficient_quota", status=200, code="insufficient_user_quota")
    answer = await gateway.generate("gpt-image-2")
    assert answer.status == 200 and answer.body["error"]["code"] == "insufficient_user_quota"
    assert "data" not in answer.body


async def test_models_route_fails_on_demand(openai: Api) -> None:
    openai.fake.fail_next("server_error", on="models")
    openai.fake.fail_next("raw", on="models", status=200, body="<html>login</html>")
    assert (await openai.generate("gpt-image-2")).status == 200  # image requests untouched
    assert (await openai.get("/models")).status == 500
    html = await openai.get("/models")
    assert (html.status, html.body) == (200, "<html>login</html>")
    assert (await openai.get("/models")).status == 200
    with pytest.raises(ValueError, match="models"):
        openai.fake.fail_next("truncated_b64", on="models")
