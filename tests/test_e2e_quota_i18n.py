"""Credits in the reader's own language, end to end: a member's quota refusals and /usage, a
moderator's /quota, /usage of the server (its chart and files) and /history, and the
moderation log's quota post, each in the language of whoever reads it.

The real ImageBot against the fake Discord and the fake Images API, with a real SQLite store.
gpt-image-1 at 1024x1024, medium costs 4 credits.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from bot.reports import MEMBERS_HEADER
from tests.fakes.bot_env import BotEnv, bot_env
from tests.fakes.discord_harness import InteractionRecord

RESET = r"<t:\d+:R>"


async def mod(
    env: BotEnv, name: str, options: dict[str, Any] | None = None, locale: str = "en-US"
) -> InteractionRecord:
    """A moderator (Manage Server) runs a slash command from a Discord set to ``locale``."""
    return await env.harness.slash(name, options, user=env.harness.moderator_id, locale=locale)


async def imagine(env: BotEnv, prompt: str, locale: str = "en-US") -> InteractionRecord:
    return await env.harness.slash("imagine", {"prompt": prompt}, locale=locale)


def titles(record: InteractionRecord) -> list[str]:
    return [e.get("title") or "" for m in record.private for e in m["embeds"]]


async def test_a_russian_member_over_their_limit_is_refused_in_russian(tmp_path) -> None:
    async with bot_env(tmp_path) as env:
        h = env.harness
        await mod(env, "settings log-channel", {"channel": h.other_channel_id})
        await mod(env, "settings language", {"language": "de"})
        await mod(env, "quota user-limit", {"credits": 8, "window": "day"})
        for prompt in ("лиса", "барсук"):
            assert len((await imagine(env, prompt, "ru")).files) == 1

        refused = await imagine(env, "третий зверь", "ru")

        assert refused.ephemeral
        assert re.search(
            rf"Вы израсходовали 8 из 8 кредитов сегодня\. Лимит обновится {RESET}\.",
            refused.text,
        ), refused.text
        assert "You've used" not in refused.text
        # The German server's log says it in German, quoting what the member read, in Russian.
        await h.settle()
        posts = env.discord.bot_messages(h.other_channel_id)
        (quota,) = [e for p in posts for e in p["embeds"] if e["title"] == "⛔ Kontingent erreicht"]
        assert f"**Mitglied:** <@{h.user_id}>" in quota["description"]
        assert (
            "**Dem Mitglied gesagt:** Вы израсходовали 8 из 8 кредитов сегодня."
            in (quota["description"])
        )

        usage = await env.harness.slash("usage", locale="ru")
        assert titles(usage) == ["Ваши кредиты на изображения"]
        assert "Израсходовано сегодня: **8** из 8 кредитов · осталось: **0**" in usage.text
        assert re.search(rf"Обновится {RESET}", usage.text)


async def test_a_member_in_flight_or_too_fast_is_told_in_their_language(tmp_path) -> None:
    async with bot_env(tmp_path) as env:
        await mod(env, "quota cooldown", {"seconds": 600})
        assert len((await imagine(env, "a fox", "ja")).files) == 1

        again = await imagine(env, "a second fox", "ja")

        assert re.search(rf"少し速すぎます。{RESET} にもう一度お試しください。", again.text)
        zh = await imagine(env, "a third fox", "zh-CN")
        assert re.search(rf"你请求得有点快：{RESET}可以再试。", zh.text), zh.text


async def test_a_german_moderator_reads_the_servers_usage_in_german(tmp_path) -> None:
    async with bot_env(tmp_path) as env:
        h = env.harness
        await imagine(env, "a fox")
        await env.harness.slash("imagine", {"prompt": "two owls", "n": 2}, user=h.moderator_id)
        await mod(env, "quota server-budget", {"credits": 100, "window": "month"})

        record = await mod(env, "usage", {"server": True}, locale="de")

        assert titles(record) == ["Serververbrauch"]
        text = record.text
        assert "**12** Credits, **3** Bilder diesen Monat (seit <t:" in text
        assert "Serverbudget: diesen Monat 12 von 100 Credits verbraucht, wird <t:" in text
        assert f"1. <@{h.moderator_id}> `Moderator` — 8 Credits, 2 Bilder" in text
        assert "**Mitglieder mit dem höchsten Verbrauch**" in text and "**Nach Modell**" in text
        assert re.search(r"- gpt-image-1 — 12 Credits, 3 Bilder, etwa 0,\d\d\xa0\$", text)
        assert "Etwa **0," in text and "zu den Listenpreisen des Anbieters vom" in text
        chart = next(f for f in record.files if f.filename.endswith(".png"))
        assert chart.image().size == (960, 480)
        members = next(f for f in record.files if "members" in f.filename)
        header = next(csv.reader(io.StringIO(members.data.decode("utf-8"))))
        assert tuple(header) == MEMBERS_HEADER  # spreadsheets read English column names

        own = await mod(env, "usage", {"member": h.user_id}, locale="de")
        assert titles(own) == ["Credits von Member"]
        assert "Verbraucht heute: **4** von 20 Credits · **16** übrig" in own.text
        assert (
            "Ein Bild von gpt-image-1 kostet standardmäßig 4 Credits: Das reicht für etwa 4 "
            in (own.text)
        )


async def test_a_german_moderator_sets_and_reads_the_quota_in_german(tmp_path) -> None:
    async with bot_env(tmp_path) as env:
        changed = await mod(env, "quota user-limit", {"credits": 12, "window": "day"}, "de")

        assert "✅ Mitgliederlimit geändert." in changed.text
        assert "**Bildkontingent**" in changed.text
        assert "- Jedes Mitglied: 12 Credits pro Tag" in changed.text
        assert "- Serverbudget: keines (Standard)" in changed.text
        assert "**Preise** in Credits pro Bild; in Klammern, wie viele Bilder das " in changed.text
        in_images = await mod(
            env, "quota server-budget", {"images": 10, "model": "gpt-image-1"}, "de"
        )
        assert (
            "✅ Der Server darf jetzt erstellen: 10 Bilder von gpt-image-1 pro Monat "
            "(1024x1024, medium): 40 Credits." in in_images.text
        )
        refused = await mod(env, "quota cost", {"model": "gpt-image-1"}, "de")
        assert "Gib entweder Credits pro Bild oder `clear: True` an." in refused.text
        await imagine(env, "a fox")
        reset = await mod(env, "quota reset", {"member": env.harness.user_id}, "de")
        assert f"✅ Verbrauch von <@{env.harness.user_id}> zurückgesetzt." in reset.text
        assert "Verbraucht heute: **0** von 12 Credits · **12** übrig" in reset.text


async def test_a_french_moderators_history_is_in_french(tmp_path) -> None:
    async with bot_env(tmp_path) as env:
        await imagine(env, "a fox")
        empty_server = await mod(env, "history", {"member": env.harness.moderator_id}, "fr")
        assert titles(empty_server) == ["Demandes récentes"]
        assert "Aucune demande pour l'instant." in empty_server.text

        record = await mod(env, "history", None, "fr")

        assert titles(record)[0] == "Demandes récentes (1)"
        assert "✅ réussie" in record.text and "4 crédits" in record.text
        assert "[résultat](https://discord.com/channels/" in record.text
