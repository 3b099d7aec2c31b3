"""The model catalog: built-in limits against OpenAI's spec, validation messages, operator files."""

from __future__ import annotations

import io
import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from bot.errors import ConfigError, ValidationError
from bot.images.types import ImageFormat, InputImage
from bot.models import Catalog
from tests.requests import edit_request, generate_request, variation_request

SCHEMAS = json.loads((Path(__file__).parent / "data" / "openai_image_schemas.json").read_text())[
    "schemas"
]
GEN, EDIT, VAR = (
    SCHEMAS[k]["properties"]
    for k in ("CreateImageRequest", "CreateImageEditRequest", "CreateImageVariationRequest")
)
GPT = ("gpt-image-1", "gpt-image-1-mini", "gpt-image-1.5", "gpt-image-2")
DALLE = ("dall-e-2", "dall-e-3")
BUILTIN = resources.files("bot").joinpath("catalog.toml").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load()


def enum(prop: dict[str, Any]) -> list[str]:
    """The enum of a property, whether plain or inside ``anyOf``."""
    if "enum" in prop:
        return list(prop["enum"])
    return next(list(o["enum"]) for o in prop["anyOf"] if "enum" in o)


def violations(catalog: Catalog, request: Any) -> tuple[str, ...]:
    with pytest.raises(ValidationError) as caught:
        catalog.plan(request)
    return caught.value.violations


def image(width: int = 64, height: int = 64, fmt: ImageFormat = "png", pad: int = 0) -> InputImage:
    """A real encoded image of the given size, optionally padded to look larger on the wire."""
    buffer = io.BytesIO()
    Image.new("RGBA" if fmt == "png" else "RGB", (width, height), "red").save(buffer, fmt)
    return InputImage(buffer.getvalue() + b"\0" * pad, f"x.{fmt}", fmt, width, height)


# --- the built-in catalog against the OpenAPI spec -------------------------------------------


def test_every_builtin_model_is_in_the_spec_for_its_operations(catalog: Catalog) -> None:
    assert set(catalog.names()) == {*DALLE, *GPT}
    assert set(catalog.names("generate")) <= set(enum(GEN["model"]))
    assert set(catalog.names("edit")) <= set(enum(EDIT["model"]))
    assert catalog.names("variation") == tuple(enum(VAR["model"])) == ("dall-e-2",)
    assert catalog.names("edit") == ("dall-e-2", *GPT)
    assert catalog.names("generate") == catalog.names()


def test_prompt_limits_match_the_descriptions(catalog: Catalog) -> None:
    for props, op in ((GEN, "generate"), (EDIT, "edit")):
        text = props["prompt"]["description"]
        stated = re.findall(r"(\d+) characters for (`[\w.-]+`|the GPT image models)", text)
        limits = {who.strip("`"): int(number) for number, who in stated}
        for model in catalog.models_for(op):
            key = "the GPT image models" if model.name in GPT else model.name
            assert model.prompt_limit(op) == limits[key]
    assert catalog.get("dall-e-2").prompt_limit("variation") is None
    assert {catalog.get(m).prompt_limit("generate") for m in GPT} == {32000}


def test_image_counts_match_the_spec(catalog: Catalog) -> None:
    for props in (GEN, EDIT, VAR):
        assert (props["n"]["minimum"], props["n"]["maximum"]) == (1, 10)
    assert "For `dall-e-3`, only `n=1` is supported." in GEN["n"]["description"]
    assert {m.name: m.n_max for m in catalog} == {
        m: 1 if m == "dall-e-3" else 10 for m in catalog.names()
    }
    assert catalog.max_n_adapted == 4


def test_sizes_match_the_spec(catalog: Catalog) -> None:
    description = GEN["size"]["description"]
    for name in DALLE:
        listed = re.search(rf"For `{name}`, use one of `(\w+)`, `(\w+)`, or `(\w+)`", description)
        assert listed is not None
        assert catalog.get(name).sizes("generate") == listed.groups()
    assert catalog.get("dall-e-2").sizes("variation") == tuple(enum(VAR["size"]))
    assert set(catalog.get("dall-e-2").sizes("edit")) <= set(enum(EDIT["size"]))
    standard = re.search(r"standard sizes `(\w+)`, `(\w+)`, and `(\w+)`", description)
    assert standard is not None
    for name in GPT:
        spec = catalog.get(name)
        for op, props in (("generate", GEN), ("edit", EDIT)):
            assert set(standard.groups()) | {"auto"} <= set(spec.sizes(op))
            listed = set(spec.sizes(op)) - set(enum(props["size"]))
            assert not listed or name == "gpt-image-2"
            assert all(spec.size_allowed(op, size) for size in spec.sizes(op))
    for op in ("generate", "edit"):
        assert {s.default_size(op) for s in catalog.models_for(op)} == {"1024x1024"}


