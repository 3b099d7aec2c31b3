"""The fake Discord and its harness, proved with a tiny bot that lives only in this file."""

from __future__ import annotations

import asyncio
import io
import json
import time
from pathlib import Path

import aiohttp
import discord
import pytest
from discord import app_commands
from discord.ext import commands
from PIL import Image

from tests.fakes.discord_harness import BotHarness, HarnessError, UnhandledBotError
from tests.fakes.discord_server import DiscordRejection, FakeDiscord, _validate_command

DATA = Path(__file__).parent / "data"


def png(color: str = "orange", size: tuple[int, int] = (8, 6)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "PNG")
    return buffer.getvalue()


class Panel(discord.ui.View):
    def __init__(self) -> None:
        super().__init__(timeout=180)

    @discord.ui.button(label="Again", custom_id="again")
    async def again(
        self, interaction: discord.Interaction, button: discord.ui.Button[Panel]
    ) -> None:
        await interaction.response.edit_message(
            content=f"pressed by {interaction.user.id}", view=self
        )

    @discord.ui.button(label="Tweak", custom_id="open-tweak")
    async def tweak(
        self, interaction: discord.Interaction, button: discord.ui.Button[Panel]
    ) -> None:
        await interaction.response.send_modal(Tweak())


class Tweak(discord.ui.Modal, title="Tweak the prompt"):
    prompt = discord.ui.TextInput(label="Prompt", custom_id="prompt", max_length=100)

    def __init__(self) -> None:
        super().__init__(custom_id="tweak")

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"new prompt: {self.prompt.value}", ephemeral=True)


class TinyBot(commands.Bot):
    """Records what its handlers saw in ``seen``."""

    def __init__(self) -> None:
        intents = discord.Intents.default()
        intents.message_content = True
        super().__init__(command_prefix="!", intents=intents)
        self.seen: list[tuple[str, object]] = []

    async def setup_hook(self) -> None:
        for command in (draw, ping, upload, ask, style, panel, describe, crash):
            self.tree.add_command(command)

    async def on_message(self, message: discord.Message) -> None:
        if message.author.bot or message.reference is None:
            return
        data = await message.attachments[0].read()
        self.seen.append(
            (
                "message",
                (message.guild.id if message.guild else None, message.reference.message_id, data),
            )
        )
        await message.reply(f"got {len(data)} bytes")


@app_commands.command(description="Draw something")
async def draw(
    interaction: discord.Interaction, prompt: str, n: app_commands.Range[int, 1, 4] = 1
) -> None:
    await interaction.response.defer(thinking=True)
    embed = discord.Embed(title=prompt).set_image(url="attachment://fox.png")
    await interaction.followup.send(embed=embed, file=discord.File(io.BytesIO(png()), "fox.png"))


@app_commands.command(description="Answer pong, noting Discord errors")
async def ping(interaction: discord.Interaction) -> None:
    try:
        await interaction.response.send_message("pong")
    except discord.HTTPException as exc:
        interaction.client.seen.append(("ping failed", (type(exc).__name__, exc.status, exc.code)))  # type: ignore[attr-defined]


@app_commands.command(description="Upload more than the interaction allows")
async def upload(interaction: discord.Interaction) -> None:
    await interaction.response.defer()
    try:
        await interaction.followup.send(file=discord.File(io.BytesIO(b"x" * 2048), "big.bin"))
    except discord.HTTPException as exc:
        interaction.client.seen.append(("upload failed", (exc.status, exc.code)))  # type: ignore[attr-defined]


@app_commands.command(description="Ask, then wait for the user's next message")
async def ask(interaction: discord.Interaction) -> None:
    await interaction.response.send_message("what should I draw?")
    reply = await interaction.client.wait_for(
        "message", check=lambda m: m.author == interaction.user, timeout=2
    )
    await interaction.followup.send(f"drawing {reply.content}")


async def style_names(
    interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[str]]:
    names = ["vivid", "natural", "vintage"]
    return [app_commands.Choice(name=n.title(), value=n) for n in names if n.startswith(current)]


@app_commands.command(description="Pick a style")
@app_commands.autocomplete(name=style_names)
async def style(interaction: discord.Interaction, name: str) -> None:
    await interaction.response.send_message(name)


