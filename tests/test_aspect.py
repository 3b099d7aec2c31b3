"""The size an edit is asked for when the member chose none: the shape of their photo."""

from __future__ import annotations

import pytest

from bot.models import Catalog
from bot.models.aspect import DEFAULT_MAX_PIXELS, size_for_aspect
from bot.models.spec import parse_size
from bot.quotas.costs import cost_per_image

CATALOG = Catalog.load()


@pytest.mark.parametrize(
    ("width", "height", "size"),
    [
        (4032, 3024, "1536x1024"),  # a phone's 4:3 landscape
        (3024, 4032, "1024x1536"),
        (1000, 1000, "1024x1024"),
        (1100, 1000, "1024x1024"),  # nearly square is nearest to square
        (8000, 1000, "1536x1024"),  # beyond every listed ratio: the widest
    ],
)
def test_listed_sizes_take_the_closest_shape(width: int, height: int, size: str) -> None:
    for model in ("gpt-image-1", "gpt-image-2.6-sunburst"):
        assert size_for_aspect(CATALOG.get(model), "edit", width, height) == size
        assert size_for_aspect(CATALOG.get(model), "variation", width, height) == size


def test_models_whose_sizes_cant_follow_a_shape_get_none() -> None:
    dall_e_2 = CATALOG.get("dall-e-2")  # three sizes, all square
    assert size_for_aspect(dall_e_2, "edit", 4032, 3024) is None
    assert size_for_aspect(dall_e_2, "variation", 4032, 3024) is None
    assert size_for_aspect(CATALOG.get("dall-e-3"), "edit", 4032, 3024) is None  # can't edit
    assert size_for_aspect(CATALOG.get("gpt-image-1"), "edit", 0, 10) is None


@pytest.mark.parametrize("model", ["gpt-image-2", "gpt-image-2.5-sunburst"])
@pytest.mark.parametrize(
    ("width", "height"), [(4032, 3024), (3024, 4032), (1100, 1000), (3000, 2200), (6000, 1000)]
)
def test_free_sizes_keep_the_shape_within_the_models_rules(
    model: str, width: int, height: int
) -> None:
    spec = CATALOG.get(model)
    size = size_for_aspect(spec, "edit", width, height)
    assert size is not None and spec.size_allowed("edit", size)
    w, h = parse_size(size) or (0, 0)
    assert w * h <= DEFAULT_MAX_PIXELS
    assert w * h >= 0.9 * DEFAULT_MAX_PIXELS or max(w, h) / min(w, h) >= 2.9
    shape = min(max(width / height, 1 / 3), 3.0)  # the model takes at most 3:1
    assert abs(w / h - shape) / shape <= 0.01
    assert (w > h) == (width > height)


def test_free_size_models_prefer_a_listed_size_of_the_same_shape() -> None:
    spec = CATALOG.get("gpt-image-2")
    assert size_for_aspect(spec, "edit", 1000, 1000) == "1024x1024"
    assert size_for_aspect(spec, "edit", 3000, 2000) == "1536x1024"
    assert size_for_aspect(spec, "edit", 1920, 1080) == "1536x864"  # not 2560x1440
    assert size_for_aspect(spec, "edit", 4032, 3024) == "1424x1072"


def test_a_free_size_costs_what_the_wide_listed_size_costs() -> None:
    """Prices are per listed size; an unlisted one is priced as the dearest, 1536x1024's."""
    size = size_for_aspect(CATALOG.get("gpt-image-2"), "edit", 4032, 3024)
    like = CATALOG.get("gpt-image-2").lineage
    for quality in ("low", "medium", "high"):
        wide = cost_per_image("gpt-image-2", "1536x1024", quality, like=like)
        assert cost_per_image("gpt-image-2", size, quality, like=like) == wide


def test_a_smaller_pixel_budget_is_honoured() -> None:
    # Above gpt-image-2's floor of 655,360 pixels: below it no free size is allowed at all.
    size = size_for_aspect(CATALOG.get("gpt-image-2"), "edit", 4032, 3024, max_pixels=800_000)
    w, h = parse_size(size or "") or (0, 0)
    assert 655_360 <= w * h <= 800_000 and w % 16 == 0 and h % 16 == 0 and w > h
