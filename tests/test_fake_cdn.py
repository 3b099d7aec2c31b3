"""The fake Discord CDN signs its links as Discord does, refuses them once expired or tampered
with, and every read of a message hands out freshly signed ones."""

from __future__ import annotations

import aiohttp

from tests.fakes.discord_server import LINK_LIFETIME, FakeDiscord

API_TOKEN = "cdn-test-token"


async def status(session: aiohttp.ClientSession, url: str) -> int:
    async with session.get(url) as response:
        await response.read()
        return response.status


async def test_links_expire_and_a_message_read_signs_them_afresh() -> None:
    async with FakeDiscord(token=API_TOKEN) as fake, aiohttp.ClientSession() as session:
        now = 1_800_000_000.0
        fake.clock = lambda: now
        channel = {"id": "77", "type": 0, "name": "general"}
        fake.add_channel(5, channel)
        attachment = fake.add_attachment("a.png", b"\x89PNG\r\n\x1a\nrest", channel_id=77)
        url = attachment["url"]
        assert f"ex={int(now + LINK_LIFETIME):x}&is={int(now):x}&hm=" in url
        fake.store_message(
            {"id": "88", "channel_id": "77", "author": {"id": "1"}, "attachments": [attachment]}
        )
        assert await status(session, url) == 200
        assert await status(session, url.replace("hm=", "hm=0")) == 404  # tampered
        assert await status(session, url.split("?")[0]) == 404  # unsigned

        later = now + 3 * LINK_LIFETIME
        fake.clock = lambda: later
        assert await status(session, url) == 404

        headers = {"Authorization": f"Bot {API_TOKEN}"}
        async with session.get(f"{fake.api_url}/channels/77/messages/88", headers=headers) as r:
            fresh = (await r.json())["attachments"][0]["url"]
        assert fresh != url and f"is={int(later):x}" in fresh
        assert await status(session, fresh) == 200
        # The stored message keeps its old link: each read is signed anew, as on Discord.
        assert fake.messages[88]["attachments"][0]["url"] == url
