"""The model catalog: built-in limits against OpenAI's contract, validation messages, operator files.

The contract is the official SDK 3.57's image types (tests/data/openai_sdk_3.57_images.json, its
docstrings copied unchanged); the older OpenAPI spec (tests/data/openai_image_schemas.json) is read
only where the SDK is silent, mostly about the retired DALL·E models.
"""

from __future__ import annotations

import datetime
import io
import json
import re
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from bot.errors import ConfigError, ValidationError
from bot.i18n import translate
from bot.images.params import CHOICES
from bot.images.types import ImageFormat, InputImage
from bot.models import Catalog
from bot.models.families import assumed, nearest_known
from tests.requests import edit_request, generate_request, variation_request

DATA = Path(__file__).parent / "data"
SCHEMAS = json.loads((DATA / "openai_image_schemas.json").read_text())["schemas"]
GEN, EDIT, VAR = (
    SCHEMAS[k]["properties"]
    for k in ("CreateImageRequest", "CreateImageEditRequest", "CreateImageVariationRequest")
)
SDK = json.loads((DATA / "openai_sdk_3.57_images.json").read_text(encoding="utf-8"))
SDK_GEN, SDK_EDIT, SDK_VAR = SDK["generate"], SDK["edit"], SDK["variation"]
IDS: tuple[str, ...] = tuple(SDK["image_model"]["ids"])
DALLE = ("dall-e-2", "dall-e-3")
# ImageModel has no gpt-image-1.5-2025-12-16; OpenAI's deprecations page names it.
SNAPSHOT_1_5 = "gpt-image-1.5-2025-12-16"
GPT = (*(m for m in IDS if m not in DALLE), SNAPSHOT_1_5)
NEWER = tuple(m for m in GPT if m.startswith("gpt-image-2"))  # gpt-image-2 and newer
MIB = 1024 * 1024
BUILTIN = resources.files("bot").joinpath("catalog.toml").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load()


def enum(prop: dict[str, Any]) -> list[str]:
    """The enum of a property, whether plain or inside ``anyOf``."""
    if "enum" in prop:
        return list(prop["enum"])
    return next(list(o["enum"]) for o in prop["anyOf"] if "enum" in o)


def doc(params: dict[str, Any], name: str) -> str:
    """An SDK field's docstring on one line."""
    return " ".join(params[name]["doc"].split())


def ticked(text: str) -> list[str]:
    """The `backticked` words of ``text``."""
    return re.findall(r"`([^`]+)`", text)


def search(pattern: str, text: str) -> tuple[str, ...]:
    match = re.search(pattern, text)
    assert match is not None, f"{pattern!r} not in {text!r}"
    return match.groups()


def having(catalog: Catalog, param: str) -> set[str]:
    """The models that take the choice parameter ``param``."""
    return {m.name for m in catalog if m.values(param)}


def having_value(catalog: Catalog, param: str, value: str) -> set[str]:
    """The models that list ``value`` for the choice parameter ``param``."""
    return {m.name for m in catalog if value in m.values(param)}


def violations(catalog: Catalog, request: Any) -> tuple[str, ...]:
    with pytest.raises(ValidationError) as caught:
        catalog.plan(request)
    return english(caught.value.violations)


def english(messages: Iterable[object]) -> tuple[str, ...]:
    """Refusals and notes as the English reads them (they are lazy ``Text``s)."""
    return tuple(str(message) for message in messages)


def image(width: int = 64, height: int = 64, fmt: ImageFormat = "png", pad: int = 0) -> InputImage:
    """A real encoded image of the given size, optionally padded to look larger on the wire."""
    buffer = io.BytesIO()
    Image.new("RGBA" if fmt == "png" else "RGB", (width, height), "red").save(buffer, fmt)
    return InputImage(buffer.getvalue() + b"\0" * pad, f"x.{fmt}", fmt, width, height)


def retired() -> dict[str, tuple[datetime.date, str]]:
    """Model -> (shutdown date, what to use instead), from the SDK's "Deprecated values"."""
    text = " ".join(SDK["image_model"]["deprecated"].split())
    bullets = re.findall(
        r'- ((?:"[\w.-]+",? ?)+): [^-]*? (?:shut down|retired) on (\w+ \d+, \d{4})\. '
        r"Use (.+?) instead\.",
        text,
    )
    assert len(bullets) == 2
    found = {}
    for names, day, instead in bullets:
        date = datetime.datetime.strptime(day, "%B %d, %Y").date()
        found.update({name: (date, instead) for name in re.findall(r'"([\w.-]+)"', names)})
    return found


def shut_on_the_page() -> tuple[set[str], datetime.date, set[str]]:
    """The models OpenAI's deprecations page shuts down together, the date, the replacements."""
    *names, day, first, second = search(
        r"(\S+), (\S+) \(\+ (-[\d-]+)\) and (\S+) shut down on (\d{4}-\d{2}-\d{2}), "
        r"recommended replacement (\S+) or (\S+)\.",
        SDK["deprecations_page"],
    )
    mini, one_five, snapshot, latest = names
    models = {mini, one_five, one_five + snapshot, latest}
    return models, datetime.date.fromisoformat(day), {first, second}


# --- the built-in catalog against the SDK 3.57 (and the older spec where the SDK is silent) ---


def test_every_sdk_model_id_is_in_the_catalog(catalog: Catalog) -> None:
    assert len(IDS) == 14 and "gpt-image-2.6-flare" in IDS
    assert set(IDS) <= set(catalog.names())
    assert set(catalog.names()) - set(IDS) == {SNAPSHOT_1_5} <= shut_on_the_page()[0]
    generators = ticked(doc(SDK_GEN, "model").split("`gpt-image-1` was shut down")[0])
    editors = ticked(doc(SDK_EDIT, "model").split("`gpt-image-1` was shut down")[0])
    assert set(generators) == set(editors) == set(GPT) - {"gpt-image-1", SNAPSHOT_1_5}
    for name in generators:
        assert catalog.get(name).supports("generate") and catalog.get(name).supports("edit")
    # Retired models stay in the catalog for gateways that still serve them, as they were.
    assert set(retired()) == {"gpt-image-1", *DALLE}
    assert set(catalog.names("generate")) == {*IDS, SNAPSHOT_1_5}
    assert {m.name for m in catalog if m.supports("edit")} == {"dall-e-2", *GPT}
    assert set(enum(EDIT["model"])) - {"dall-e-2"} <= set(GPT)


