"""Message links, signed CDN links, which images a blend sends, and the favourites store."""

from __future__ import annotations

import pytest

from bot import links
from bot.blend import NO_IMAGES, ONE_IMAGE, fit_blend
from bot.errors import ImageInputError, NotAllowed
from bot.fetch import ImageSource
from bot.i18n import render
from bot.jobs import require_channel
from bot.links import MessageLink, message_links
from bot.models import Catalog
from bot.store import GuildSettings, NewJob, Store
from bot.store.migrate import load_migrations
from tests.fakes.stores import (  # noqa: F401 - fixtures
    ManualClock,
    clock_fixture,
    store_fixture,
    store_target_fixture,
)

GUILD, OTHER_GUILD, USER, OTHER_USER = 1000, 2000, 21, 22
SIGNED = (
    "https://cdn.discordapp.com/attachments/645027906669510667/1300000000000000501/sunset.jpg"
    "?ex=65d903de&is=65c68ede&hm=aa&"
)


# --- message links --------------------------------------------------------------------------------


def test_message_links_are_read_in_order_each_once() -> None:
    text = (
        f"https://discord.com/channels/{GUILD}/1/2, <https://ptb.discord.com/channels/{GUILD}/3/4>"
        f"\nhttps://discordapp.com/channels/{GUILD}/1/2"
    )
    assert message_links(text, GUILD, most=5) == [
        MessageLink(GUILD, 1, 2),
        MessageLink(GUILD, 3, 4),
    ]


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("https://example.com/a.png", "isn't a message link"),
        ("hello", "`hello` isn't a message link"),
        (f"https://discord.com/channels/{OTHER_GUILD}/1/2", "only use messages from this server"),
        ("https://discord.com/channels/@me/1/2", "only use messages from this server"),
        (" ".join(f"https://discord.com/channels/{GUILD}/1/{n}" for n in range(3)), "at most 2"),
    ],
)
def test_message_links_refuse_what_cant_be_used(text: str, said: str) -> None:
    with pytest.raises(ImageInputError, match=said):
        message_links(text, GUILD, most=2)


def test_signed_links_expire_at_their_ex() -> None:
    ends = 0x65D903DE
    assert links.expires_at(SIGNED) == ends
    assert not links.expired(SIGNED, now=ends - 1)
    assert links.expired(SIGNED, now=ends)
    assert links.expires_at("https://cdn.discordapp.com/attachments/1/2/a.png") is None
    assert not links.expired("https://cdn.discordapp.com/attachments/1/2/a.png", now=ends * 2)
    assert links.expires_at("https://cdn.discordapp.com/a.png?ex=zz") is None


def test_expired_reads_the_module_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(links, "clock", lambda: 0x65D903DE + 60.0)
    assert links.expired(SIGNED)


def test_same_file_ignores_signatures_and_hosts() -> None:
    fresh = SIGNED.replace("ex=65d903de", "ex=75d903de").replace(
        "cdn.discordapp.com", "media.discordapp.net"
    )
    assert links.same_file(SIGNED, fresh)
    assert not links.same_file(SIGNED, SIGNED.replace("sunset", "sunrise"))


# --- which images a blend sends -------------------------------------------------------------------


def sources(count: int) -> tuple[ImageSource, ...]:
    return tuple(ImageSource.from_bytes(f"{n}.png", b"x") for n in range(count))


def test_a_blend_sends_up_to_what_the_model_takes_and_says_so() -> None:
    gpt = Catalog.load().find("gpt-image-1")
    assert gpt is not None and gpt.input.max_images == 16
    images = sources(20)
    sent, notes = fit_blend(gpt, images)
    assert sent == images[:16]
    assert [str(note) for note in notes] == [
        "gpt-image-1 takes at most 16 images, so I blended the first 16 of the 20 you gave."
    ]
    assert fit_blend(gpt, images[:16]) == (images[:16], ())


def test_a_blend_refuses_too_few_images_and_one_image_models() -> None:
    catalog = Catalog.load()
    gpt, dalle = catalog.find("gpt-image-1"), catalog.find("dall-e-2")
    assert gpt is not None and dalle is not None
    with pytest.raises(ImageInputError, match=str(NO_IMAGES)):
        fit_blend(gpt, ())
    with pytest.raises(ImageInputError, match=str(ONE_IMAGE)):
        fit_blend(gpt, sources(1))
    with pytest.raises(NotAllowed, match="dall-e-2 takes one image at a time"):
        fit_blend(dalle, sources(2))