def test_gpt_image_2_free_size_matches_the_description(catalog: Catalog) -> None:
    text = GEN["size"]["description"]
    assert EDIT["size"]["description"] == text
    multiple = re.search(r"must both be divisible by (\d+)", text)
    ratio = re.search(r"aspect ratio must be between 1:(\d+) and (\d+):1", text)
    biggest = re.search(r"maximum supported resolution is `(\d+)x(\d+)`", text)
    assert multiple and ratio and biggest and ratio[1] == ratio[2]
    free = catalog.get("gpt-image-2").free_size
    assert free is not None
    assert (free.multiple, free.max_ratio) == (int(multiple[1]), float(ratio[1]))
    assert (free.max_long, free.max_short) == (int(biggest[1]), int(biggest[2]))
    assert all(catalog.get(m).free_size is None for m in catalog.names() if m != "gpt-image-2")


def test_options_match_the_spec_enums(catalog: Catalog) -> None:
    qualities = {m.name: m.qualities for m in catalog}
    assert qualities["dall-e-2"] == ("standard",)
    assert set(qualities["dall-e-3"]) == {"standard", "hd"}
    assert {q for m in GPT for q in qualities[m]} == {"low", "medium", "high", "auto"}
    assert {q for qs in qualities.values() for q in qs} == set(enum(GEN["quality"]))
    assert {q for m in ("dall-e-2", *GPT) for q in qualities[m]} == set(enum(EDIT["quality"]))
    assert {m.name for m in catalog if m.styles} == {"dall-e-3"}
    assert catalog.get("dall-e-3").styles == tuple(enum(GEN["style"]))
    for name in GPT:
        spec = catalog.get(name)
        assert spec.backgrounds == tuple(enum(GEN["background"])) == tuple(enum(EDIT["background"]))
        assert spec.output_formats == tuple(enum(GEN["output_format"]))
        assert spec.moderations == tuple(enum(GEN["moderation"]))
        assert spec.output_compression
        assert spec.default_quality == "medium"
    for name in DALLE:
        spec = catalog.get(name)
        assert not (spec.backgrounds or spec.output_formats or spec.moderations)
        assert not (spec.output_compression or spec.input_fidelities)
    assert "(0-100%)" in GEN["output_compression"]["description"]


def test_input_fidelity_follows_its_schema(catalog: Catalog) -> None:
    fidelity = SCHEMAS["InputFidelity"]
    assert "unsupported for `gpt-image-1-mini`" in fidelity["description"]
    with_fidelity = {m.name for m in catalog if m.input_fidelities}
    assert with_fidelity == {"gpt-image-1", "gpt-image-1.5", "gpt-image-2"}
    assert all(catalog.get(m).input_fidelities == tuple(fidelity["enum"]) for m in with_fidelity)


def test_response_format_only_for_dall_e(catalog: Catalog) -> None:
    assert "isn't supported for the GPT image models" in GEN["response_format"]["description"]
    assert "b64_json" in enum(GEN["response_format"])
    assert {m.name for m in catalog if m.response_format} == set(DALLE)


def test_input_rules_match_the_spec(catalog: Catalog) -> None:
    image_text = " ".join(EDIT["image"]["description"].split())
    max_items = next(o["maxItems"] for o in EDIT["image"]["anyOf"] if o["type"] == "array")
    assert "less than 50MB" in image_text and "up to 16 images" in image_text
    assert "one image, and it should be a square `png` file less than 4MB" in image_text
    assert "valid PNG file, less than 4MB" in EDIT["mask"]["description"]
    assert "PNG file, less than 4MB, and square" in VAR["image"]["description"]
    for name in GPT:
        rules = catalog.get(name).input
        assert (rules.max_images, rules.max_bytes) == (max_items, 50 * 1024 * 1024)
        assert rules.formats == {"png", "webp", "jpeg"} and not rules.square
        assert (rules.max_side, rules.mask_max_bytes) == (2048, 4 * 1024 * 1024)
    rules = catalog.get("dall-e-2").input
    assert (rules.max_images, rules.formats, rules.square) == (1, {"png"}, True)
    assert (rules.max_bytes, rules.mask_max_bytes, rules.max_side) == (4 << 20, 4 << 20, 1024)


