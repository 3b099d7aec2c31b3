"""Safety without Discord: screening a job, blocked words, the prompt check, spoilers, storage."""

from __future__ import annotations

import dataclasses
import logging
import re
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bot import blocklist, i18n, render, safety
from bot.errors import PromptBlocked, SafetyRefused, ValidationError
from bot.i18n import Text
from bot.images import client as client_module
from bot.images.client import ImagesClient
from bot.images.moderations import Moderation, parse_moderation
from bot.images.params import Params
from bot.images.types import GeneratedImage, PartialImage
from bot.jobs import Requester
from bot.service import JobSpec
from bot.store import GuildSettings, Job, Store
from bot.store.migrate import load_migrations
from bot.usage_text import jump_url, log_entry
from tests.fakes.openai_server import TEST_API_KEY, FakeImagesServer

GUILD = 42
GPT_MODERATIONS = ("low", "auto")
MEMBER = Requester(guild_id=GUILD, channel_id=7, user_id=9)
AGE_RESTRICTED = dataclasses.replace(MEMBER, age_restricted=True)
LOW_ON = GuildSettings(GUILD, low_moderation=True)


def job_spec(prompt: str = "a fox", operation: Any = "generate", **params: Any) -> JobSpec:
    return JobSpec(operation, "gpt-image-1", prompt, Params(**params))


def screened(settings: GuildSettings, who: Requester, spec: JobSpec) -> str | None:
    """The moderation a screened job is sent with."""
    return safety.screen(settings, who, spec, GPT_MODERATIONS).params.moderation


# --- moderation low ----------------------------------------------------------------------------


def test_low_is_added_only_in_age_restricted_channels_with_the_setting_on() -> None:
    assert screened(LOW_ON, AGE_RESTRICTED, job_spec()) == "low"
    assert screened(LOW_ON, MEMBER, job_spec()) is None
    assert screened(GuildSettings(GUILD), AGE_RESTRICTED, job_spec()) is None
    assert screened(LOW_ON, AGE_RESTRICTED, job_spec(moderation="auto")) == "auto"


def test_low_is_not_added_where_the_model_or_operation_takes_no_moderation() -> None:
    spec = job_spec()
    assert safety.screen(LOW_ON, AGE_RESTRICTED, spec, ()).params.moderation is None
    edit = job_spec(operation="edit")
    assert screened(LOW_ON, AGE_RESTRICTED, edit) is None  # moderation is a generate option


@pytest.mark.parametrize(
    ("settings", "who", "told"),
    [
        (GuildSettings(GUILD), MEMBER, safety.LOW_NOT_ALLOWED),
        (GuildSettings(GUILD), AGE_RESTRICTED, safety.LOW_NOT_ALLOWED),
        (LOW_ON, MEMBER, safety.LOW_ONLY_AGE_RESTRICTED),
    ],
)
def test_a_members_low_is_refused_wherever_it_is_not_allowed(
    settings: GuildSettings, who: Requester, told: Text
) -> None:
    with pytest.raises(SafetyRefused) as refused:
        safety.screen(settings, who, job_spec(moderation="low"), GPT_MODERATIONS)
    assert refused.value.message == str(told) and refused.value.kind == "safety"
    assert "moderation low" in str(refused.value.rule)


# --- blocked words -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "prompt", "matched"),
    [
        ("cat", "A CAT on a mat", "cat"),
        ("cat", "a bobcat and a catalogue", None),  # whole words only
        ("cat*", "three Catnip plants", "catnip"),
        ("cat*", "a bobcat", None),
        ("*cat", "a bobcat", "bobcat"),
        ("c*t", "a coat", "coat"),
        ("c*t", "a cats' tail", None),
        ("a*b*c", "axxbyyc", "axxbyyc"),
        ("a*b*c", "axxbyy", None),
        ("grumpy goblin", "the Grumpy\n  goblin king", "grumpy goblin"),
        ("grumpy goblin", "grumpy goblins", None),
        ("don't", "I DON'T know", "don't"),
        ("🍆", "an 🍆 emoji", "🍆"),
        ("ogre", "an o\u200bgre", "ogre"),  # invisible characters don't hide a word
        ("ogre", "an ｏｇｒｅ", "ogre"),  # nor do full-width letters
        ("strasse", "die STRASSE und die Straße", "strasse"),
        ("x.y", "xzy", None),  # a dot is a dot, not a regular expression
        ("(a+)+$", "(a+)+$ aaaa", "(a+)+$"),
    ],
)
def test_blocked_words_match_whole_words_regardless_of_case(
    entry: str, prompt: str, matched: str | None
) -> None:
    found = blocklist.find((blocklist.entry(entry),), prompt)
    assert (found.matched if found else None) == matched


