"""Aspect ratio and detail: every ratio x tier x catalog model is a size the catalog and the fake
Images API both take, or a refusal naming the model, the ratio and the tier; prices grow with the
pixels; the new options are checked like every other (pure: no Discord, no HTTP)."""

from __future__ import annotations

import pytest
from multidict import CIMultiDict

from bot.errors import ValidationError
from bot.i18n import render
from bot.images.params import Params
from bot.models import Catalog, ModelSpec
from bot.models.aspect import RATIOS, TIERS, largest_size, size_for_photo, size_for_shape
from bot.models.shaping import shape_note, shaped, tier_sizes
from bot.models.spec import parse_size
from bot.quotas.costs import cost_per_image
from tests.fakes import openai_rules
from tests.fakes.openai_rules import FAMILIES, MODELS, RecordedRequest, Reject
from tests.requests import edit_request, generate_request

CATALOG = Catalog.load()
MODELS_AND_OPS = [
    (spec.name, op) for spec in CATALOG for op in ("generate", "edit") if spec.can(op)
]
FREE = [spec.name for spec in CATALOG if spec.free_size is not None]
QUALITIES = ("low", "medium", "high")


def fake_refusal(model: str, size: str) -> str | None:
    """What the fake Images API says to a generation of ``size`` (None: it takes it)."""
    request = RecordedRequest(
        "POST",
        "/v1/images/generations",
        "generations",
        CIMultiDict({"Content-Type": "application/json"}),
        json={"model": model, "prompt": "a fox", "size": size},
    )
    try:
        openai_rules.validate(
            "generations", request, lambda m: FAMILIES[MODELS[str(m)]], frozenset()
        )
    except Reject as refused:
        return refused.message
    return None


def pixels(size: str) -> int:
    width, height = parse_size(size) or (0, 0)
    return width * height


@pytest.mark.parametrize(("model", "op"), MODELS_AND_OPS)
def test_every_ratio_and_tier_is_a_size_both_sides_take_or_a_refusal(model: str, op: str) -> None:
    spec = CATALOG.get(model)
    for ratio in RATIOS:
        for tier in TIERS:
            try:
                size = size_for_shape(spec, op, ratio, tier.name)  # type: ignore[arg-type]
            except ValidationError as refused:
                (message,) = map(str, refused.violations)
                assert model in message and ratio in message, message
                assert tier.name in message or "at any detail" in message, message
                continue
            assert spec.size_allowed(op, size), (ratio, tier.name, size)  # type: ignore[arg-type]
            assert fake_refusal(model, size) is None, (ratio, tier.name, size)


@pytest.mark.parametrize("model", FREE)
def test_free_sizes_follow_the_ratio_and_grow_with_the_tier(model: str) -> None:
    spec = CATALOG.get(model)
    for ratio in RATIOS:
        wide, tall = (int(side) for side in ratio.split(":"))
        sizes = [size_for_shape(spec, "generate", ratio, tier.name) for tier in TIERS]
        for size in sizes:
            width, height = parse_size(size) or (0, 0)
            assert abs(width / height - wide / tall) / (wide / tall) <= 0.01, (ratio, size)
        assert pixels(sizes[0]) < pixels(sizes[1]) < pixels(sizes[2]), (ratio, sizes)
        assert max(parse_size(sizes[1]) or ()) == 2048
        assert max(parse_size(sizes[2]) or ()) > 2048


def test_sizes_members_would_expect() -> None:
    gpt2 = CATALOG.get("gpt-image-2")
    assert size_for_shape(gpt2, "generate", "16:9", "2K") == "2048x1152"
    assert size_for_shape(gpt2, "generate", "16:9", "4K") == "3840x2160"
    assert size_for_shape(gpt2, "generate", "9:16", "4K") == "2160x3840"
    assert size_for_shape(gpt2, "generate", "1:1", "standard") == "1024x1024"
    assert size_for_shape(gpt2, "edit", "3:2", "standard") == "1536x1024"  # listed: priced exactly
    assert size_for_shape(gpt2, "generate", "1:1", "4K") == "2160x2160"  # its largest square
    assert size_for_shape(CATALOG.get("gpt-image-1"), "generate", "16:9") == "1536x1024"
    assert size_for_shape(CATALOG.get("dall-e-3"), "generate", "9:16") == "1024x1792"
    assert size_for_shape(gpt2, "generate", "4:3", "2k") == "2048x1536"  # any case