def test_defaults_and_labels(catalog: Catalog) -> None:
    assert catalog.default_model("generate") == catalog.default_model("edit") == "gpt-image-1.5"
    assert catalog.default_model("variation") == "dall-e-2"
    assert all(m.label and m.description for m in catalog)
    assert catalog.get("gpt-image-1-mini").label == "GPT Image 1 mini"


# --- validation: one message per violation -----------------------------------------------


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (
            generate_request("dall-e-2", "x" * 1234),
            "Prompts for dall-e-2 can be at most 1000 characters; yours has 1234.",
        ),
        (
            generate_request("dall-e-3", "x" * 4001),
            "Prompts for dall-e-3 can be at most 4000 characters; yours has 4001.",
        ),
        (
            generate_request("gpt-image-1", "   \n"),
            "The prompt is empty; describe what you want to see.",
        ),
        (generate_request("dall-e-2", "cat", n=0), "Ask for at least 1 image; you asked for 0."),
        (
            generate_request("dall-e-2", "cat", n=11),
            "dall-e-2 makes at most 10 images per request; you asked for 11.",
        ),
        (
            generate_request("dall-e-3", "cat", n=5),
            "dall-e-3 makes one image per request, so I can make at most 4 at once; "
            "you asked for 5.",
        ),
        (
            variation_request("gpt-image-1", image()),
            "gpt-image-1 can't make variations. Models that can: dall-e-2.",
        ),
        (
            edit_request("dall-e-3", "hat", (image(),)),
            "dall-e-3 can't edit images. Models that can: dall-e-2, gpt-image-1, gpt-image-1-mini, "
            "gpt-image-1.5, gpt-image-2.",
        ),
        (
            generate_request("dall-e-2", "cat", size="1792x1024"),
            "Size 1792x1024 isn't available for dall-e-2. "
            "Choose one of: 256x256, 512x512, 1024x1024.",
        ),
        (
            generate_request("dall-e-3", "cat", size="auto"),
            "Size auto isn't available for dall-e-3. "
            "Choose one of: 1024x1024, 1792x1024, 1024x1792.",
        ),
        (
            generate_request("gpt-image-1", "cat", size="big"),
            "Size 'big' isn't a size; write WIDTHxHEIGHT. Choose one of: 1024x1024, 1536x1024, "
            "1024x1536, auto.",
        ),
        (
            generate_request("gpt-image-1", "cat", quality="hd"),
            "Quality hd isn't available for gpt-image-1. Choose one of: low, medium, high, auto.",
        ),
        (generate_request("gpt-image-1", "cat", style="vivid"), "Style only applies to dall-e-3."),
        (
            generate_request("dall-e-3", "cat", style="moody"),
            "Style moody isn't available for dall-e-3. Choose one of: vivid, natural.",
        ),
        (
            generate_request("dall-e-3", "cat", background="opaque"),
            "Background only applies to gpt-image-1, gpt-image-1-mini, gpt-image-1.5, gpt-image-2.",
        ),
        (
            generate_request("gpt-image-1", "cat", output_format="gif"),
            "Output format gif isn't available for gpt-image-1. Choose one of: png, jpeg, webp.",
        ),
        (
            generate_request("gpt-image-1", "cat", moderation="none"),
            "Moderation none isn't available for gpt-image-1. Choose one of: low, auto.",
        ),
        (
            edit_request("gpt-image-1-mini", "hat", (image(),), input_fidelity="high"),
            "Input fidelity only applies to gpt-image-1, gpt-image-1.5, gpt-image-2.",
        ),
        (
            generate_request("gpt-image-1", "cat", background="transparent", output_format="jpeg"),
            "A transparent background needs png or webp output; you chose jpeg.",
        ),
        (
            generate_request("gpt-image-1", "cat", output_format="jpeg", output_compression=101),
            "Output compression must be between 0 and 100; you gave 101.",
        ),
        (
            generate_request("gpt-image-1", "cat", output_compression=50),
            "Output compression only works with jpeg or webp output, not png.",
        ),
        (
            generate_request("dall-e-2", "cat", output_compression=50),
            "Output compression only applies to gpt-image-1, gpt-image-1-mini, gpt-image-1.5, "
            "gpt-image-2.",
        ),
        (
            generate_request("gpt-image-2", "cat", size="1000x1000"),
            "Size 1000x1000 doesn't work for gpt-image-2: both sides must be multiples of 16.",
        ),
    ],
)
def test_each_violation_has_its_message(catalog: Catalog, request_: Any, message: str) -> None:
    assert violations(catalog, request_) == (message,)