def test_no_entry_makes_matching_slow() -> None:
    # Patterns and prompts chosen to make a backtracking matcher take years.
    entries = tuple(blocklist.entry(e) for e in ("*a*a*a*a*a*a*a*a*a*a*a*b", "a*a*a*a*a*a*a*c*"))
    prompt = "a" * 32_000
    started = time.perf_counter()
    assert blocklist.find(entries, prompt) is None
    assert blocklist.find(entries, " ".join(["a" * 40] * 800)) is None
    assert time.perf_counter() - started < 1.0


def test_a_blocked_word_is_refused_naming_it_without_markdown() -> None:
    settings = GuildSettings(GUILD, blocked_words=("evil_*",))
    with pytest.raises(PromptBlocked) as refused:
        safety.screen(settings, MEMBER, job_spec("an EVIL_twin"), GPT_MODERATIONS)
    assert (
        refused.value.message
        == 'Your prompt has "evil\\_twin" in it, which is blocked on this server.'
    )
    assert refused.value.kind == "blocked" and str(refused.value.rule) == "blocked word `evil_*`"


def test_entries_are_checked_and_normalised() -> None:
    assert blocklist.entry("  Big   BAD** wolf ") == "big bad* wolf"
    for bad in ("*", " ** ", ""):
        with pytest.raises(ValidationError, match="at least one letter"):
            blocklist.entry(bad)
    with pytest.raises(ValidationError, match="at most 60 characters"):
        blocklist.entry("x" * 61)


def test_the_blocked_word_list_is_changed_like_the_other_lists() -> None:
    settings = GuildSettings(GUILD)
    added = safety.change_blocked_words(settings, "add", "Ogre")
    assert safety.change_blocked_words(added, "add", "OGRE").blocked_words == ("ogre",)
    assert safety.change_blocked_words(added, "remove", "ogre").blocked_words == ()
    with pytest.raises(ValidationError, match=re.escape('"troll" isn\'t in the list.')):
        safety.change_blocked_words(added, "remove", "troll")
    full = dataclasses.replace(settings, blocked_words=tuple(f"w{n}" for n in range(100)))
    with pytest.raises(ValidationError, match="already has 100 blocked words"):
        safety.change_blocked_words(full, "add", "one more")
    assert safety.change_blocked_words(full, "clear", None).blocked_words == ()


def test_the_shown_list_stays_short() -> None:
    words = tuple(f"word{n:02}" for n in range(100))
    shown = str(blocklist.shown(words, limit=100))
    assert shown.startswith('"word00", "word01"') and shown.endswith(" and 90 more")
    assert len(shown) < 150
    assert str(blocklist.shown(())) == "none"
    assert blocklist.shown(words[:2]) == '"word00", "word01"'
    assert i18n.render("ru", blocklist.shown(words, limit=100)).endswith(" и ещё 90")
    assert i18n.render("de", blocklist.shown(())) == "keine"


def test_switches_change_only_what_was_given() -> None:
    settings = GuildSettings(GUILD, spoilers=True)
    changed = safety.set_switches(settings, True, None, None)
    assert (changed.low_moderation, changed.spoilers, changed.prompt_check) == (True, True, False)
    with pytest.raises(ValidationError, match="Choose at least one"):
        safety.set_switches(settings, None, None, None)


# --- the prompt check's wording ----------------------------------------------------------------