def test_refusals_say_what_the_model_makes_instead() -> None:
    with pytest.raises(ValidationError) as refused:
        size_for_shape(CATALOG.get("gpt-image-1"), "generate", "16:9", "2K")
    assert refused.value.message == (
        "gpt-image-1 can't make 16:9 at 2K detail; the most it makes for 16:9 is 1536x1024 "
        "(3:2), at standard detail."
    )
    with pytest.raises(ValidationError) as refused:
        size_for_shape(CATALOG.get("dall-e-2"), "generate", "16:9")
    assert refused.value.message == "dall-e-2 can't make 16:9 images at any detail; it makes 1:1."
    with pytest.raises(ValidationError) as refused:
        size_for_shape(CATALOG.get("gpt-image-2"), "generate", "5:4")
    assert "Aspect ratio 5:4 isn't one I offer" in refused.value.message
    with pytest.raises(ValidationError) as refused:
        size_for_shape(CATALOG.get("gpt-image-2"), "generate", "16:9", "8K")
    assert (
        refused.value.message == "Detail 8K isn't one I offer. Choose one of: standard, 2K, or 4K."
    )


def test_shaped_fills_the_size_and_keeps_the_shape_for_reruns() -> None:
    gpt2 = CATALOG.get("gpt-image-2")
    params = shaped(gpt2, "generate", Params(aspect="16:9", detail="2K"))
    assert (params.size, params.aspect, params.detail) == ("2048x1152", "16:9", "2K")
    assert shaped(gpt2, "generate", params) == params  # checked twice (admitted, then run)
    assert shaped(gpt2, "generate", Params(detail="2K")).size == "2048x2048"  # the default shape
    assert shaped(gpt2, "edit", Params(detail="4K")).size is None  # the photo decides later
    plain = Params(size="1024x1024")
    assert shaped(gpt2, "generate", plain) is plain


@pytest.mark.parametrize(
    "params",
    [
        Params(size="1024x1024", aspect="16:9"),
        Params(size="1024x1024", detail="2K"),
        Params(size="1024x1024", aspect="16:9", detail="2K"),
    ],
)
def test_a_size_with_a_shape_is_refused_naming_both(params: Params) -> None:
    for op in ("generate", "edit"):
        with pytest.raises(ValidationError) as refused:
            shaped(CATALOG.get("gpt-image-2"), op, params)
        message = refused.value.message
        assert message.startswith("Choose either a size or an aspect ratio and detail, not both")
        assert "size 1024x1024" in message
        assert ("aspect ratio 16:9" in message) is (params.aspect is not None)
        assert ("detail 2K" in message) is (params.detail is not None)


def test_a_tier_the_model_lacks_names_the_models_that_have_it() -> None:
    others = tuple(CATALOG)
    with pytest.raises(ValidationError) as refused:
        shaped(CATALOG.get("gpt-image-1"), "generate", Params(aspect="16:9", detail="4K"), others)
    first, hint = map(str, refused.value.violations)
    assert first.startswith("gpt-image-1 can't make 16:9 at 4K detail")
    assert hint.startswith("Models that make 16:9 at 4K detail: gpt-image-2, gpt-image-2.5")
    with pytest.raises(ValidationError) as refused:
        shaped(CATALOG.get("gpt-image-1"), "edit", Params(detail="2K"), others)
    assert str(refused.value.violations[0]) == "gpt-image-1 can't make 2K images."
    with pytest.raises(ValidationError) as refused:
        shaped(CATALOG.get("dall-e-2"), "variation", Params(aspect="1:1"))
    assert refused.value.message == "Aspect ratio and detail don't apply when you make variations."