def test_variations_endpoint_is_only_the_retired_one(catalog: Catalog) -> None:
    text = doc(SDK_VAR, "model")
    assert text.startswith("The legacy model used by the retired image variations endpoint.")
    assert "This endpoint no longer accepts requests." in text
    assert [m.name for m in catalog if m.supports("variation")] == ["dall-e-2"]
    assert "dall-e-2" in retired()
    for name in GPT:  # their edits make variations instead
        spec = catalog.get(name)
        assert spec.can("variation") and spec.endpoint("variation") == "edit"
        assert spec.sizes("variation") == spec.sizes("edit")
    assert catalog.names("variation") == tuple(m for m in catalog.names() if m != "dall-e-3")
    assert not catalog.get("dall-e-3").can("variation")
    assert catalog.get("dall-e-2").sizes("variation") == tuple(SDK_VAR["size"]["values"])
    assert "Must be a valid PNG file, less than 4MB, and square." in doc(SDK_VAR, "image")
    rules = catalog.get("dall-e-2").input
    assert (rules.formats, rules.max_bytes, rules.square) == ({"png"}, 4 * MIB, True)
    assert set(catalog.vary_prompts) == {"subtle", "strong"}
    assert all(len(text) > 40 for text in catalog.vary_prompts.values())


def test_prompt_limits_match_the_descriptions(catalog: Catalog) -> None:
    assert doc(SDK_GEN, "prompt").endswith("The maximum length is 32000 characters.")
    assert "32000 characters for the GPT image models" in doc(SDK_EDIT, "prompt")
    for name in GPT:
        spec = catalog.get(name)
        assert (spec.prompt_limit("generate"), spec.prompt_limit("edit")) == (32000, 32000)
    # The SDK no longer describes the retired DALL·E models; the older spec did.
    for props, op in ((GEN, "generate"), (EDIT, "edit")):
        text = props["prompt"]["description"]
        stated = re.findall(r"(\d+) characters for (`[\w.-]+`|the GPT image models)", text)
        limits = {who.strip("`"): int(number) for number, who in stated}
        for model in catalog.models_for(op):
            if model.name in DALLE and model.supports(op):
                assert model.prompt_limit(op) == limits[model.name]
    assert catalog.get("dall-e-2").prompt_limit("variation") is None


def test_image_counts_match_the_spec(catalog: Catalog) -> None:
    for params in (SDK_GEN, SDK_EDIT, SDK_VAR):
        assert doc(params, "n").endswith("Must be between 1 and 10.")
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
    assert set(catalog.get("dall-e-2").sizes("edit")) <= set(SDK_EDIT["size"]["values"])
    text = doc(SDK_GEN, "size")
    assert doc(SDK_EDIT, "size").startswith("The size of the generated images. Defaults to `auto`.")
    standard = search(
        r"standard sizes `(\w+)`, `(\w+)`, and `(\w+)` are supported by the GPT", text
    )
    legacy = ticked(text.split("Deprecated values:")[1].split(":")[0].replace('"', "`"))
    assert legacy == ["256x256", "512x512", "1792x1024", "1024x1792"]
    free = set(ticked(search(r"For (.+?), arbitrary resolutions are supported", text)[0]))
    for name in GPT:
        spec = catalog.get(name)
        for op, params in (("generate", SDK_GEN), ("edit", SDK_EDIT)):
            assert set(standard) | {"auto"} <= set(spec.sizes(op))
            assert not set(legacy) & set(spec.sizes(op))
            extra = set(spec.sizes(op)) - set(params["size"]["values"])
            assert not extra or name in free
            assert all(spec.size_allowed(op, size) for size in spec.sizes(op))
    for op in ("generate", "edit"):
        assert {s.default_size(op) for s in catalog.models_for(op)} == {"1024x1024"}


def test_free_sizes_match_the_sdk(catalog: Catalog) -> None:
    text = doc(SDK_GEN, "size")
    rules = r"For `gpt-image-2`.+?automatic sizing\."
    assert re.findall(rules, text) == re.findall(rules, doc(SDK_EDIT, "size")) != []
    free = set(ticked(search(r"For (.+?), arbitrary resolutions are supported", text)[0]))
    assert free == {"gpt-image-2", "gpt-image-2-2026-04-21", "gpt-image-2.5-sunburst",
                    "gpt-image-2.5-sunburst-2026-09-08", "gpt-image-2.5-flare",
                    "gpt-image-2.5-flare-2026-09-08"}  # fmt: skip
    (multiple,) = search(r"must both be divisible by (\d+)", text)
    low, high = search(r"aspect ratio must be between 1:(\d+) and (\d+):1", text)
    width, height = search(r"maximum supported resolution is `(\d+)x(\d+)`", text)
    (experimental,) = search(r"Resolutions above `(\d+x\d+)` are experimental", text)
    assert low == high
    assert {m.name for m in catalog if m.free_size} == free
    for name in free:
        spec = catalog.get(name)
        free_size = spec.free_size
        assert free_size is not None
        assert (free_size.multiple, free_size.max_ratio) == (int(multiple), float(low))
        assert (free_size.max_long, free_size.max_short) == (int(width), int(height))
        assert free_size.max_pixels == int(width) * int(height)
        # Listed sizes (autocomplete) stay at or below the experimental line.
        assert experimental in spec.sizes("generate")
        biggest = max(int(w) * int(h) for w, h in (s.split("x") for s in spec.sizes("edit")[:-1]))
        assert biggest == 2560 * 1440


