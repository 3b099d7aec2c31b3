"""A provider's refusals of a model, lazy: in the member's language where they are shown, in
English for the operator's console (``ModelState.why_not``)."""

from __future__ import annotations

import datetime

import pytest

from bot.errors import ValidationError
from bot.models import Catalog
from bot.provider import Provider
from tests.fakes.bot_env import SNAPSHOT_DAY

CATALOG = Catalog.load()


def provider(today: datetime.date = SNAPSHOT_DAY) -> Provider:
    return Provider("test", None, CATALOG, today=lambda: today)  # type: ignore[arg-type]


def refusal(name: str, op: str = "generate") -> ValidationError:
    with pytest.raises(ValidationError) as refused:
        provider().require(name, op)  # type: ignore[arg-type]
    return refused.value


def test_a_shut_down_model_is_refused_in_the_members_language() -> None:
    refused = refusal("gpt-image-1")
    english = refused.render("en")
    assert english.startswith("gpt-image-1 was shut down on 2026-10-23. Use ")
    assert english.endswith(" instead.")
    assert refused.render("de").startswith("gpt-image-1 wurde am 2026-10-23 abgeschaltet. Nimm ")
    assert refused.render("ja").startswith(
        "gpt-image-1 は提供が 2026-10-23 に終了しました。代わりに "
    )
    assert refused.render("ru").startswith("Модель gpt-image-1 была отключена 2026-10-23.")
    spec = CATALOG.find("gpt-image-1")
    assert spec is not None
    state = provider().state(spec)
    assert state.why_not == "was shut down on 2026-10-23"  # the operator's console: English


def test_unknown_models_and_missing_operations_are_worded_whole() -> None:
    unknown = refusal("gpt-image-9")
    assert unknown.render("fr").startswith("Modèle inconnu : « gpt-image-9 ». Modèles qui le ")
    assert str(unknown).startswith("Unknown model 'gpt-image-9'. Models that can: ")
    cannot = refusal("dall-e-3", "edit")
    assert cannot.render("es").startswith("dall-e-3 no puede editar imágenes aquí. Modelos que ")
    assert cannot.render("zh_CN").startswith("dall-e-3 在这里无法编辑图片。可以做到的模型：")


def test_a_model_the_api_said_is_gone_is_refused_in_russian() -> None:
    here = provider()  # no model list read: the catalog's dates decide
    here.mark_gone("gpt-image-2")  # the API said it doesn't have it
    with pytest.raises(ValidationError) as refused:
        here.require("gpt-image-2", "generate")
    text = refused.value.render("ru")
    assert text.startswith("Модель gpt-image-2 сейчас не предлагается этим провайдером.")