def test_flagged_categories_read_as_plain_words() -> None:
    refused = safety.flagged(["violence", "violence/graphic", "self-harm/intent"])
    assert refused.message == (
        "This server's prompt check flagged your prompt for violence, graphic violence, and "
        "intent of self-harm, so I didn't send it."
    )
    assert str(refused.rule) == "prompt check: violence, graphic violence, and intent of self-harm"
    assert safety.flagged(["new-thing/odd"]).message.startswith(
        "This server's prompt check flagged your prompt for new thing odd,"
    )
    assert safety.flagged([]).message == (
        "This server's prompt check flagged your prompt, so I didn't send it."
    )


def test_a_moderation_answer_is_read_strictly() -> None:
    answer = {"results": [{"flagged": True, "categories": {"hate": True, "sexual": False}}]}
    assert parse_moderation(answer) == Moderation(True, ("hate",))
    for broken in (None, {}, {"results": []}, {"results": [{"flagged": "yes"}]}, []):
        assert parse_moderation(broken) is None


# --- the client's moderate ---------------------------------------------------------------------


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as opened:
        yield opened


def images_client(
    session: aiohttp.ClientSession, fake: FakeImagesServer, **kw: Any
) -> ImagesClient:
    return ImagesClient(session, base_url=fake.base_url, api_key=TEST_API_KEY, **kw)


async def test_moderate_sends_the_prompt_and_reads_the_verdict(
    session: aiohttp.ClientSession,
) -> None:
    async with FakeImagesServer() as fake:
        client = images_client(session, fake)
        flagged = await client.moderate("how to murder a plant")
        fine = await client.moderate("a garden")

        assert flagged == Moderation(True, ("violence", "violence/graphic"))
        assert fine == Moderation(False, ())
        first, _ = fake.moderation_requests
        assert first.json == {"model": "omni-moderation-latest", "input": "how to murder a plant"}
        assert first.headers["Authorization"] == f"Bearer {TEST_API_KEY}"
        assert client.has_moderations is True