@app_commands.command(description="Show the panel")
async def panel(interaction: discord.Interaction) -> None:
    await interaction.response.send_message("panel", view=Panel())


@app_commands.context_menu(name="Describe image")
async def describe(interaction: discord.Interaction, message: discord.Message) -> None:
    interaction.client.seen.append(
        ("describe", (message.id, message.content, message.attachments[0].filename))
    )  # type: ignore[attr-defined]
    await interaction.response.send_message(
        f"{message.attachments[0].width}px wide", ephemeral=True
    )


@app_commands.command(description="Use a route the fake does not serve")
async def crash(interaction: discord.Interaction) -> None:
    await interaction.response.defer()
    await interaction.channel.create_thread(name="nope")  # type: ignore[union-attr]


@pytest.fixture
async def fake():
    async with FakeDiscord() as discord_fake:
        yield discord_fake


@pytest.fixture
async def harness(fake: FakeDiscord):
    started = await BotHarness.start(TinyBot(), fake)
    yield started
    await started.close()


async def test_login_ready_and_guild(harness: BotHarness, fake: FakeDiscord) -> None:
    assert [r.path for r in fake.requests] == ["/users/@me", "/oauth2/applications/@me"]
    assert fake.requests[0].headers["Authorization"] == f"Bot {fake.token}"
    bot = harness.bot
    assert bot.is_ready() and bot.user is not None and bot.user.id == harness.bot_id
    assert harness.guild.me.id == harness.bot_id
    assert discord.Permissions(harness.permissions_of(harness.moderator_id)).manage_guild
    assert not discord.Permissions(harness.permissions_of(harness.user_id)).manage_guild
    assert harness.channel.name == "general"
    assert fake.api_url == discord.http.Route.BASE


async def test_slash_defers_then_sends_file_and_embed(
    harness: BotHarness, fake: FakeDiscord
) -> None:
    record = await harness.slash("draw", {"prompt": "a fox", "n": 2})

    assert record.callback_type == 5
    (followup,) = record.followups
    assert followup.multipart
    assert followup.json["embeds"][0]["title"] == "a fox"
    assert followup.json["attachments"] == [{"id": 0, "filename": "fox.png"}]
    sent = followup.file("fox.png")
    assert sent.content_type == "application/octet-stream" and sent.kind == "png"
    assert sent.image().size == (8, 6)
    # the first followup after a deferral edits the loading message
    (message,) = record.responses
    assert message["id"] == record.original["id"]  # type: ignore[index]
    assert message["embeds"][0]["image"]["url"] == message["attachments"][0]["url"]
    assert fake.files_of(message)[0].data == png()
    assert record.text == "a fox"
    fake.assert_no_errors()


async def test_rate_limit_with_via_is_retried(harness: BotHarness, fake: FakeDiscord) -> None:
    fake.fail_next("POST", "/interactions/*/callback", status=429, retry_after=1.5)
    started = time.monotonic()

    record = await harness.slash("ping")

    assert [(r.status, r.injected) for r in record.callbacks] == [(429, True), (200, False)]
    assert record.callbacks[0].response["retry_after"] == 1.5
    assert fake.retry_sleeps == [1.5]  # discord.py honoured retry_after; the fake skipped the wait
    assert record.original["content"] == "pong"  # type: ignore[index]
    assert harness.bot.seen == []  # type: ignore[attr-defined]
    assert time.monotonic() - started < 1


async def test_server_error_is_retried_without_waiting(
    harness: BotHarness, fake: FakeDiscord
) -> None:
    fake.fail_next("POST", "/interactions/*", status=500)

    record = await harness.slash("ping")

    assert [r.status for r in record.callbacks] == [500, 200]
    assert fake.retry_sleeps == [1]


async def test_unknown_interaction_surfaces_as_not_found(
    harness: BotHarness, fake: FakeDiscord
) -> None:
    fake.fail_next("POST", "/interactions/*/callback", status=404, code=10062)

    record = await harness.slash("ping")

    assert harness.bot.seen == [("ping failed", ("NotFound", 404, 10062))]  # type: ignore[attr-defined]
    assert record.callback_type is None
    assert record.callbacks[0].response == {"message": "Unknown interaction", "code": 10062}
    fake.assert_no_errors()  # injected faults are not the fake's errors