def test_qualities_match_the_sdk(catalog: Catalog) -> None:
    text = doc(SDK_GEN, "quality")
    assert "`high`, `medium` and `low` are supported for the GPT image models." in text
    assert "The GPT image models support `low`, `medium`, and `high`." in doc(SDK_EDIT, "quality")
    names, snapshot, *extra = search(
        r"((?:`[\w.-]+`(?:, | and )?)+), including their `([\d-]+)` snapshots, "
        r"also support `(\w+)` and `(\w+)`",
        text,
    )
    assert extra == ["xhigh", "max"]
    top = {n for name in ticked(names) for n in (name, f"{name}-{snapshot}")}
    assert top == {m for m in GPT if m.startswith("gpt-image-2.5")}
    for value in extra:
        assert having_value(catalog, "quality", value) == top
    for name in GPT:
        spec = catalog.get(name)
        assert {"low", "medium", "high", "auto"} <= set(spec.values("quality"))
        assert set(spec.values("quality")) <= set(SDK_GEN["quality"]["values"])
        assert set(spec.values("quality")) <= set(SDK_EDIT["quality"]["values"])
        assert spec.default_quality == "medium"
    assert 'Deprecated values: - "standard", "hd": This quality was only supported by retired ' in (
        text
    )
    assert catalog.get("dall-e-2").values("quality") == ("standard",)
    assert catalog.get("dall-e-3").values("quality") == ("standard", "hd")
    assert having_value(catalog, "quality", "standard") | having_value(
        catalog, "quality", "hd"
    ) == {*DALLE}


def test_options_match_the_sdk(catalog: Catalog) -> None:
    assert "When using `transparent`, set the output format to `png` or `webp`." in doc(
        SDK_GEN, "background"
    )
    assert "only supported for the GPT image models" in doc(SDK_GEN, "output_format")
    assert "the GPT image models" in doc(SDK_GEN, "moderation")
    assert "(0-100%)" in doc(SDK_GEN, "output_compression")
    for name in GPT:
        spec = catalog.get(name)
        assert spec.values("background") == tuple(SDK_GEN["background"]["values"])
        assert spec.values("background") == tuple(SDK_EDIT["background"]["values"])
        assert spec.values("moderation") == tuple(SDK_GEN["moderation"]["values"])
        assert set(spec.values("output_format")) == {"png", "webp", "jpeg"}
        assert spec.output_compression and spec.safety_identifier and spec.vary_by_edit
    for name in DALLE:
        spec = catalog.get(name)
        assert not (spec.values("background") or spec.values("output_format"))
        assert not (spec.values("moderation") or spec.values("input_fidelity"))
        assert not (spec.output_compression or spec.safety_identifier or spec.gated_formats)


def test_gif_and_svg_are_declared_but_gated(catalog: Catalog) -> None:
    values = SDK_GEN["output_format"]["values"]
    assert values == SDK_EDIT["output_format"]["values"] == ["png", "webp", "jpeg", "gif", "svg"]
    assert "SVG output requires a supported image model and project access." in doc(
        SDK_EDIT, "output_format"
    )
    assert {m.name for m in catalog if m.gated_formats} == set(NEWER)
    for spec in catalog:
        assert not {"gif", "svg"} & set(spec.values("output_format"))
        assert set(spec.gated_formats) <= set(values)
        assert set(spec.gated_formats) in (set(), {"gif", "svg"})
    assert violations(catalog, generate_request("gpt-image-2", "cat", output_format="gif")) == (
        "Output format gif isn't available for gpt-image-2. Choose one of: png, jpeg, or webp.",
    )


def test_complexity_matches_the_sdk(catalog: Catalog) -> None:
    values = tuple(SDK_GEN["complexity"]["values"])
    assert values == tuple(SDK_EDIT["complexity"]["values"]) == ("low", "medium", "high")
    assert "Uses the image model's configured default when omitted." in doc(SDK_GEN, "complexity")
    assert having(catalog, "complexity") == set(NEWER)
    assert all(catalog.get(m).values("complexity") == values for m in NEWER)
    (omitted,) = catalog.plan(generate_request("gpt-image-2", "cat")).requests
    assert omitted.params.complexity is None  # the model's own default applies
    (picked,) = catalog.plan(
        edit_request("gpt-image-2.6-flare", "hat", (image(),), complexity="high")
    ).requests
    assert picked.params.complexity == "high"
    assert violations(catalog, generate_request("gpt-image-1.5", "cat", complexity="low")) == (
        "Complexity only applies to gpt-image-2, gpt-image-2.5-sunburst, gpt-image-2.5-flare, "
        "gpt-image-2.6-sunburst, and gpt-image-2.6-flare.",
    )


def test_input_fidelity_matches_the_sdk(catalog: Catalog) -> None:
    text = doc(SDK_EDIT, "input_fidelity")
    both, low, full, mini, only, omit = search(
        r"Supports `(\w+)` and `(\w+)` on `([\w.-]+)`; `([\w.-]+)` supports only `(\w+)`\. "
        r"For `([\w.-]+)`, omit this parameter\.",
        text,
    )
    assert SDK_EDIT["input_fidelity"]["values"] == [both, low] == ["high", "low"]
    assert (full, mini, only, omit) == ("gpt-image-1.5", "gpt-image-1-mini", "low", "gpt-image-2")
    for name in (full, f"{full}-2025-12-16"):
        assert catalog.get(name).values("input_fidelity") == (both, low)
    assert catalog.get(mini).values("input_fidelity") == (only,)
    assert not having(catalog, "input_fidelity") & set(NEWER)  # gpt-image-2 and newer: omitted
    # gpt-image-1 is no longer described; the older spec gave it fidelity like gpt-image-1.5.
    assert (
        "only supported for `gpt-image-1` and `gpt-image-1.5`"
        in SCHEMAS["InputFidelity"]["description"]
    )
    assert having(catalog, "input_fidelity") == {
        "gpt-image-1", mini, full, f"{full}-2025-12-16"
    }  # fmt: skip
    found = violations(catalog, edit_request(mini, "hat", (image(),), input_fidelity="high"))
    assert found == (
        "Input fidelity high isn't available for gpt-image-1-mini. Choose one of: low.",
    )
    found = violations(catalog, edit_request(omit, "hat", (image(),), input_fidelity="low"))
    assert found == (
        "Input fidelity only applies to gpt-image-1, gpt-image-1-mini, and gpt-image-1.5.",
    )


