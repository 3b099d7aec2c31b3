"""Style presets and /preferences end to end (issue 12, parts 2 and 5).

The real ImageBot against the fake Discord and the fake Images API, with a real SQLite store:
what the API is sent, what the result shows, what is stored, who may change what.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.moderation import MODERATORS_ONLY
from cogs.moderation import CHANGE_TITLE
from tests.fakes.bot_env import BotEnv, bot_env
from tests.fakes.discord_harness import InteractionRecord
from tests.test_e2e_audit import log_posts, with_log
from tests.test_e2e_commands import png
from tests.test_e2e_moderation import assert_private_and_silent, assert_refused, imagine, mod

WATERCOLOUR = "a watercolour painting of {prompt}, soft morning light"


async def add_preset(env: BotEnv, name: str = "Watercolour", **options: Any) -> InteractionRecord:
    options.setdefault("template", WATERCOLOUR)
    return await mod(env, "preset add", {"name": name, **options})


def embed_of(record: InteractionRecord) -> tuple[dict[str, Any], dict[str, str]]:
    """The result's embed and its fields by name."""
    (embed,) = record.result["embeds"]
    return embed, {f["name"]: f["value"] for f in embed.get("fields", [])}


def last_sent(env: BotEnv) -> dict[str, Any]:
    """The body of the newest image request the fake API received."""
    request = env.api.image_requests[-1]
    return dict(request.json) if request.json is not None else dict(request.form)


# --- a preset's template reaches the API; the member's prompt is what shows ---------------------


async def test_the_template_is_sent_while_the_result_shows_the_members_prompt(
    tmp_path: Path,
) -> None:
    async with bot_env(tmp_path) as env:
        added = await add_preset(env)
        assert_private_and_silent(added)
        record = await imagine(env, "a fox", preset="watercolour")

        assert last_sent(env)["prompt"] == "a watercolour painting of a fox, soft morning light"
        embed, fields = embed_of(record)
        assert embed["description"] == "a fox"
        assert fields["Preset"] == "Watercolour"
        assert WATERCOLOUR.split("{")[0] not in embed["description"]
        (job,) = await env.store.recent_jobs(env.harness.guild_id)
        assert job.prompt == "a fox" and job.params["preset"] == "Watercolour"