def test_shapes_tiers_and_their_refusals_read_in_the_members_language() -> None:
    assert [tier.meaning.render("ru") for tier in TIERS] == [
        "около мегапикселя, обычная цена",
        "длинная сторона до 2048 пикселей, дороже",
        "длинная сторона до 3840 пикселей, дороже всего",
    ]
    gpt2 = CATALOG.get("gpt-image-2")
    photo = [(tier, render("ja", size)) for tier, size in tier_sizes(gpt2, "edit", None)]
    assert photo == [(tier.name, "元の画像の形") for tier in TIERS]
    with pytest.raises(ValidationError) as refused:
        size_for_shape(CATALOG.get("dall-e-2"), "generate", "16:9")
    assert refused.value.render("es") == (
        "dall-e-2 no puede hacer imágenes 16:9 con ningún detalle; hace 1:1."
    )
    with pytest.raises(ValidationError) as refused:
        shaped(gpt2, "generate", Params(size="1024x1024", detail="2K"))
    assert refused.value.render("pt_BR") == (
        "Escolha um tamanho ou um formato e um detalhe, não os dois; você deu o tamanho "
        "1024x1024 e o detalhe 2K."
    )
    chosen = {"size": "2048x1152", "aspect": "16:9", "detail": "2K"}
    note = shape_note(gpt2, generate_request("gpt-image-2", "a fox", **chosen))
    assert note is not None and note.render("fr") == "16:9 en 2K : 2048x1152."


def test_the_note_says_which_size_was_used() -> None:
    gpt2, gpt1 = CATALOG.get("gpt-image-2"), CATALOG.get("gpt-image-1")

    def note(spec: ModelSpec, op: str, **params: object) -> str | None:
        build = generate_request if op == "generate" else edit_request
        checked = shaped(spec, op, Params(**params))  # type: ignore[arg-type]
        found = shape_note(spec, build(spec.name, "a fox", **checked.stored()))
        return None if found is None else str(found)

    assert note(gpt2, "generate", aspect="16:9", detail="2K") == "16:9 at 2K: 2048x1152."
    assert note(gpt2, "generate", aspect="16:9") == "16:9 at standard detail: 1536x864."
    assert note(gpt1, "generate", aspect="16:9") == (
        "16:9 on gpt-image-1 is 1536x1024 (3:2), the closest it makes."
    )
    assert note(gpt2, "generate", aspect="1:1", detail="4K") == (
        "1:1 at 4K: 2160x2160, the largest 1:1 gpt-image-2 makes."
    )
    photo = edit_request("gpt-image-2", "a hat", (), size="2048x1536", detail="2K")
    assert str(shape_note(gpt2, photo)) == "Your image's shape at 2K detail: 2048x1536."
    assert shape_note(gpt2, generate_request("gpt-image-2", "a fox", size="2048x1152")) is None


def test_an_edits_photo_keeps_its_shape_at_the_chosen_detail() -> None:
    gpt2 = CATALOG.get("gpt-image-2")
    assert size_for_photo(gpt2, "edit", 4032, 3024, "2K") == "2048x1536"
    assert size_for_photo(gpt2, "edit", 3024, 4032, "4K") == "2160x2880"
    assert size_for_photo(gpt2, "edit", 4032, 3024, None) == "1424x1072"  # as before
    assert size_for_photo(gpt2, "edit", 4032, 3024, "standard") == "1424x1072"


def test_credits_are_held_for_the_largest_size_an_edit_can_become() -> None:
    gpt2 = CATALOG.get("gpt-image-2")
    assert largest_size(gpt2, "edit") == "1536x1024"
    assert largest_size(gpt2, "edit", "2K") == "2048x2048"
    assert largest_size(gpt2, "edit", "4K") == "3840x2160"
    assert largest_size(CATALOG.get("gpt-image-1"), "edit") == "1536x1024"
    assert largest_size(CATALOG.get("dall-e-2"), "edit") == "1024x1024"
    # Whatever the photo's shape, what it becomes costs no more than what was held.
    like = gpt2.lineage
    for tier in ("standard", "2K", "4K"):
        held = largest_size(gpt2, "edit", tier) or ""
        for width, height in ((4032, 3024), (1000, 1000), (6000, 1000), (1080, 1920)):
            made = size_for_photo(gpt2, "edit", width, height, tier) or ""
            assert cost_per_image("gpt-image-2", made, "high", like=like) <= cost_per_image(
                "gpt-image-2", held, "high", like=like
            )