async def test_message_context_menu_gets_resolved_message(
    harness: BotHarness, fake: FakeDiscord
) -> None:
    target = harness.build_message(
        "look", author=harness.moderator_id, attachments=[("sunset.png", png(size=(20, 10)))]
    )

    record = await harness.context_menu("Describe image", message=target)

    assert harness.bot.seen == [("describe", (int(target["id"]), "look", "sunset.png"))]  # type: ignore[attr-defined]
    assert record.payload["data"]["resolved"]["messages"][target["id"]]["content"] == "look"
    assert record.callback.json == {
        "type": 4,
        "data": {"content": "20px wide", "tts": False, "flags": 64},
    }
    assert record.ephemeral


async def test_button_click_and_modal_submit(harness: BotHarness, fake: FakeDiscord) -> None:
    shown = await harness.slash("panel")
    assert shown.callback_type == 4

    pressed = await harness.click("again", user=harness.moderator_id)
    assert pressed.callback_type == 7
    assert (
        fake.messages[int(shown.original["id"])]["content"] == f"pressed by {harness.moderator_id}"
    )  # type: ignore[index]

    opened = await harness.click("open-tweak")
    assert opened.modal["custom_id"] == "tweak"
    submitted = await harness.submit_modal("tweak", {"prompt": "a cat"})
    assert submitted.payload["message"]["id"] == shown.original["id"]  # type: ignore[index]
    assert submitted.original["content"] == "new prompt: a cat"  # type: ignore[index]
    assert submitted.ephemeral

    with pytest.raises(HarnessError, match="no fields"):
        await harness.submit_modal("tweak", {"nope": "x"})


async def test_message_reply_with_attachment_reaches_on_message(
    harness: BotHarness, fake: FakeDiscord
) -> None:
    earlier = harness.build_message("first")
    image = png("blue")

    record = await harness.message(
        "second", reference=earlier["id"], attachments=[("in.png", image)]
    )

    guild_id, reference_id, data = harness.bot.seen[0][1]  # type: ignore[attr-defined]
    assert (guild_id, reference_id, data) == (harness.guild_id, int(earlier["id"]), image)
    assert [d.path.split("/")[-1] for d in fake.downloads] == ["in.png"]
    (reply,) = record.messages
    assert reply["type"] == 19 and reply["content"] == f"got {len(image)} bytes"
    assert reply["message_reference"]["message_id"] == record.payload["id"]


async def test_autocomplete_returns_choices(harness: BotHarness) -> None:
    choices = await harness.autocomplete("style", {"name": "v"}, focused="name")

    assert choices == [{"name": "Vivid", "value": "vivid"}, {"name": "Vintage", "value": "vintage"}]


async def test_oversize_upload_is_refused_with_413(harness: BotHarness, fake: FakeDiscord) -> None:
    await harness.slash("upload", attachment_size_limit=1024)

    assert harness.bot.seen == [("upload failed", (413, 40005))]  # type: ignore[attr-defined]
    assert [(e.kind, e.code) for e in fake.errors] == [("rejected", 40005)]


async def test_second_acknowledgement_is_refused(harness: BotHarness, fake: FakeDiscord) -> None:
    record = await harness.slash("ping")
    url = f"{fake.api_url}/interactions/{record.id}/{record.token}/callback"

    async with aiohttp.ClientSession() as session, session.post(url, json={"type": 5}) as response:
        body = await response.json()

    assert (response.status, body["code"]) == (400, 40060)
    assert record.callback_type == 4


async def test_429_without_via_is_not_retried(harness: BotHarness, fake: FakeDiscord) -> None:
    fake.fail_next("POST", "/interactions/*/callback", status=429, via=False)

    record = await harness.slash("ping")

    assert harness.bot.seen == [("ping failed", ("HTTPException", 429, 0))]  # type: ignore[attr-defined]
    assert len(record.callbacks) == 1