def test_markup_only_on_the_2_5_models(catalog: Catalog) -> None:
    text = doc(SDK_EDIT, "markup")
    assert text.startswith("A transparent PNG overlaid on the first image to guide the edit.")
    (family,) = search(r"Supports (GPT Image [\d.]+)\. Cannot be combined with mask\.", text)
    marked = {m.name for m in catalog if m.markup}
    assert marked == {m.name for m in catalog if m.label.startswith(family)}
    assert marked == {m for m in GPT if m.startswith("gpt-image-2.5")} and len(marked) == 4
    overlay = image()
    (sent,) = catalog.plan(
        edit_request("gpt-image-2.5-flare", "hat", (image(),), markup=overlay)
    ).requests
    assert sent.markup == overlay and sent.mask is None
    with_mask = edit_request("gpt-image-2.5-flare", "hat", (image(),), markup=overlay, mask=image())
    assert violations(catalog, with_mask) == (
        "A markup overlay can't be combined with a mask; send one or the other.",
    )
    assert violations(catalog, edit_request("gpt-image-2", "hat", (image(),), markup=overlay)) == (
        "A markup overlay only applies to gpt-image-2.5-sunburst and gpt-image-2.5-flare.",
    )
    wrong = edit_request("gpt-image-2.5-sunburst", "hat", (image(),), markup=image(32, 32, "webp"))
    assert violations(catalog, wrong) == (
        "The markup overlay must be a png; yours is a webp.",
        "The markup overlay is 32x32 but the image is 64x64; they must match.",
    )


def test_style_and_response_format_only_on_the_retired_dall_e(catalog: Catalog) -> None:
    for params in (SDK_GEN, SDK_EDIT):
        text = doc(params, "response_format")
        assert text.startswith("Legacy response format parameter for retired image models.")
        assert "Unsupported for GPT image models" in text
    assert doc(SDK_GEN, "style").startswith("Legacy style parameter for retired image models.")
    assert "Unsupported for GPT image models" in doc(SDK_GEN, "style")
    assert {m.name for m in catalog if m.response_format} == set(DALLE) <= set(retired())
    assert having(catalog, "style") == {"dall-e-3"}
    assert catalog.get("dall-e-3").values("style") == tuple(SDK_GEN["style"]["values"])
    assert "b64_json" in SDK_GEN["response_format"]["values"]


def test_input_images_match_the_sdk(catalog: Catalog) -> None:
    text = doc(SDK_EDIT, "image")
    names, formats, max_mb, max_images = search(
        r"For the GPT image models \((.+?)\), each image should be a (.+?) file less than "
        r"(\d+)MB\. You can provide up to (\d+) images\.",
        text,
    )
    assert "`chatgpt-image-latest` follows the same input constraints as GPT image models." in text
    assert {*ticked(names), "chatgpt-image-latest"} <= set(GPT)
    accepted = {"jpeg" if f == "jpg" else f for f in ticked(formats)}
    assert "Must be a valid PNG file, less than 4MB" in doc(SDK_EDIT, "mask")
    for name in GPT:  # the newest (2.6) and gpt-image-1 are GPT image models too
        rules = catalog.get(name).input
        assert (
            (rules.max_images, rules.max_bytes)
            == (int(max_images), int(max_mb) * MIB)
            == (
                16,
                50 * MIB,
            )
        )
        assert rules.formats == accepted and not rules.square
        assert (rules.max_side, rules.mask_max_bytes) == (2048, 4 * MIB)


def test_input_rules_match_the_spec(catalog: Catalog) -> None:
    image_text = " ".join(EDIT["image"]["description"].split())
    assert "one image, and it should be a square `png` file less than 4MB" in image_text
    assert "valid PNG file, less than 4MB" in EDIT["mask"]["description"]
    assert "PNG file, less than 4MB, and square" in VAR["image"]["description"]
    rules = catalog.get("dall-e-2").input
    assert (rules.max_images, rules.formats, rules.square) == (1, {"png"}, True)
    assert (rules.max_bytes, rules.mask_max_bytes, rules.max_side) == (4 << 20, 4 << 20, 1024)


def test_shutdown_dates_and_replacements(catalog: Catalog) -> None:
    gone = retired()
    assert gone["gpt-image-1"] == (
        datetime.date(2026, 10, 23),
        "gpt-image-2.5-sunburst or gpt-image-2.5-flare",
    )
    assert gone["dall-e-2"] == gone["dall-e-3"] == (datetime.date(2026, 5, 12), "a GPT image model")
    page, day, instead = shut_on_the_page()
    assert day == datetime.date(2026, 12, 1)
    expected = {name: date for name, (date, _) in gone.items()} | dict.fromkeys(page, day)
    assert {m.name: m.shutdown for m in catalog if m.shutdown} == expected
    assert {m.name for m in catalog if m.shutdown is None} == set(NEWER)
    assert catalog.get("gpt-image-1").replacement in re.findall(r"[\w.-]+", gone["gpt-image-1"][1])
    assert all(catalog.get(name).replacement in instead for name in page)
    for spec in catalog:
        if spec.replacement is None:
            assert spec.name in DALLE or spec.shutdown is None  # "Use a GPT image model"
            continue
        successor = catalog.get(spec.replacement)
        assert successor.shutdown is None and successor.name in GPT
        assert all(successor.can(op) for op in spec.operations if op != "variation")
    # A model shut down on a day is shut down from that day on, and not the day before.
    gpt1 = catalog.get("gpt-image-1")
    assert gpt1.shut_down_by(datetime.date(2026, 10, 23))
    assert not gpt1.shut_down_by(datetime.date(2026, 10, 22))
    assert not catalog.get("gpt-image-2").shut_down_by(datetime.date(2100, 1, 1))