@pytest.mark.parametrize(
    ("images", "mask", "expected"),
    [
        ((), None, ["Attach an image to edit."]),
        ((image(), image()), None, ["dall-e-2 takes one image at a time; you gave 2."]),
        ((image(fmt="jpeg"),), None, ["The image is a jpeg; dall-e-2 takes png images only."]),
        ((image(pad=4 << 20),), None, ["The image is 4.1 MB; dall-e-2 takes images up to 4 MB."]),
        ((image(64, 32),), None, ["The image is 64x32; dall-e-2 needs square images."]),
        (
            (image(1100, 1100),),
            None,
            ["The image is 1100x1100; dall-e-2 takes images up to 1024 pixels on a side."],
        ),
        ((image(),), image(fmt="webp"), ["The mask must be a png; yours is a webp."]),
        ((image(),), image(pad=5 << 20), ["The mask is 5.1 MB; it can be at most 4 MB."]),
        (
            (image(),),
            image(32, 32),
            ["The mask is 32x32 but the image is 64x64; they must match."],
        ),
    ],
)
def test_input_image_violations(
    catalog: Catalog, images: tuple[InputImage, ...], mask: InputImage | None, expected: list[str]
) -> None:
    found = violations(catalog, edit_request("dall-e-2", "hat", images, mask=mask))
    assert list(found) == expected


def test_gpt_image_inputs_are_counted_and_checked_one_by_one(catalog: Catalog) -> None:
    images = (image(fmt="jpeg"), image(fmt="gif"), image(4000, 10, fmt="webp"), *[image()] * 14)
    found = violations(catalog, edit_request("gpt-image-1", "hat", images))
    assert found == (
        "gpt-image-1 takes at most 16 images; you gave 17.",
        "Image 2 is a gif; gpt-image-1 takes png, jpeg or webp images.",
        "Image 3 is 4000x10; gpt-image-1 takes images up to 2048 pixels on a side.",
    )


def test_variation_image_rules(catalog: Catalog) -> None:
    found = violations(catalog, variation_request("dall-e-2", image(40, 20, fmt="webp")))
    assert found == (
        "The image is a webp; dall-e-2 takes png images only.",
        "The image is 40x20; dall-e-2 needs square images.",
    )


def test_every_violation_is_listed_at_once(catalog: Catalog) -> None:
    request = generate_request(
        "dall-e-2", "x" * 1001, n=12, size="1024x1792", quality="hd", style="vivid"
    )
    with pytest.raises(ValidationError) as caught:
        catalog.plan(request)
    assert caught.value.violations == (
        "Prompts for dall-e-2 can be at most 1000 characters; yours has 1001.",
        "dall-e-2 makes at most 10 images per request; you asked for 12.",
        "Size 1024x1792 isn't available for dall-e-2. Choose one of: 256x256, 512x512, 1024x1024.",
        "Quality hd isn't available for dall-e-2. Choose one of: standard.",
        "Style only applies to dall-e-3.",
    )
    assert str(caught.value).startswith("This request can't be sent:\n- Prompts for dall-e-2")


def test_unknown_model(catalog: Catalog) -> None:
    with pytest.raises(ValidationError) as caught:
        catalog.plan(generate_request("dall-e-9", "cat"))
    assert str(caught.value) == (
        "Unknown model 'dall-e-9'. Available: dall-e-2, dall-e-3, gpt-image-1, gpt-image-1-mini, "
        "gpt-image-1.5, gpt-image-2."
    )