async def test_a_missing_moderation_endpoint_is_asked_once_and_never_blocks(
    session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    async with FakeImagesServer(moderations_endpoint=False) as fake:
        client = images_client(session, fake)
        assert await client.moderate("a") is None
        assert await client.moderate("b") is None

        assert len(fake.moderation_requests) == 1 and client.has_moderations is False
        assert [r.levelname for r in caplog.records] == ["WARNING"]


@pytest.mark.parametrize(
    ("kind", "opts"),
    [("server_error", {}), ("invalid_api_key", {}), ("raw", {"body": "{}"}), ("non_json", {})],
)
async def test_a_failing_check_is_none_with_one_warning(
    session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture, kind: str, opts: Any
) -> None:
    async with FakeImagesServer() as fake:
        client = images_client(session, fake, max_retries=0)
        fake.fail_next(kind, times=None, on="moderations", **opts)
        assert await client.moderate("a") is None
        assert await client.moderate("b") is None

        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1 and TEST_API_KEY not in caplog.text
        assert client.has_moderations is None  # it may work next time: asked again
        assert len(fake.moderation_requests) == 2


async def test_a_slow_check_gives_up_in_time(
    session: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(client_module, "MODERATION_TIMEOUT", 0.2)
    async with FakeImagesServer() as fake:
        client = images_client(session, fake)
        fake.fail_next("slow", on="moderations", seconds=5.0)
        started = time.perf_counter()
        assert await client.moderate("a") is None
        assert time.perf_counter() - started < 2.0


async def test_the_fake_moderations_route_is_strict(session: aiohttp.ClientSession) -> None:
    async with FakeImagesServer() as fake:
        url = f"{fake.base_url}/moderations"
        auth = {"Authorization": f"Bearer {TEST_API_KEY}"}
        cases = [
            ({}, {"model": "omni-moderation-latest", "input": "a"}, 401, None),
            (auth, {"input": "a"}, 400, "model"),
            (auth, {"model": "omni-moderation-latest"}, 400, "input"),
            (auth, {"model": "gpt-4o", "input": "a"}, 400, "model"),
            (auth, {"model": "omni-moderation-latest", "input": 3}, 400, "input"),
        ]
        for headers, body, status, param in cases:
            async with session.post(url, json=body, headers=headers) as resp:
                answer = await resp.json()
                assert resp.status == status, body
                assert answer["error"]["param"] == param
        body = {"model": "text-moderation-latest", "input": ["a murder", "a garden"]}
        async with session.post(url, json=body, headers=auth) as resp:
            answer = await resp.json()
        assert answer["model"] == "text-moderation-007"
        assert [r["flagged"] for r in answer["results"]] == [True, False]
        assert set(answer["results"][0]["categories"]) == {
            "harassment", "harassment/threatening", "hate", "hate/threatening", "illicit",
            "illicit/violent", "self-harm", "self-harm/intent", "self-harm/instructions",
            "sexual", "sexual/minors", "violence", "violence/graphic",
        }  # fmt: skip


# --- spoilers and the log ----------------------------------------------------------------------


def test_spoilers_never_apply_in_age_restricted_channels() -> None:
    on = GuildSettings(GUILD, spoilers=True)
    assert safety.spoilered(on, False) and not safety.spoilered(on, True)
    assert not safety.spoilered(GuildSettings(GUILD), False)


def test_spoilered_files_and_previews_are_named_so() -> None:
    info = render.ResultInfo(7, "generate", "gpt-image-1", "a fox", None, None, None, 1, "m")
    images = [GeneratedImage(b"\x89PNG...", "png", 1, 1), GeneratedImage(b"...", "jpeg", 1, 1)]
    hidden = dataclasses.replace(info, spoiler=True)
    names = [f.filename for f in render.result_files(hidden, images)]
    assert names == ["SPOILER_generate-7-1.png", "SPOILER_generate-7-2.jpg"]
    assert [f.filename for f in render.result_files(info, images)] == [
        "generate-7-1.png",
        "generate-7-2.jpg",
    ]
    partial = PartialImage(0, b"...", "jpeg")
    assert render.preview_file(partial, spoiler=True).filename == "SPOILER_preview.jpg"
    progress = render.ProgressInfo(7, "generate", "gpt-image-1", "a fox", None, 1, "m")
    stage = render.Stage(running=True, preview=render.preview_name("jpeg", spoiler=True))
    assert render.progress_embed(progress, stage).image.url is None
    shown = render.Stage(running=True, preview=render.preview_name("jpeg"))
    assert render.progress_embed(progress, shown).image.url == "attachment://preview.jpg"


def test_log_entries_link_to_where_it_was_asked() -> None:
    job = Job(5, GUILD, 7, 9, "generate", "gpt-image-1", "a goblin", {}, "failed", 0.0)
    link = jump_url(GUILD, 7)
    refused = PromptBlocked('Your prompt has "goblin" in it.', rule="blocked word `goblin`")
    entry = log_entry(job, refused, link)
    assert entry is not None and "safety settings" in entry.title
    assert f"in <#7> ([jump]({link}))" in entry.description
    assert "**Refused by:** blocked word `goblin`" in entry.description
    assert '**Told the member:** Your prompt has "goblin" in it.' in entry.description
    assert link == "https://discord.com/channels/42/7"
    assert jump_url(GUILD, 7, 11) == "https://discord.com/channels/42/7/11"
    plain = log_entry(job, SafetyRefused("No."))
    assert plain is not None and "[jump]" not in plain.description


# --- storage -----------------------------------------------------------------------------------


async def test_safety_settings_are_stored_and_read_back(store: Store) -> None:
    assert await store.get_guild_settings(GUILD) == GuildSettings(GUILD)
    wanted = GuildSettings(
        GUILD, low_moderation=True, spoilers=True, prompt_check=True,
        blocked_words=("ogre", "cat*", "grumpy goblin"),
    )  # fmt: skip
    await store.save_guild_settings(wanted)
    assert await store.get_guild_settings(GUILD) == wanted
    await store.change_guild_settings(GUILD, lambda s: safety.set_switches(s, False, None, None))
    changed = await store.get_guild_settings(GUILD)
    assert changed == dataclasses.replace(wanted, low_moderation=False)
    assert await store.get_guild_settings(GUILD + 1) == GuildSettings(GUILD + 1)


def test_the_safety_migration_exists_for_both_backends() -> None:
    for dialect in ("sqlite", "postgres"):
        found = {m.version: m.name for m in load_migrations(dialect)}
        assert found[6] == "safety"