def test_preferences_start_with_usable_current_models(catalog: Catalog) -> None:
    assert set(catalog.preferences) == {"generate", "edit", "variation"}
    for op, names in catalog.preferences.items():
        specs = [catalog.get(name) for name in names]
        assert specs and all(spec.can(op) for spec in specs)
        assert len(set(names)) == len(names)
        assert specs[0].shutdown is None and specs[0].name in NEWER
        dated = [spec.shutdown is not None for spec in specs]
        assert dated == sorted(dated)  # every current model comes before any that shuts down
        assert not any(re.search(r"-\d{4}-\d{2}-\d{2}$", name) for name in names)
    assert catalog.preferences["generate"][0] == "gpt-image-2.6-sunburst"
    assert catalog.preferences["edit"] == catalog.preferences["variation"]
    assert "dall-e-3" not in catalog.preferences["edit"]


def test_labels(catalog: Catalog) -> None:
    assert all(m.label and m.description for m in catalog)
    assert catalog.get("gpt-image-1-mini").label == "GPT Image 1 mini"
    assert catalog.get("gpt-image-2.6-flare").title == "GPT Image 2.6 Flare (gpt-image-2.6-flare)"
    assert catalog.get("gpt-image-2.5-flare-2026-09-08").lineage == (
        "gpt-image-2.5-flare",
        "gpt-image-2.5-sunburst",
        "gpt-image-2",
        "gpt-image-1",
    )
    assert all(m.assumed_from is None for m in catalog)


# --- models the catalog doesn't know yet ----------------------------------------------------


@pytest.mark.parametrize(
    ("listed", "nearest"),
    [
        ("gpt-image-2.7-sunburst", "gpt-image-2.6-sunburst"),
        ("gpt-image-2.6-flare-2027-01-05", "gpt-image-2.6-flare"),
        ("gpt-image-2.7-flare-2027-03-01", "gpt-image-2.6-flare"),
        ("gpt-image-3", "gpt-image-2"),
        ("gpt-image-2.5-sunburst", "gpt-image-2.5-sunburst"),
        ("gpt-image-0.5", "gpt-image-1"),
        ("gpt-image-3-mini", "gpt-image-1-mini"),
        ("whisper-1", None),
        ("flux-schnell", None),
        ("chatgpt-4o-latest", None),
    ],
)
def test_nearest_known(catalog: Catalog, listed: str, nearest: str | None) -> None:
    found = nearest_known(listed, catalog)
    assert (found.name if found else None) == nearest