def test_precheck_counts_images_before_they_are_prepared(catalog: Catalog) -> None:
    catalog.precheck(edit_request("gpt-image-1", "hat", ()), image_count=16)
    with pytest.raises(ValidationError) as caught:
        catalog.precheck(edit_request("dall-e-2", "", ()), image_count=3)
    assert caught.value.violations == (
        "The prompt is empty; describe what you want to see.",
        "dall-e-2 takes one image at a time; you gave 3.",
    )
    with pytest.raises(ValidationError, match=r"Attach an image to make variations of\."):
        catalog.precheck(variation_request("dall-e-2", None), image_count=0)  # type: ignore[arg-type]


# --- plans: normalising and adapting ------------------------------------------------------


def test_n_beyond_the_model_is_split_into_parallel_single_requests(catalog: Catalog) -> None:
    plan = catalog.plan(generate_request("dall-e-3", "cat", n=3, style="natural", user="u1"))
    assert plan.notes == ("dall-e-3 makes one image per request, so I sent 3 requests.",)
    assert [r.n for r in plan.requests] == [1, 1, 1] and plan.total_images == 3
    assert set(plan.requests) == {
        generate_request(
            "dall-e-3",
            "cat",
            size="1024x1024",
            quality="standard",
            style="natural",
            response_format="b64_json",
            user="u1",
        )
    }


def test_n_within_the_model_is_one_request_without_notes(catalog: Catalog) -> None:
    plan = catalog.plan(generate_request("gpt-image-1", "cat", n=10))
    assert [r.n for r in plan.requests] == [10] and plan.notes == ()


def test_response_format_and_defaults_are_normalised(catalog: Catalog) -> None:
    (gpt,) = catalog.plan(generate_request("gpt-image-1", "cat", response_format="url")).requests
    assert gpt == generate_request("gpt-image-1", "cat", size="1024x1024", quality="medium")
    (dalle,) = catalog.plan(generate_request("dall-e-2", "cat", response_format="url")).requests
    assert (dalle.response_format, dalle.size, dalle.quality) == (
        "b64_json",
        "1024x1024",
        "standard",
    )
    (picked,) = catalog.plan(
        generate_request("gpt-image-2", "cat", size="auto", quality="high")
    ).requests
    assert (picked.size, picked.quality, picked.response_format) == ("auto", "high", None)
    (edit,) = catalog.plan(
        edit_request("gpt-image-1.5", "hat", (image(),), input_fidelity="high")
    ).requests
    assert edit.operation == "edit"
    assert (edit.input_fidelity, edit.size, edit.response_format) == ("high", "1024x1024", None)
    (variation,) = catalog.plan(variation_request("dall-e-2", image(), n=2)).requests
    assert variation == variation_request(
        "dall-e-2", image(), n=2, size="1024x1024", response_format="b64_json"
    )


def test_valid_gpt_image_options_pass(catalog: Catalog) -> None:
    request = generate_request(
        "gpt-image-1",
        "logo",
        background="transparent",
        output_format="webp",
        output_compression=80,
        moderation="low",
    )
    (sent,) = catalog.plan(request).requests
    assert (sent.background, sent.output_format, sent.output_compression) == (
        "transparent",
        "webp",
        80,
    )


@pytest.mark.parametrize(
    ("size", "reasons"),
    [
        ("1536x864", None),
        ("3840x1280", None),
        ("2160x3840", None),
        ("1000x1000", "both sides must be multiples of 16"),
        ("3840x1088", "the long side can be at most 3 times the short side"),
        ("4096x2160", "it can be at most 3840x2160 (or 2160x3840)"),
        ("2304x2304", "it can be at most 3840x2160 (or 2160x3840)"),
        (
            "3000x800",
            "both sides must be multiples of 16 and "
            "the long side can be at most 3 times the short side",
        ),
    ],
)
def test_gpt_image_2_free_sizes(catalog: Catalog, size: str, reasons: str | None) -> None:
    spec = catalog.get("gpt-image-2")
    assert spec.size_allowed("generate", size) is (reasons is None)
    assert spec.size_allowed("edit", size) is (reasons is None)
    assert not catalog.get("gpt-image-1").size_allowed("generate", size)
    if reasons is None:
        assert (
            catalog.plan(generate_request("gpt-image-2", "cat", size=size)).requests[0].size == size
        )
    else:
        found = violations(catalog, generate_request("gpt-image-2", "cat", size=size))
        assert found == (f"Size {size} doesn't work for gpt-image-2: {reasons}.",)