def test_link_blend_and_download_refusals_read_in_the_members_language() -> None:
    too_many = " ".join(f"https://discord.com/channels/{GUILD}/1/{n}" for n in range(3))
    with pytest.raises(ImageInputError) as caught:
        message_links(too_many, GUILD, most=2)
    assert caught.value.render("ru") == (
        "Я могу прочитать максимум 2 ссылки на сообщения, а вы дали 3."
    )
    with pytest.raises(ImageInputError) as caught:
        message_links("hello", GUILD, most=2)
    assert caught.value.render("de") == (
        "`hello` ist kein Nachrichtenlink. Kopiere einen über das Nachrichtenmenü von Discord "
        "→ Nachrichtenlink kopieren."
    )
    gpt = Catalog.load().find("gpt-image-1")
    assert gpt is not None
    _, (note,) = fit_blend(gpt, sources(20))
    assert render("fr", note) == (
        "gpt-image-1 accepte au plus 16 images, donc j'ai fusionné les 16 premières des 20 que "
        "tu as données."
    )
    with pytest.raises(ImageInputError) as caught:
        fit_blend(gpt, sources(1))  # the command to use instead, as a German Discord names it
    assert caught.value.render("de").endswith("nutze /bearbeiten.")

    async def never(max_bytes: int) -> bytes:
        raise AssertionError("a file over the limit is not downloaded")

    big = ImageSource("big.png", 30 * 1024 * 1024, never)
    with pytest.raises(ImageInputError) as caught:
        big.check_declared_size(25 * 1024 * 1024)
    assert caught.value.render("ja") == "big.png は 30 MB です。上限は 25 MB です。"
    assert caught.value.render("ru") == "Файл big.png весит 30 МБ; лимит — 25 МБ."


def test_a_channel_the_server_did_not_allow_is_refused_in_the_members_language() -> None:
    settings = GuildSettings(guild_id=GUILD, allowed_channel_ids=(5, 6))
    with pytest.raises(NotAllowed) as caught:
        require_channel(settings, 7)
    assert caught.value.render("zh_CN") == "在本服务器上，我只能在 <#5> <#6> 中使用。"
    assert str(caught.value) == "I can only be used in <#5> <#6> on this server."


# --- the favourites store (SQLite and PostgreSQL) -------------------------------------------------


def test_the_favourites_migration_is_0009_on_both_backends() -> None:
    for dialect in ("sqlite", "postgres"):
        found = {m.version: m.name for m in load_migrations(dialect)}
        assert found[9] == "favourites"


async def job_id(store: Store, guild: int = GUILD, user: int = USER) -> int:
    new = NewJob(guild, 11, user, "generate", "gpt-image-1", "a fox")
    return (await store.create_job(new)).id


async def test_favourites_toggle_per_member_and_server(store: Store, clock: ManualClock) -> None:
    first, second = await job_id(store), await job_id(store)
    assert await store.toggle_favourite(GUILD, USER, first) is True
    clock.advance(60)
    assert await store.toggle_favourite(GUILD, USER, second) is True
    assert await store.toggle_favourite(GUILD, OTHER_USER, first) is True

    saved = await store.favourites(GUILD, USER)
    assert [f.job.id for f in saved] == [second, first]  # newest saved first
    assert saved[0].saved_at == clock.now and saved[0].job.prompt == "a fox"
    assert await store.count_favourites(GUILD, USER) == 2
    assert [f.job.id for f in await store.favourites(GUILD, USER, limit=1, offset=1)] == [first]

    assert await store.toggle_favourite(GUILD, USER, first) is False
    assert not await store.is_favourite(GUILD, USER, first)
    assert await store.is_favourite(GUILD, OTHER_USER, first)  # the other member's stays
    assert await store.count_favourites(GUILD, USER) == 1


async def test_favourites_never_cross_servers(store: Store) -> None:
    foreign = await job_id(store, guild=OTHER_GUILD)
    # A job id of another server saved "here" names no job here: it lists as nothing.
    assert await store.toggle_favourite(GUILD, USER, foreign) is True
    assert await store.favourites(GUILD, USER) == []
    assert await store.count_favourites(GUILD, USER) == 0
    assert await store.favourites(OTHER_GUILD, USER) == []