async def test_command_waiting_for_the_users_next_message(harness: BotHarness) -> None:
    record = await harness.slash("ask")
    assert [m["content"] for m in record.responses] == ["what should I draw?"]

    await harness.message("a heron")

    assert [m["content"] for m in record.responses] == ["what should I draw?", "drawing a heron"]


async def test_options_discord_would_refuse_are_reported(harness: BotHarness) -> None:
    with pytest.raises(HarnessError, match="requires"):
        await harness.slash("draw", {"n": 2})
    with pytest.raises(HarnessError, match="above the maximum"):
        await harness.slash("draw", {"prompt": "x", "n": 5})
    with pytest.raises(HarnessError, match="no option 'size'"):
        await harness.slash("draw", {"prompt": "x", "size": "big"})


async def test_unserved_route_fails_the_test(harness: BotHarness, fake: FakeDiscord) -> None:
    with pytest.raises(UnhandledBotError, match="no route for POST /channels/"):
        await harness.slash("crash")
    assert fake.errors[0].kind == "unsupported"


async def test_bad_token_is_a_login_failure(fake: FakeDiscord) -> None:
    fake.fail_next("GET", "/users/@me", status=401)
    bot = TinyBot()
    with pytest.raises(discord.LoginFailure):
        await BotHarness.start(bot, fake)
    await bot.close()


async def test_built_payloads_carry_every_key_of_discords_examples(harness: BotHarness) -> None:
    example = json.loads((DATA / "discord_interaction_chat_input.json").read_text())
    built = harness.interaction_payload(2, {})
    assert set(example) <= set(built)
    assert set(example["member"]) <= set(built["member"])
    assert set(example["channel"]) <= set(built["channel"])

    record = await harness.slash("draw", {"prompt": "p"}, attachments=None)
    assert set(example["data"]) - {"resolved"} <= set(record.payload["data"])
    menu = json.loads((DATA / "discord_interaction_message_context.json").read_text())
    target = harness.build_message("hi", attachments=[("a.png", png())])
    built_menu = (await harness.context_menu("Describe image", message=target)).payload
    assert set(menu["data"]) <= set(built_menu["data"])
    assert set(menu["data"]["resolved"]["messages"]["1300000000000000500"]) <= set(target)


async def test_an_answer_after_discords_window_is_unknown_interaction(
    harness: BotHarness, fake: FakeDiscord
) -> None:
    fake.answer_window = 0.05  # Discord's is 3 s
    payload = harness.interaction_payload(3, {"custom_id": "late", "component_type": 2})
    interaction = fake.register_interaction(payload)
    await asyncio.sleep(0.1)
    url = f"{fake.api_url}/interactions/{interaction.id}/{interaction.token}/callback"

    async with aiohttp.ClientSession() as session, session.post(url, json={"type": 5}) as response:
        body = await response.json()

    assert (response.status, body["code"]) == (404, 10062)


@pytest.mark.parametrize(
    ("localized", "field"),
    [
        ({"name_localizations": {"zh_CN": "画"}}, "zh_CN"),  # gettext's code, not Discord's
        ({"name_localizations": {"ru": "Рисовать"}}, "ru"),  # a capital in a slash command name
        ({"name_localizations": {"de": "zeichnen bitte"}}, "de"),  # a space
        ({"description_localizations": {"fr": "x" * 101}}, "fr"),
        ({"description_localizations": {"ja": ""}}, "ja"),
    ],
)
def test_localized_commands_discord_would_refuse_are_refused(
    localized: dict[str, object], field: str
) -> None:
    command = {"name": "draw", "description": "Draw", "type": 1, **localized}
    with pytest.raises(DiscordRejection) as refused:
        _validate_command(command, "0")
    assert field in json.dumps(refused.value.errors)
    option = {"name": "prompt", "description": "What", "type": 3, **localized}
    with pytest.raises(DiscordRejection):
        _validate_command({"name": "draw", "description": "Draw", "options": [option]}, "0")
    _validate_command(  # what Discord takes: its own codes, names by the command rules
        {
            "name": "draw",
            "description": "Draw",
            "name_localizations": {"zh-CN": "画", "ru": "рисовать", "pt-BR": "desenhar"},
            "description_localizations": {"ja": "絵を描く"},
        },
        "0",
    )