def test_size_helpers(catalog: Catalog) -> None:
    dalle3 = catalog.get("dall-e-3")
    assert dalle3.sizes("edit") == () and not dalle3.size_allowed("edit", "1024x1024")
    assert dalle3.supports("generate") and not dalle3.supports("variation")
    assert "auto" in catalog.get("gpt-image-2").sizes("generate")
    assert not catalog.get("gpt-image-2").size_allowed("generate", "16x16x16")


# --- operator catalogs ------------------------------------------------------------------------

FLUX = """
[catalog]
default_models = { generate = "flux-schnell" }

[models.flux-schnell]
like = "dall-e-3"
sizes = ["1024x1024", "768x1344", "1344x768"]
qualities = []

[models.dall-e-3]
prompt_max = 2000

[models.gpt-image-1]
input = { max_images = 4 }

[models.dall-e-2]
enabled = false
"""


def test_operator_models_inherit_and_override() -> None:
    catalog = Catalog.from_toml_text(BUILTIN, FLUX, source="ops.toml")
    flux = catalog.get("flux-schnell")
    assert (flux.label, flux.description, flux.operations) == ("flux-schnell", "", {"generate"})
    assert flux.sizes("generate") == ("1024x1024", "768x1344", "1344x768")
    assert (flux.styles, flux.n_max, flux.response_format) == (("vivid", "natural"), 1, True)
    assert flux.prompt_limit("generate") == 2000  # `like` follows the overridden dall-e-3
    plan = catalog.plan(generate_request("flux-schnell", "cat", n=2, size="768x1344"))
    assert plan.notes == ("flux-schnell makes one image per request, so I sent 2 requests.",)
    assert plan.requests[0] == generate_request(
        "flux-schnell", "cat", size="768x1344", response_format="b64_json"
    )
    assert violations(catalog, generate_request("gpt-image-1", "cat", style="vivid")) == (
        "Style only applies to dall-e-3, flux-schnell.",
    )
    assert catalog.default_model("generate") == "flux-schnell"
    assert catalog.default_model("edit") == "gpt-image-1.5"


def test_operator_overrides_merge_into_builtin_models() -> None:
    catalog = Catalog.from_toml_text(BUILTIN, FLUX, source="ops.toml")
    dalle3 = catalog.get("dall-e-3")
    assert (dalle3.prompt_limit("generate"), dalle3.label) == (2000, "DALL·E 3")
    assert dalle3.sizes("generate") == ("1024x1024", "1792x1024", "1024x1792")
    for name in ("gpt-image-1", "gpt-image-1-mini"):
        rules = catalog.get(name).input
        assert (rules.max_images, rules.max_side, rules.max_bytes) == (4, 2048, 50 << 20)
    assert catalog.get("gpt-image-1.5").input.max_images == 4
    assert "dall-e-2" not in catalog and catalog.names("variation") == ()
    assert catalog.default_model("variation") is None
    assert violations(catalog, variation_request("gpt-image-1", image())) == (
        "gpt-image-1 can't make variations. Models that can: none here.",
    )


def test_per_operation_values() -> None:
    operator = """
    [models.gateway]
    like = "gpt-image-1"
    prompt_max = { generate = 500, edit = 300 }
    sizes = { generate = ["512x512", "auto"], edit = ["1024x1024"] }
    default_size = { generate = "auto", edit = "1024x1024" }
    """
    gateway = Catalog.from_toml_text(BUILTIN, operator).get("gateway")
    assert (gateway.prompt_limit("generate"), gateway.prompt_limit("edit")) == (500, 300)
    assert (gateway.default_size("generate"), gateway.sizes("edit")) == ("auto", ("1024x1024",))