def test_an_assumed_model_keeps_the_limits_not_the_lifecycle(catalog: Catalog) -> None:
    base = catalog.get("gpt-image-1.5")
    new = assumed("gpt-image-1.7", base)
    assert (new.name, new.label, new.assumed_from) == ("gpt-image-1.7", "gpt-image-1.7", base.name)
    assert (new.shutdown, new.replacement) == (None, None) and base.shutdown is not None
    assert new.lineage == ("gpt-image-1.5", "gpt-image-1")
    assert new.values("input_fidelity") == base.values("input_fidelity") == ("high", "low")
    assert new.input == base.input and new.sizes("edit") == base.sizes("edit")
    assert new.description == ""  # /help words it from assumed_from, in the reader's language


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
            "gpt-image-1.5, chatgpt-image-latest, gpt-image-2, and 4 more.",
        ),
        (
            generate_request("dall-e-2", "cat", size="1792x1024"),
            "Size 1792x1024 isn't available for dall-e-2. "
            "Choose one of: 256x256, 512x512, or 1024x1024.",
        ),
        (
            generate_request("dall-e-3", "cat", size="auto"),
            "Size auto isn't available for dall-e-3. "
            "Choose one of: 1024x1024, 1792x1024, or 1024x1792.",
        ),
        (
            generate_request("gpt-image-1", "cat", size="big"),
            "Size 'big' isn't a size; write WIDTHxHEIGHT. Choose one of: 1024x1024, 1536x1024, "
            "1024x1536, or auto.",
        ),
        (
            generate_request("gpt-image-1", "cat", quality="hd"),
            "Quality hd isn't available for gpt-image-1. Choose one of: low, medium, high, or auto.",
        ),
        (generate_request("gpt-image-1", "cat", style="vivid"), "Style only applies to dall-e-3."),
        (
            generate_request("dall-e-3", "cat", style="moody"),
            "Style moody isn't available for dall-e-3. Choose one of: vivid or natural.",
        ),
        (
            generate_request("dall-e-3", "cat", background="opaque"),
            "Background only applies to gpt-image-1, gpt-image-1-mini, gpt-image-1.5, "
            "chatgpt-image-latest, gpt-image-2, gpt-image-2.5-sunburst, and 3 more.",
        ),
        (
            generate_request("gpt-image-1", "cat", output_format="gif"),
            "Output format gif isn't available for gpt-image-1. Choose one of: png, jpeg, or webp.",
        ),
        (
            generate_request("gpt-image-1", "cat", moderation="none"),
            "Moderation none isn't available for gpt-image-1. Choose one of: low or auto.",
        ),
        (
            edit_request("gpt-image-2.5-sunburst", "hat", (image(),), input_fidelity="high"),
            "Input fidelity only applies to gpt-image-1, gpt-image-1-mini, and gpt-image-1.5.",
        ),
        (
            generate_request("gpt-image-1", "cat", background="transparent", output_format="jpeg"),
            "A transparent background needs png or webp, not jpeg.",
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
            "chatgpt-image-latest, gpt-image-2, gpt-image-2.5-sunburst, and 3 more.",
        ),
        (
            generate_request("gpt-image-2.6-sunburst", "cat", size="1536x864"),
            "Size 1536x864 isn't available for gpt-image-2.6-sunburst. "
            "Choose one of: 1024x1024, 1536x1024, 1024x1536, or auto.",
        ),
        (
            generate_request("gpt-image-1.5", "cat", quality="max"),
            "Quality max isn't available for gpt-image-1.5. Choose one of: low, medium, high, or auto.",
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
        "Image 2 is a gif; gpt-image-1 takes png, jpeg, or webp images only.",
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
    assert english(caught.value.violations) == (
        "Prompts for dall-e-2 can be at most 1000 characters; yours has 1001.",
        "dall-e-2 makes at most 10 images per request; you asked for 12.",
        "Size 1024x1792 isn't available for dall-e-2. Choose one of: 256x256, 512x512, or 1024x1024.",
        "Quality hd isn't available for dall-e-2. Choose one of: standard.",
        "Style only applies to dall-e-3.",
    )
    assert str(caught.value).startswith("This request can't be sent:\n- Prompts for dall-e-2")


def test_unknown_model(catalog: Catalog) -> None:
    with pytest.raises(ValidationError) as caught:
        catalog.plan(generate_request("dall-e-9", "cat"))
    assert str(caught.value) == (
        "Unknown model 'dall-e-9'. Available: dall-e-2, dall-e-3, gpt-image-1, gpt-image-1-mini, "
        "gpt-image-1.5, chatgpt-image-latest, and 5 more."
    )


def test_refusals_read_in_the_members_language(catalog: Catalog) -> None:
    request = generate_request(
        "dall-e-2", "x" * 1001, n=12, size="1024x1792", quality="hd", style="vivid"
    )
    with pytest.raises(ValidationError) as caught:
        catalog.plan(request)
    assert caught.value.render("ru") == (
        "Этот запрос нельзя отправить:\n"
        "- Запрос для dall-e-2 может быть не длиннее 1000 символов; в вашем 1001.\n"
        "- dall-e-2 делает не больше 10 изображений за запрос; вы попросили 12.\n"
        "- Размер 1024x1792 недоступен для dall-e-2. "
        "Выберите один из: 256x256, 512x512 или 1024x1024.\n"
        "- dall-e-2 не поддерживает «Качество: hd». Выберите одно из: standard.\n"
        "- «Стиль» работает только с dall-e-3."
    )
    with pytest.raises(ValidationError) as caught:
        catalog.plan(generate_request("dall-e-9", "cat"))
    assert caught.value.render("zh_CN") == (
        "未知模型“dall-e-9”。可用的有：dall-e-2、dall-e-3、gpt-image-1、gpt-image-1-mini、"
        "gpt-image-1.5、chatgpt-image-latest和另外 5 个。"
    )
    with pytest.raises(ValidationError) as caught:
        catalog.plan(generate_request("gpt-image-2", "cat", size="3000x800"))
    assert caught.value.render("de") == (
        "Die Größe 3000x800 geht bei gpt-image-2 nicht: beide Seiten müssen Vielfache von 16 "
        "sein und die lange Seite darf höchstens 3-mal so lang sein wie die kurze."
    )


def test_counts_take_the_plural_form_of_the_readers_language(catalog: Catalog) -> None:
    for n, russian in ((2, "отправлено 2 запроса"), (4, "отправлено 4 запроса")):
        (note,) = catalog.plan(generate_request("dall-e-3", "cat", n=n)).notes
        assert note.render("ru") == (
            f"dall-e-3 делает одно изображение за запрос, поэтому {russian}."
        )
    with pytest.raises(ValidationError) as caught:
        catalog.precheck(edit_request("gpt-image-1", "hat", ()), image_count=17)
    assert caught.value.render("ru") == (
        "gpt-image-1 принимает не больше 16 изображений; вы прислали 17."
    )
    assert caught.value.render("fr") == "gpt-image-1 prend au plus 16 images ; tu en as donné 17."


def test_every_choice_label_is_in_the_catalogs() -> None:
    missing = [c.label for c in CHOICES for lang in ("ru", "zh_CN") if not translate(lang, c.label)]
    assert missing == []


def test_precheck_counts_images_before_they_are_prepared(catalog: Catalog) -> None:
    catalog.precheck(edit_request("gpt-image-1", "hat", ()), image_count=16)
    with pytest.raises(ValidationError) as caught:
        catalog.precheck(edit_request("dall-e-2", "", ()), image_count=3)
    assert english(caught.value.violations) == (
        "The prompt is empty; describe what you want to see.",
        "dall-e-2 takes one image at a time; you gave 3.",
    )
    with pytest.raises(ValidationError, match=r"Attach an image to make variations of\."):
        catalog.precheck(variation_request("dall-e-2", None), image_count=0)  # type: ignore[arg-type]


# --- plans: normalising and adapting ------------------------------------------------------


def test_n_beyond_the_model_is_split_into_parallel_single_requests(catalog: Catalog) -> None:
    request = generate_request("dall-e-3", "cat", n=3, style="natural", safety_identifier="h1")
    plan = catalog.plan(request)
    assert english(plan.notes) == ("dall-e-3 makes one image per request, so I sent 3 requests.",)
    assert [r.n for r in plan.requests] == [1, 1, 1] and plan.total_images == 3
    assert set(plan.requests) == {
        generate_request(
            "dall-e-3",
            "cat",
            size="1024x1024",
            quality="standard",
            style="natural",
            response_format="b64_json",
        )
    }  # dall-e-3 takes no safety identifier: it isn't sent


def test_n_within_the_model_is_one_request_without_notes(catalog: Catalog) -> None:
    plan = catalog.plan(generate_request("gpt-image-1", "cat", n=10, safety_identifier="h1"))
    assert [r.n for r in plan.requests] == [10] and plan.notes == ()
    assert plan.requests[0].safety_identifier == "h1"
    assert plan.requests[0].text_fields()["safety_identifier"] == "h1"


def test_response_format_and_defaults_are_normalised(catalog: Catalog) -> None:
    (gpt,) = catalog.plan(generate_request("gpt-image-1", "cat", response_format="url")).requests
    assert gpt == generate_request("gpt-image-1", "cat", size="1024x1024", quality="medium")
    (dalle,) = catalog.plan(generate_request("dall-e-2", "cat", response_format="url")).requests
    assert (dalle.response_format, dalle.params.size, dalle.params.quality) == (
        "b64_json",
        "1024x1024",
        "standard",
    )
    (picked,) = catalog.plan(
        generate_request("gpt-image-2", "cat", size="auto", quality="high")
    ).requests
    assert (picked.params.size, picked.params.quality, picked.response_format) == (
        "auto",
        "high",
        None,
    )
    (edit,) = catalog.plan(
        edit_request("gpt-image-1.5", "hat", (image(),), input_fidelity="high")
    ).requests
    assert edit.operation == "edit"
    assert (edit.params.input_fidelity, edit.params.size, edit.response_format) == (
        "high",
        "1024x1024",
        None,
    )
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
    assert (sent.params.background, sent.params.output_format, sent.params.output_compression) == (
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
    for name in ("gpt-image-2", "gpt-image-2.5-flare-2026-09-08"):
        spec = catalog.get(name)
        assert spec.size_allowed("generate", size) is (reasons is None)
        assert spec.size_allowed("edit", size) is (reasons is None)
    assert not catalog.get("gpt-image-1").size_allowed("generate", size)
    assert not catalog.get("gpt-image-2.6-sunburst").size_allowed("generate", size)
    if reasons is None:
        assert (
            catalog.plan(generate_request("gpt-image-2", "cat", size=size)).requests[0].params.size
            == size
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
    assert (flux.values("style"), flux.n_max, flux.response_format) == (
        ("vivid", "natural"),
        1,
        True,
    )
    assert (flux.shutdown, flux.replacement, flux.lineage) == (None, None, ("dall-e-3",))
    assert flux.prompt_limit("generate") == 2000  # `like` follows the overridden dall-e-3
    plan = catalog.plan(generate_request("flux-schnell", "cat", n=2, size="768x1344"))
    assert english(plan.notes) == (
        "flux-schnell makes one image per request, so I sent 2 requests.",
    )
    assert plan.requests[0] == generate_request(
        "flux-schnell", "cat", size="768x1344", response_format="b64_json"
    )
    assert violations(catalog, generate_request("gpt-image-1", "cat", style="vivid")) == (
        "Style only applies to dall-e-3 and flux-schnell.",
    )
    builtin = Catalog.load().preferences
    kept = (n for n in builtin["generate"] if n != "dall-e-2")  # disabled below
    assert catalog.preferences["generate"] == ("flux-schnell", *kept)
    assert catalog.preferences["edit"] == tuple(n for n in builtin["edit"] if n != "dall-e-2")


def test_operator_overrides_merge_into_builtin_models() -> None:
    catalog = Catalog.from_toml_text(BUILTIN, FLUX, source="ops.toml")
    dalle3 = catalog.get("dall-e-3")
    assert (dalle3.prompt_limit("generate"), dalle3.label) == (2000, "DALL·E 3")
    assert dalle3.sizes("generate") == ("1024x1024", "1792x1024", "1024x1792")
    for name in ("gpt-image-1", "gpt-image-1-mini"):
        rules = catalog.get(name).input
        assert (rules.max_images, rules.max_side, rules.max_bytes) == (4, 2048, 50 << 20)
    assert catalog.get("gpt-image-1.5").input.max_images == 4
    assert "dall-e-2" not in catalog and "dall-e-2" in catalog.disabled
    assert [m.name for m in catalog if m.supports("variation")] == []
    assert "dall-e-2" not in catalog.names("variation") + catalog.preferences["variation"]
    assert catalog.preferences["variation"][0] == "gpt-image-2.6-sunburst"  # varies by editing
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
    known = ", ".join((*Catalog.load().names(), "flux-schnell", "ghost", "bad", "odd", "loop"))
    with pytest.raises(ConfigError) as caught:
        Catalog.from_toml_text(BUILTIN, operator, source="ops.toml")
    assert sorted(caught.value.problems) == sorted(
        [
            "ops.toml: extras: unknown table; use [catalog] and [models.NAME]",
            "ops.toml: models.flux-schnell.sizez: unknown key",
            "ops.toml: models.flux-schnell.sizes: 'huge' isn't a size; write WIDTHxHEIGHT "
            "(like 1024x1024) or 'auto'",
            f"ops.toml: models.ghost.like: unknown model 'dall-e-4'; known: {known}",
            "ops.toml: models.bad.operations: must list some of generate, edit, variation; "
            "unknown: ['paint']",
            "ops.toml: models.bad.n_max: must be a whole number of at least 1; got 0",
            "ops.toml: models.odd.default_size: 512x512 isn't among the sizes for generate "
            "(1024x1024, 1792x1024, 1024x1792)",
            "ops.toml: models.odd.default_quality: 'ultra' isn't in qualities (standard, hd)",
            "ops.toml: models.loop.like: 'loop' leads back to itself",
            "ops.toml: catalog.max_n_adapted: must be a whole number of at least 1; got 0",
            "ops.toml: catalog.default_models.generate: no model 'nope' that can generate",
            "ops.toml: catalog.default_models.paint: unknown operation; use generate, edit, "
            "variation",
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
    # gpt-image-2's snapshot and the 2.5 models inherit the bad values: each is one problem.
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
        "max_long, max_short, max_ratio, min_pixels, max_pixels",
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


GATEWAY = """
[catalog]
default_models = { edit = "gpt-image-2" }

[catalog.preferences]
generate = ["flux-pro", "gpt-image-2"]

[catalog.vary]
subtle = "Another take of this picture, nearly the same."

[models.flux-pro]
like = "gpt-image-2.5-sunburst"
complexities = ["low"]
gated_formats = ["gif"]
markup = false
vary_by_edit = false
safety_identifier = false
shutdown = 2027-03-01
replacement = "gpt-image-2.6-sunburst"
free_size = { max_pixels = 4000000 }

[models.dall-e-3]
shutdown = false

[models.gpt-image-1]
shutdown = "2026-11-30"
output_formats = ["png", "jpeg", "webp", "gif"]
"""


def test_operator_keys_of_the_current_contract() -> None:
    catalog = Catalog.from_toml_text(BUILTIN, GATEWAY, source="ops.toml")
    builtin = Catalog.load()
    flux = catalog.get("flux-pro")
    assert (flux.values("complexity"), flux.gated_formats) == (("low",), ("gif",))
    assert not (flux.markup or flux.vary_by_edit or flux.safety_identifier)
    assert not flux.can("variation") and flux.can("edit")
    assert (flux.shutdown, flux.replacement) == (
        datetime.date(2027, 3, 1),
        "gpt-image-2.6-sunburst",
    )
    assert flux.lineage == ("gpt-image-2.5-sunburst", "gpt-image-2", "gpt-image-1")
    assert flux.values("quality") == builtin.get("gpt-image-2.5-sunburst").values("quality")
    free_size = flux.free_size
    assert free_size is not None  # merged over the inherited table
    assert (free_size.max_pixels, free_size.multiple, free_size.max_long) == (4_000_000, 16, 3840)
    assert violations(catalog, generate_request("flux-pro", "cat", size="2560x1600")) == (
        "Size 2560x1600 doesn't work for flux-pro: it can have at most 4,000,000 pixels.",
    )
    assert violations(catalog, generate_request("flux-pro", "cat", complexity="high")) == (
        "Complexity high isn't available for flux-pro. Choose one of: low.",
    )
    assert catalog.get("dall-e-3").shutdown is None
    gpt1 = catalog.get("gpt-image-1")
    assert gpt1.shutdown == datetime.date(2026, 11, 30)
    assert gpt1.replacement == builtin.get("gpt-image-1").replacement  # kept when merged
    (gif,) = catalog.plan(generate_request("gpt-image-1", "cat", output_format="gif")).requests
    assert gif.params.output_format == "gif"  # the operator turned the gated format on
    assert catalog.get("gpt-image-1-mini").shutdown == builtin.get("gpt-image-1-mini").shutdown
    assert catalog.preferences["generate"] == ("flux-pro", "gpt-image-2")
    edit = builtin.preferences["edit"]
    assert catalog.preferences["edit"] == ("gpt-image-2", *(n for n in edit if n != "gpt-image-2"))
    assert catalog.preferences["variation"] == builtin.preferences["variation"]
    assert catalog.vary_prompts == {
        "subtle": "Another take of this picture, nearly the same.",
        "strong": builtin.vary_prompts["strong"],
    }


def test_a_model_like_another_has_its_own_lifecycle() -> None:
    operator = '[models.gateway-1]\nlike = "gpt-image-1-mini"\n'
    gateway = Catalog.from_toml_text(BUILTIN, operator).get("gateway-1")
    assert (gateway.shutdown, gateway.replacement) == (None, None)
    assert gateway.lineage == ("gpt-image-1-mini", "gpt-image-1")
    assert gateway.values("input_fidelity") == ("low",)


def test_bad_values_of_the_current_contract_name_file_and_key() -> None:
    operator = """
    [catalog]
    preferences = { generate = "gpt-image-2", edit = ["dall-e-3"], paint = ["gpt-image-2"] }
    vary = { subtle = "", wild = "Go wild." }

    [models.x]
    like = "gpt-image-2"
    complexities = "high"
    gated_formats = ["tiff"]
    markup = "yes"
    vary_by_edit = 1
    safety_identifier = "on"
    shutdown = "soon"
    replacement = ""
    free_size = { max_pixels = 1.5 }

    [models.dall-e-3]
    shutdown = 20261201

    [models.y]
    like = "gpt-image-2"
    output_formats = ["png", "svg"]
    """
    with pytest.raises(ConfigError) as caught:
        Catalog.from_toml_text(BUILTIN, operator, source="ops.toml")
    assert sorted(caught.value.problems) == sorted(
        [
            "ops.toml: catalog.preferences.generate: must be a list of strings; got 'gpt-image-2'",
            "ops.toml: catalog.preferences.edit: no model 'dall-e-3' that can edit",
            "ops.toml: catalog.preferences.paint: unknown operation; use generate, edit, variation",
            "ops.toml: catalog.vary.subtle: must be the instruction text",
            "ops.toml: catalog.vary.wild: unknown strength; use subtle, strong",
            "ops.toml: models.x.complexities: must be a list of strings; got 'high'",
            "ops.toml: models.x.gated_formats: unknown output format(s) ['tiff']; use png, jpeg, "
            "webp, gif, svg",
            "ops.toml: models.x.markup: must be true or false; got 'yes'",
            "ops.toml: models.x.vary_by_edit: must be true or false; got 1",
            "ops.toml: models.x.safety_identifier: must be true or false; got 'on'",
            "ops.toml: models.x.shutdown: must be a date like 2026-12-01, or false; got 'soon'",
            "ops.toml: models.x.replacement: must be a non-empty string; got ''",
            "ops.toml: models.x.free_size: must be a whole number of at least 1; got 1.5",
            "ops.toml: models.dall-e-3.shutdown: must be a date like 2026-12-01, or false; "
            "got 20261201",
            "ops.toml: models.y.output_formats: svg output isn't supported by this version of "
            "the bot",
        ]
    )