async def test_an_edit_sends_the_template_too(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        await add_preset(env, "Neon", template="{prompt}, in neon colours")
        record = await env.harness.slash(
            "edit",
            {"prompt": "make it night", "preset": "Neon"},
            attachments={"image": ("a.png", png())},
        )
        assert last_sent(env)["prompt"] == "make it night, in neon colours"
        embed, fields = embed_of(record)
        assert embed["description"] == "make it night" and fields["Preset"] == "Neon"


async def test_reroll_applies_the_preset_again_and_without_it_once_it_is_removed(
    tmp_path: Path,
) -> None:
    async with bot_env(tmp_path) as env:
        await add_preset(env)
        await imagine(env, "a fox", preset="Watercolour")
        again = await env.harness.click("img:reroll:1")
        assert last_sent(env)["prompt"] == "a watercolour painting of a fox, soft morning light"
        assert embed_of(again)[1]["Preset"] == "Watercolour"

        await mod(env, "preset remove", {"name": "watercolour"})
        gone = await env.harness.click("img:reroll:2")
        assert last_sent(env)["prompt"] == "a fox"
        embed, fields = embed_of(gone)
        assert "Preset" not in fields and embed["description"] == "a fox"
        assert fields["Adjusted"] == (
            "• The preset `Watercolour` was removed since, so I sent your prompt as it is."
        )


async def test_an_unknown_preset_is_refused_before_anything_is_sent(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        record = await imagine(env, "a fox", preset="Nope")
        assert "This server has no preset called `Nope`." in record.failure_text
        assert env.api.image_requests == []
        assert await env.store.recent_jobs(env.harness.guild_id) == []


async def test_the_presets_model_and_quality_apply_unless_the_member_chose(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        await add_preset(
            env, "Poster", template="a poster of {prompt}", model="dall-e-3", quality="hd"
        )
        await imagine(env, "a fox", preset="Poster")
        sent = last_sent(env)
        assert (sent["model"], sent["quality"]) == ("dall-e-3", "hd")

        await imagine(env, "a fox", preset="Poster", model="gpt-image-1", quality="low")
        sent = last_sent(env)
        assert (sent["model"], sent["quality"], sent["prompt"]) == (
            "gpt-image-1", "low", "a poster of a fox",
        )  # fmt: skip


async def test_imagine_offers_the_servers_presets_with_their_templates(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        await add_preset(env)
        await add_preset(env, "Ink", template="{prompt}, ink on paper")
        choices = await env.harness.autocomplete("imagine", {"prompt": "a fox"}, focused="preset")
        assert [(c["name"], c["value"]) for c in choices] == [
            ("Ink — {prompt}, ink on paper", "Ink"),
            (f"Watercolour — {WATERCOLOUR}", "Watercolour"),
        ]


# --- /preset: moderators change, everyone lists -------------------------------------------------


async def test_members_can_list_presets_but_not_change_them(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        h = env.harness
        refused = await h.slash("preset add", {"name": "Mine", "template": "{prompt}!"})
        assert_refused(refused, MODERATORS_ONLY)
        await add_preset(env)
        assert_refused(await h.slash("preset remove", {"name": "Watercolour"}), MODERATORS_ONLY)
        listed = await h.slash("preset list")
        assert_private_and_silent(listed)
        assert f"**Watercolour**: `{WATERCOLOUR}`" in listed.text
        assert [p.name for p in await env.store.presets(h.guild_id)] == ["Watercolour"]


async def test_adding_and_removing_are_recorded_and_posted_to_the_moderation_log(
    tmp_path: Path,
) -> None:
    async with bot_env(tmp_path) as env:
        await with_log(env)
        added = await add_preset(env, quality="low")
        assert "✅ Preset `Watercolour` added." in added.text
        (post,) = log_posts(env, added)
        assert post["embeds"][0]["title"] == CHANGE_TITLE
        assert "preset Watercolour" in post["embeds"][0]["description"]

        same = await add_preset(env, "watercolour", quality="low")
        assert "Nothing changed" in same.text and log_posts(env, same) == []
        removed = await mod(env, "preset remove", {"name": "WATERCOLOUR"})
        assert "✅ Preset `Watercolour` removed." in removed.text
        changes = await env.store.recent_changes(env.harness.guild_id)
        assert [(c.what, c.before, c.after, c.actor_id) for c in changes[:2]] == [
            (
                "preset Watercolour",
                f"`{WATERCOLOUR}`, low quality",
                "none",
                env.harness.moderator_id,
            ),
            (
                "preset Watercolour",
                "none",
                f"`{WATERCOLOUR}`, low quality",
                env.harness.moderator_id,
            ),
        ]


async def test_a_preset_is_refused_with_a_sentence_when_it_cant_work(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        cases = [
            ({"template": "a painting"}, "The template must have {prompt} in it"),
            ({"template": "{prompt} by {artist}"}, "remove `{artist}`"),
            ({"model": "dall-e-9"}, "Unknown model 'dall-e-9'"),
            ({"model": "dall-e-3", "quality": "high"}, "dall-e-3 has no quality high."),
        ]
        for options, told in cases:
            assert_refused(await add_preset(env, **options), told)
        await mod(env, "settings models", {"models": "gpt-image-1"})
        assert_refused(
            await add_preset(env, model="dall-e-3"), "dall-e-3 isn't allowed on this server"
        )
        assert await env.store.presets(env.harness.guild_id) == []


async def test_a_server_holds_at_most_25_presets(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        for n in range(25):
            await add_preset(env, f"Style {n}")
        refused = await add_preset(env, "One more")
        assert_refused(refused, "This server already has 25 presets")
        assert len(await env.store.presets(env.harness.guild_id)) == 25


# --- /preferences ----------------------------------------------------------------------------


async def test_preferences_apply_and_explicit_options_win(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        h = env.harness
        await add_preset(env)
        shown = await h.slash(
            "preferences",
            {"model": "dall-e-3", "quality": "hd", "preset": "watercolour", "aspect": "16:9"},
        )
        assert_private_and_silent(shown)
        assert "**Model**: `dall-e-3`" in shown.text and "**Preset**: `Watercolour`" in shown.text
        assert "**Shape**: `16:9`" in shown.text

        record = await imagine(env, "a fox")
        sent = last_sent(env)
        assert (sent["model"], sent["quality"]) == ("dall-e-3", "hd")
        assert sent["prompt"] == "a watercolour painting of a fox, soft morning light"
        assert embed_of(record)[1]["Preset"] == "Watercolour"

        await imagine(env, "a fox", model="gpt-image-1", quality="low", preset="none")
        sent = last_sent(env)
        assert (sent["model"], sent["quality"], sent["prompt"]) == ("gpt-image-1", "low", "a fox")
        # Another member's jobs are their own.
        other = await h.add_member("other")
        await imagine(env, "a fox", user=other)
        assert last_sent(env)["prompt"] == "a fox"


async def test_a_reroll_by_another_member_keeps_the_job_as_it_was(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        await add_preset(env)
        await imagine(env, "a fox")
        await env.harness.slash(
            "preferences", {"preset": "Watercolour"}, user=env.harness.moderator_id
        )
        await env.harness.click("img:reroll:1", user=env.harness.moderator_id)
        assert last_sent(env)["prompt"] == "a fox"


async def test_preferences_are_checked_against_what_the_server_allows(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        h = env.harness
        await mod(env, "settings models", {"models": "gpt-image-1"})
        for options, told in [
            ({"model": "dall-e-3"}, "dall-e-3 isn't allowed on this server"),
            ({"quality": "hd"}, "No model here has the quality hd."),
            ({"preset": "Nope"}, "This server has no preset called `Nope`."),
        ]:
            assert_refused(await h.slash("preferences", options), told)
        prefs = await env.store.get_preferences(h.guild_id, h.user_id)
        assert (prefs.model, prefs.quality, prefs.preset) == (None, None, None)


async def test_a_preference_that_became_invalid_is_skipped_with_a_note_once(
    tmp_path: Path,
) -> None:
    async with bot_env(tmp_path) as env:
        h = env.harness
        await add_preset(env)
        await h.slash("preferences", {"model": "dall-e-3", "preset": "Watercolour"})
        await mod(env, "settings models", {"models": "gpt-image-1"})
        await mod(env, "preset remove", {"name": "Watercolour"})

        first = await imagine(env, "a fox")
        sent = last_sent(env)
        assert (sent["model"], sent["prompt"]) == ("gpt-image-1", "a fox")
        adjusted = embed_of(first)[1]["Adjusted"]
        assert (
            "• Your preferred model, dall-e-3, isn't allowed on this server, so I used another."
            in adjusted
        )
        assert (
            "• Your preferred preset `Watercolour` was removed, so I sent your prompt as it is."
            in adjusted
        )
        second = await imagine(env, "a hare")
        assert "Adjusted" not in embed_of(second)[1]  # told once

        shown = await h.slash("preferences")
        assert "(dall-e-3 isn't allowed on this server, so I leave it out for now)" in shown.text
        assert "(Watercolour was removed, so I leave it out for now)" in shown.text
        cleared = await h.slash("preferences", {"model": "clear", "preset": "clear"})
        assert "**Model**: the server's default" in cleared.text
        prefs = await env.store.get_preferences(h.guild_id, h.user_id)
        assert (prefs.model, prefs.preset) == (None, None)


# --- in the reader's language -----------------------------------------------------------------


async def test_presets_and_preferences_answer_in_the_readers_language(tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        h = env.harness
        added = await h.slash(
            "preset add",
            {"name": "Watercolour", "template": WATERCOLOUR, "quality": "low"},
            user=h.moderator_id,
            locale="de",
        )
        (embed,) = added.original["embeds"]  # type: ignore[index]
        assert embed["title"] == "Presets"
        assert embed["description"] == (
            f"✅ Preset `Watercolour` hinzugefügt.\n\n**Watercolour**: `{WATERCOLOUR}` · Qualität low"
        )
        again = await h.slash(
            "preset add",
            {"name": "Watercolour", "template": WATERCOLOUR, "quality": "low"},
            user=h.moderator_id,
            locale="de",
        )
        assert "Nichts geändert: Es war schon so eingestellt." in again.text

        refused = await h.slash("preset remove", {"name": "Watercolour"}, locale="ru")
        assert_refused(refused, "Эту команду могут использовать только модераторы.")
        listed = await h.slash("preset list", locale="ru")
        assert listed.original["embeds"][0]["title"] == "Пресеты (1)"  # type: ignore[index]
        unknown = await h.slash("imagine", {"prompt": "a fox", "preset": "Nope"}, locale="ru")
        assert "На этом сервере нет пресета `Nope`. Список пресетов — в /пресет список." in (
            unknown.failure_text
        )

        prefs = await h.slash("preferences", {"model": "dall-e-3"}, locale="ru")
        (embed,) = prefs.original["embeds"]  # type: ignore[index]
        assert embed["title"] == "Ваши предпочтения"
        assert embed["description"].splitlines()[:4] == [
            "✅ Ваши предпочтения изменены.",
            "",
            "**Модель**: `dall-e-3`",
            "**Форма**: размер модели по умолчанию",
        ]
        wrong = await h.slash("preferences", {"quality": "ultra"}, locale="es-ES")
        assert_refused(wrong, "dall-e-3 no tiene la calidad ultra. Calidades: hd, standard.")