def test_every_operator_problem_is_reported_at_once() -> None:
    operator = """
    [catalog]
    max_n_adapted = 0
    default_models = { generate = "nope", paint = "dall-e-3" }

    [models.flux-schnell]
    like = "dall-e-3"
    sizez = ["1024x1024"]
    sizes = ["1024x1024", "huge"]

    [models.ghost]
    like = "dall-e-4"

    [models.bad]
    like = "gpt-image-1"
    n_max = 0
    operations = ["generate", "paint"]

    [models.odd]
    like = "dall-e-3"
    default_size = "512x512"
    default_quality = "ultra"

    [models.loop]
    like = "loop"

    [extras]
    """
    with pytest.raises(ConfigError) as caught:
        Catalog.from_toml_text(BUILTIN, operator, source="ops.toml")
    assert sorted(caught.value.problems) == sorted(
        [
            "ops.toml: extras: unknown table; use [catalog] and [models.NAME]",
            "ops.toml: models.flux-schnell.sizez: unknown key",
            "ops.toml: models.flux-schnell.sizes: 'huge' isn't a size; write WIDTHxHEIGHT "
            "(like 1024x1024) or 'auto'",
            "ops.toml: models.ghost.like: unknown model 'dall-e-4'; known: dall-e-2, dall-e-3, "
            "gpt-image-1, gpt-image-1-mini, gpt-image-1.5, gpt-image-2, flux-schnell, ghost, "
            "bad, odd, loop",
            "ops.toml: models.bad.operations: must list some of generate, edit, variation; "
            "unknown: ['paint']",
            "ops.toml: models.bad.n_max: must be a whole number of at least 1; got 0",
            "ops.toml: models.odd.default_size: 512x512 isn't among the sizes for generate "
            "(1024x1024, 1792x1024, 1024x1792)",
            "ops.toml: models.odd.default_quality: 'ultra' isn't in qualities (standard, hd)",
            "ops.toml: models.loop.like: 'loop' leads back to itself",
            "ops.toml: catalog.max_n_adapted: must be a whole number of at least 1; got 0",
            "ops.toml: catalog.default_models.generate: no model 'nope' that can generate",
            "ops.toml: catalog.default_models.paint: unknown operation",
        ]
    )
    assert str(caught.value).startswith("The configuration has 12 problem(s):\n  - ")


def test_a_new_model_must_say_what_it_can_do() -> None:
    with pytest.raises(ConfigError) as caught:
        Catalog.from_toml_text(BUILTIN, '[models.fresh]\nlabel = "Fresh"\n', source="ops.toml")
    assert caught.value.problems == (
        "ops.toml: models.fresh.operations: missing (set it, or inherit it with 'like')",
        "ops.toml: models.fresh.n_max: missing (set it, or inherit it with 'like')",
    )


def test_bad_values_inside_tables() -> None:
    operator = """
    [models.gpt-image-2]
    free_size = { multiple = 16, max_long = 100, max_short = 200, max_ratio = 3, step = 1 }
    input = { formats = ["bmp"], max_mb = -1 }
    response_format = "yes"

    [models.dall-e-2]
    enabled = "no"
    like = 3
    """
    with pytest.raises(ConfigError) as caught:
        Catalog.from_toml_text(BUILTIN, operator, source="ops.toml")
    assert caught.value.problems == (
        "ops.toml: models.dall-e-2.like: must be a non-empty string; got 3",
        "ops.toml: models.dall-e-2.enabled: must be true or false; got 'no'",
        "ops.toml: models.gpt-image-2.response_format: must be true or false; got 'yes'",
        "ops.toml: models.gpt-image-2.free_size: unknown key(s) step; known: multiple, "
        "max_long, max_short, max_ratio, min_pixels",
        "ops.toml: models.gpt-image-2.input: unknown image format(s) ['bmp']; use png, jpeg, "
        "webp, gif",
    )


def test_toml_syntax_errors_and_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"ops.toml: file: not valid TOML"):
        Catalog.from_toml_text(BUILTIN, "[models.x\n", source="ops.toml")
    missing = tmp_path / "missing.toml"
    with pytest.raises(ConfigError, match=r"missing\.toml: can't read the model catalog"):
        Catalog.load(missing)


def test_load_reads_the_operator_file(tmp_path: Path) -> None:
    path = tmp_path / "models.toml"
    path.write_text(FLUX, encoding="utf-8")
    assert "flux-schnell" in Catalog.load(path).names("generate")
    bad = tmp_path / "bad.toml"
    bad.write_text("[models.x]\nlike = 'y'\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        Catalog.load(bad)
    assert caught.value.problems[0].startswith(f"{bad}: models.x.like: unknown model 'y'")