@pytest.mark.parametrize("model", FREE)
def test_larger_images_cost_more_never_less(model: str) -> None:
    like = CATALOG.get(model).lineage
    for quality in (*QUALITIES, "xhigh"):
        for ratio in RATIOS:
            prices = [
                cost_per_image(model, size_for_shape(CATALOG.get(model), "generate", ratio, t.name),
                               quality, like=like)
                for t in TIERS
            ]  # fmt: skip
            square = cost_per_image(model, "1024x1024", quality, like=like)
            assert square <= prices[0] <= prices[1] <= prices[2], (quality, ratio, prices)
            assert prices[2] > prices[0], (quality, ratio, prices)
    # 3840x2160 holds about 5.3 times 1536x1024's pixels, and costs that many times its price.
    wide = cost_per_image(model, "1536x1024", "high", like=like)
    assert cost_per_image(model, "3840x2160", "high", like=like) == -(-wide * 8294400 // 1572864)


def test_aspect_and_detail_are_stored_but_never_sent() -> None:
    params = Params(size="2048x1152", aspect="16:9", detail="2K", quality="high")
    assert params.stored() == {
        "n": 1, "size": "2048x1152", "aspect": "16:9", "detail": "2K", "quality": "high"
    }  # fmt: skip
    fields = generate_request("gpt-image-2", "a fox", **params.stored()).text_fields()
    assert "aspect" not in fields and "detail" not in fields
    assert fields["size"] == "2048x1152"
    assert Params.from_mapping(params.stored()) == params


def test_detail_autocomplete_offers_what_the_model_makes() -> None:
    gpt2 = CATALOG.get("gpt-image-2")
    assert tier_sizes(gpt2, "generate", "16:9") == [
        ("standard", "1536x864"), ("2K", "2048x1152"), ("4K", "3840x2160")
    ]  # fmt: skip
    assert tier_sizes(CATALOG.get("gpt-image-1"), "generate", "16:9") == [("standard", "1536x1024")]
    assert [t for t, _ in tier_sizes(gpt2, "edit", None)] == ["standard", "2K", "4K"]


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (
            edit_request("gpt-image-1", "hat", (), background="transparent", output_format="jpeg"),
            "A transparent background needs png or webp, not jpeg.",
        ),
        (
            edit_request("gpt-image-1", "hat", (), output_compression=40),
            "Output compression only works with jpeg or webp output, not png.",
        ),
        (
            edit_request("gpt-image-2", "hat", (), input_fidelity="high"),
            "Input fidelity only applies to gpt-image-1, gpt-image-1-mini, and gpt-image-1.5.",
        ),
        (
            generate_request("gpt-image-1", "fox", complexity="high"),
            "Complexity only applies to gpt-image-2, gpt-image-2.5-sunburst, gpt-image-2.5-flare, "
            "gpt-image-2.6-sunburst, and gpt-image-2.6-flare.",
        ),
    ],
)
def test_impossible_options_are_refused_before_anything_is_read(
    request_: object, message: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        CATALOG.precheck(request_, image_count=1)  # type: ignore[arg-type]
    assert message in [str(v) for v in refused.value.violations]


def test_gpt_image_2_sizes_below_its_pixel_floor_are_refused_on_both_sides() -> None:
    spec = CATALOG.get("gpt-image-2")
    assert not spec.size_allowed("generate", "768x768")
    with pytest.raises(ValidationError) as refused:
        CATALOG.plan(generate_request("gpt-image-2", "a fox", size="768x768"))
    assert refused.value.message == (
        "Size 768x768 doesn't work for gpt-image-2: it needs at least 655,360 pixels."
    )
    assert fake_refusal("gpt-image-2", "768x768") is not None
    assert fake_refusal("gpt-image-2", "1024x640") is None  # exactly the floor
    assert fake_refusal("gpt-image-2", "3840x2160") is None
    assert fake_refusal("gpt-image-2", "3856x2160") is not None
