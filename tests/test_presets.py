"""Presets and preferences without Discord: templates, what a job is sent, precedence, storage.

The pure parts on the built-in catalog; the store on a temp SQLite file and on PostgreSQL.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Callable
from typing import Any

import pytest

from bot import preferences, presets
from bot.errors import ValidationError
from bot.i18n import render
from bot.images.params import Params
from bot.images.types import Operation
from bot.models import Catalog
from bot.provider import Provider
from bot.service import ImageService, JobSpec, _request
from bot.store import GuildSettings, Preferences, Preset, Store
from bot.store.migrate import load_migrations
from tests.fakes.stores import (  # noqa: F401 - fixtures
    ManualClock,
    clock_fixture,
    store_fixture,
    store_target_fixture,
)

GUILD, OTHER_GUILD, USER = 1000, 2000, 21
CATALOG = Catalog.load()
BEFORE_RETIREMENTS = datetime.date(2026, 1, 15)  # every built-in model is still offered
WATERCOLOUR = "a watercolour painting of {prompt}, soft morning light"
EVERYWHERE = GuildSettings(GUILD)


def provider(today: datetime.date = BEFORE_RETIREMENTS) -> Provider:
    """The built-in catalog without a model list: its shutdown dates decide. Never called."""
    return Provider("test", None, CATALOG, today=lambda: today)  # type: ignore[arg-type]


def preset(name: str = "Watercolour", template: str = WATERCOLOUR, **fields: Any) -> Preset:
    return Preset(GUILD, name, template, **fields)


def server_default(model: str = "gpt-image-1") -> Callable[[Operation], str | None]:
    return lambda op: model


def said(notes: list[presets.Note], locale: str = "en") -> list[tuple[str, str | None]]:
    """The notes as a member of ``locale`` reads them, each with its once-key."""
    return [(render(locale, n.text), n.once) for n in notes]


def applied(
    spec: JobSpec,
    prefs: Preferences | None = None,
    found: Preset | None = None,
    settings: GuildSettings = EVERYWHERE,
    today: datetime.date = BEFORE_RETIREMENTS,
) -> tuple[JobSpec, list[presets.Note]]:
    prefs = prefs or Preferences(GUILD, USER)
    return presets.apply(spec, prefs, found, settings, provider(today), server_default())


def refusal(check: Callable[..., object], *args: Any) -> str:
    """What ``check`` refuses ``args`` with."""
    with pytest.raises(ValidationError) as refused:
        check(*args)
    return refused.value.message


def imagine(prompt: str = "a fox", model: str = "", **kwargs: Any) -> JobSpec:
    params = kwargs.pop("params", Params())
    return JobSpec("generate", model, prompt, params, **kwargs)


# --- templates and names -----------------------------------------------------------------------


def test_a_template_with_prompt_once_is_kept_tidied() -> None:
    assert presets.check_template(f"  {WATERCOLOUR}\n") == WATERCOLOUR


@pytest.mark.parametrize(
    ("template", "told"),
    [
        ("a watercolour painting", "must have {prompt} in it, where the member's prompt goes"),
        ("{prompt} and {prompt}", "once; it has it 2 times"),
        ("{prompt} in {style}", "braces other than {prompt}; remove `{style}`"),
        ("{prompt} with a } here", "remove `}`"),
        ("{{prompt}}", "remove `{}`"),
        ("{prompt} " + "x" * 1000, "at most 1000 characters; this one has 1009"),
    ],
)
def test_a_template_is_refused_with_a_sentence_saying_why(template: str, told: str) -> None:
    with pytest.raises(ValidationError) as refused:
        presets.check_template(template)
    assert told in refused.value.message
    assert refused.value.message.endswith(".")


def test_names_are_tidied_and_refused_when_long_odd_or_reserved() -> None:
    assert presets.check_name("  Oil   painting ") == "Oil painting"
    assert presets.check_name("Ghibli-style_2") == "Ghibli-style_2"
    for name, told in [
        ("x" * 33, "at most 32 characters; it has 33"),
        ("<@123>", "can only have letters, digits"),
        ("`code`", "can only have letters, digits"),
        ("None", "means no preset in commands"),
        ("   ", "Give the preset a name."),
    ]:
        with pytest.raises(ValidationError, match=told):
            presets.check_name(name)


def test_the_members_prompt_goes_in_as_it_is_even_with_braces_of_its_own() -> None:
    hostile = "{0} {prompt} {__class__.__mro__} {{x}}"
    assert presets.fill("<{prompt}>", hostile) == f"<{hostile}>"


def test_a_presets_model_must_be_allowed_and_usable_and_its_quality_the_models() -> None:
    here, later = provider(), provider(datetime.date(2026, 12, 1))
    assert presets.check_model(here, None, " dall-e-3 ") == "dall-e-3"
    assert presets.check_model(here, None, "") is None
    with pytest.raises(ValidationError, match="dall-e-3 isn't allowed on this server"):
        presets.check_model(here, ("gpt-image-1",), "dall-e-3")
    with pytest.raises(ValidationError, match="dall-e-3 was shut down on 2026-05-12"):
        presets.check_model(later, None, "dall-e-3")
    assert presets.check_quality("hd", here, None, "dall-e-3") == "hd"
    assert refusal(presets.check_quality, "high", here, None, "dall-e-3") == (
        "dall-e-3 has no quality high. Qualities: hd, standard."
    )
    # Without a model: some model the server allows must have it.
    assert presets.check_quality("high", here, None, None) == "high"
    assert refusal(presets.check_quality, "high", here, ("dall-e-3",), None) == (
        "No model here has the quality high. Qualities: hd, standard."
    )


def test_a_preset_reads_in_words_for_the_audit_trail_and_the_list() -> None:
    full = preset(model="dall-e-3", quality="hd")
    assert presets.describe(None) == "none"
    assert presets.describe(full) == f"`{WATERCOLOUR}`, dall-e-3, hd quality"
    assert (
        presets.listing_line(full)
        == f"**Watercolour**: `{WATERCOLOUR}` · model dall-e-3 · quality hd"
    )
    label = presets.choice_label(preset(template="x" * 500 + " {prompt}"))
    assert label.startswith("Watercolour — xxx") and len(label) <= 100


# --- what a job is sent, stored and shown ------------------------------------------------------


def test_the_api_gets_the_filled_template_while_the_job_keeps_the_members_prompt() -> None:
    spec, notes = applied(imagine(preset="watercolour"), found=preset())
    assert notes == []
    assert spec.prompt == "a fox" and spec.preset == "Watercolour"  # the stored name's case
    assert spec.sent_prompt() == "a watercolour painting of a fox, soft morning light"
    model = CATALOG.get("gpt-image-1")
    request = _request(
        dataclasses.replace(spec, model="gpt-image-1"), model, CATALOG, images=(), mask=None
    )
    assert request.prompt == spec.sent_prompt()
    assert spec.stored()["preset"] == "Watercolour"
    assert "preset" not in imagine().stored()


def test_the_prompt_limit_counts_the_prompt_sent() -> None:
    service = ImageService(provider(), None, max_input_bytes=1_000_000)  # type: ignore[arg-type]
    long_template = "in the style of an old master " * 30 + "{prompt}"
    spec = imagine("a fox " * 20, model="dall-e-2")  # 120 characters: fine by itself
    service.check(spec)
    with pytest.raises(ValidationError) as refused:
        service.check(dataclasses.replace(spec, preset="Old", template=long_template))
    sent = len(presets.fill(long_template, spec.prompt))
    assert refused.value.message == (
        f"Prompts for dall-e-2 can be at most 1000 characters; yours has {sent}."
    )


# --- what wins ---------------------------------------------------------------------------------

MINE = Preferences(GUILD, USER, model="dall-e-3", quality="hd", preset="Watercolour")


def test_explicit_options_win_over_the_preset_and_the_preferences() -> None:
    spec = imagine(model="gpt-image-1", params=Params(quality="low"), preset="watercolour")
    made, _ = applied(spec, MINE, preset(model="dall-e-2", quality="standard"))
    assert (made.model, made.params.quality) == ("gpt-image-1", "low")


def test_the_presets_model_and_quality_win_over_the_preferred_ones() -> None:
    found = preset(model="gpt-image-1", quality="high")
    made, _ = applied(imagine(preset="Watercolour"), MINE, found)
    assert (made.model, made.params.quality, made.preset) == ("gpt-image-1", "high", "Watercolour")


def test_preferences_fill_in_what_the_member_left_out() -> None:
    made, notes = applied(imagine(), MINE, preset())
    assert (made.model, made.params.quality, made.preset) == ("dall-e-3", "hd", "Watercolour")
    assert made.sent_prompt().startswith("a watercolour painting of a fox") and notes == []


def test_a_quality_the_model_hasnt_is_left_out_silently() -> None:
    hd = Preferences(GUILD, USER, quality="hd")  # a DALL·E 3 quality
    made, notes = applied(imagine(model="gpt-image-1"), hd)
    assert made.params.quality is None and notes == []
    # No model chosen or preferred: checked against the server's default model.
    made, notes = applied(imagine(), Preferences(GUILD, USER, quality="high"))
    assert (made.model, made.params.quality, notes) == ("", "high", [])


def test_none_means_no_preset_not_even_the_preferred_one() -> None:
    made, notes = applied(imagine(preset="None"), MINE, None)
    assert made.template is None and made.preset is None and notes == []
    assert made.sent_prompt() == "a fox"


def test_a_preferred_model_that_cant_do_the_operation_is_left_out_silently() -> None:
    edit = JobSpec("edit", "", "make it blue")
    made, notes = applied(edit, Preferences(GUILD, USER, model="dall-e-3"))
    assert made.model == "" and notes == []


def test_a_preferred_model_no_longer_allowed_is_left_out_with_a_note_said_once() -> None:
    settings = GuildSettings(GUILD, allowed_models=("gpt-image-1",))
    made, notes = applied(imagine(), Preferences(GUILD, USER, model="dall-e-3"), settings=settings)
    assert made.model == ""
    assert said(notes) == [(
        "Your preferred model, dall-e-3, isn't allowed on this server, so I used another. "
        "Choose another with /preferences.", "model:dall-e-3")]  # fmt: skip
    assert said(notes, "ru") == [(
        "Ваша любимая модель dall-e-3 сейчас недоступна (не разрешена на этом сервере), поэтому "
        "я взял другую. Выберите другую через /предпочтения.", "model:dall-e-3")]  # fmt: skip
    later = datetime.date(2026, 12, 1)
    _, notes = applied(imagine(), Preferences(GUILD, USER, model="dall-e-3"), today=later)
    assert "dall-e-3, was shut down on 2026-05-12, so I used another" in str(notes[0].text)


def test_a_presets_model_that_cant_be_used_here_is_left_out_with_a_note() -> None:
    settings = GuildSettings(GUILD, allowed_models=("gpt-image-1",))
    made, notes = applied(imagine(preset="w"), found=preset(model="dall-e-3"), settings=settings)
    assert made.model == "" and made.template == WATERCOLOUR
    assert said(notes) == [(
        "The preset `Watercolour` is made for dall-e-3, which isn't allowed on this server, "
        "so I used another model.", None)]  # fmt: skip


def test_a_missing_preset_is_refused_when_named_noted_on_a_rerun_and_once_when_preferred() -> None:
    with pytest.raises(ValidationError) as refused:
        applied(imagine(preset="Nope"))
    assert refused.value.message == (
        "This server has no preset called `Nope`. /preset list shows the ones it has."
    )
    made, notes = applied(imagine(preset="Gone", rerun=True))
    assert made.sent_prompt() == "a fox" and made.preset is None
    assert said(notes) == [
        ("The preset `Gone` was removed since, so I sent your prompt as it is.", None)
    ]
    made, notes = applied(imagine(), Preferences(GUILD, USER, preset="Gone"))
    assert made.template is None
    assert notes[0].once == "preset:gone"
    assert "Your preferred preset `Gone` was removed" in str(notes[0].text)


def test_variations_take_no_preset() -> None:
    vary = JobSpec("variation", "")
    made, notes = applied(vary, MINE, preset())
    assert made.template is None and notes == []


def test_a_preferred_shape_applies_only_where_nothing_was_chosen_and_the_model_makes_it() -> None:
    gpt2, dall_e_2 = CATALOG.get("gpt-image-2"), CATALOG.get("dall-e-2")
    assert presets.with_aspect(Params(), "16:9", gpt2) == Params(aspect="16:9")
    assert presets.with_aspect(Params(detail="2K"), "16:9", gpt2).aspect == "16:9"
    assert presets.with_aspect(Params(size="1024x1024"), "16:9", gpt2).aspect is None
    assert presets.with_aspect(Params(aspect="1:1"), "16:9", gpt2).aspect == "1:1"
    assert presets.with_aspect(Params(), "16:9", dall_e_2) == Params()  # only squares: skipped


# --- /preferences ------------------------------------------------------------------------------


def test_preferences_asked_for_clear_is_none_and_left_out_ones_are_absent() -> None:
    asked = preferences.asked(model=" dall-e-3 ", aspect="clear", quality=None, preset="")
    assert asked == {"model": "dall-e-3", "aspect": None}


def test_preferences_are_checked_against_what_the_server_allows() -> None:
    here, none = provider(), Preferences(GUILD, USER)
    found = preset()
    assert preferences.check(
        {"model": "dall-e-3", "quality": "hd", "aspect": "16:9", "preset": "watercolour"},
        none, here, None, found,
    ) == {"model": "dall-e-3", "quality": "hd", "aspect": "16:9", "preset": "Watercolour"}  # fmt: skip
    refusals = [
        ({"model": "dall-e-3"}, none, ("gpt-image-1",), "dall-e-3 isn't allowed on this server"),
        ({"quality": "high"}, MINE, None, "dall-e-3 has no quality high"),  # the preferred model
        ({"aspect": "5:4"}, none, None, "Shape `5:4` isn't one I know. Shapes: 1:1, 4:3"),
        ({"preset": "Nope"}, none, None, "This server has no preset called `Nope`"),
    ]
    for changes, current, allowed, told in refusals:
        with pytest.raises(ValidationError, match=told):
            preferences.check(changes, current, here, allowed, None)
    assert preferences.check({"preset": "none"}, MINE, here, None, None) == {"preset": None}


def test_preferences_read_with_the_ones_skipped_now_and_why() -> None:
    settings = GuildSettings(GUILD, allowed_models=("gpt-image-1",))
    skipped = preferences.problems(MINE, settings, provider(), preset_found=False)
    assert {k: str(v) for k, v in skipped.items()} == {
        "model": "isn't allowed on this server",
        "preset": "was removed",
    }
    text = preferences.describe(MINE, skipped)
    assert "**Model**: `dall-e-3` (dall-e-3 isn't allowed on this server, so I leave it out" in text
    assert "**Shape**: the model's default size" in text
    assert "**Preset**: `Watercolour` (Watercolour was removed" in text
    assert text.endswith(preferences.APPLIES)
    # A Japanese member reads them in Japanese, the values as they are.
    ja = preferences.describe(MINE, skipped, "ja").splitlines()
    assert ja[0] == (
        "**モデル**: `dall-e-3`（dall-e-3：このサーバーでは許可されていません。今は使いません）"
    )
    assert ja[1] == "**形**: モデルの既定サイズ"
    assert ja[-1] == "コマンドで指定したオプションは、常にこれらより優先されます。"


# --- the store, on both databases --------------------------------------------------------------


def test_the_presets_migration_exists_for_both_backends() -> None:
    for dialect in ("sqlite", "postgres"):
        found = {m.version: m.name for m in load_migrations(dialect)}
        assert found[8] == "presets"


async def test_presets_are_stored_per_server_and_found_whatever_the_case(
    store: Store, clock: ManualClock
) -> None:
    saved = await store.save_preset(preset(model="dall-e-3", created_by=USER), limit=25)
    assert saved.before is None
    assert saved.after == preset(model="dall-e-3", created_by=USER, created_at=clock())
    assert await store.get_preset(GUILD, "WATERCOLOUR") == saved.after
    assert await store.get_preset(OTHER_GUILD, "Watercolour") is None
    assert await store.presets(OTHER_GUILD) == []

    clock.advance(60)
    again = await store.save_preset(
        preset("watercolour", "{prompt}, in ink", quality="low"), limit=25
    )
    assert again.before == saved.after
    assert again.after == Preset(  # the name it was added under stays
        GUILD, "Watercolour", "{prompt}, in ink", None, "low", None, clock()
    )
    assert await store.presets(GUILD) == [again.after]  # replaced, not added

    assert await store.remove_preset(GUILD, "WaterColour") == again.after
    assert await store.remove_preset(GUILD, "Watercolour") is None
    assert await store.presets(GUILD) == []


async def test_a_server_has_at_most_its_limit_of_presets(store: Store) -> None:
    for n in range(3):
        assert (await store.save_preset(preset(f"p{n}"), limit=3)).after is not None
    assert await store.save_preset(preset("p3"), limit=3) == (None, None)
    changed = await store.save_preset(preset("P1", "{prompt}!"), limit=3)  # a change still fits
    assert changed.after is not None and changed.after.template == "{prompt}!"
    assert (await store.save_preset(Preset(OTHER_GUILD, "p3", WATERCOLOUR), limit=3)).after
    assert [p.name for p in await store.presets(GUILD)] == ["p0", "p1", "p2"]


async def test_preferences_change_one_at_a_time_and_clear(store: Store) -> None:
    assert await store.get_preferences(GUILD, USER) == Preferences(GUILD, USER)
    first = await store.set_preferences(GUILD, USER, {"model": "dall-e-3", "quality": "hd"})
    assert first == Preferences(GUILD, USER, model="dall-e-3", quality="hd")
    second = await store.set_preferences(GUILD, USER, {"preset": "Watercolour", "model": None})
    assert second == Preferences(GUILD, USER, quality="hd", preset="Watercolour")
    assert await store.get_preferences(GUILD, USER) == second
    assert await store.get_preferences(OTHER_GUILD, USER) == Preferences(OTHER_GUILD, USER)
    assert await store.get_preferences(GUILD, USER + 1) == Preferences(GUILD, USER + 1)
    with pytest.raises(ValueError, match="no such preferences"):
        await store.set_preferences(GUILD, USER, {"colour": "blue"})
