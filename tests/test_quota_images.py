"""Limits in images of a model, and the price list of /quota show (issue 11, part 3).

Unit tests of the conversion and the text, then the real bot against the fake Discord and the
fake Images API: "10 images of gpt-image-2 per day" admits exactly 10 such images.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from bot.errors import QuotaExceeded, ValidationError
from bot.limits import GivenLimit, describe_rule, given_limit, limit_in_credits, role_rule
from bot.models import Catalog
from bot.moderation import parse_models
from bot.provider import Provider
from bot.quotas import QuotaEngine, cost_per_image
from bot.quotas.policy import describe_policy
from bot.quotas.pricing import default_kind, offered, price_lines
from bot.store import QuotaPolicy, RoleRule, Store
from bot.words import credits, listed, plural
from tests.fakes.bot_env import SNAPSHOT_DAY, BotEnv, bot_env
from tests.fakes.discord_harness import InteractionRecord
from tests.fakes.stores import (  # noqa: F401 - fixtures
    ManualClock,
    clock_fixture,
    store_fixture,
    store_target_fixture,
)

GUILD = 1000
CATALOG = Catalog.load()
NO_PINGS = {"parse": []}


def provider() -> Provider:
    """The built-in catalog on the fakes' day, without a model list: the catalog's dates decide
    (gpt-image-2 and newer are usable, gpt-image-1 and the DALL·E models are shut down). Its
    client is never called here."""
    return Provider("test", None, CATALOG, today=lambda: SNAPSHOT_DAY)  # type: ignore[arg-type]


def in_credits(
    images: int,
    model: str,
    size: str | None = None,
    quality: str | None = None,
    *,
    allowed: tuple[str, ...] | None = None,
    costs: dict[tuple[str, str, str], int] | None = None,
) -> Any:
    given = given_limit(None, images, model, size, quality)
    return limit_in_credits(given, provider(), allowed, costs or {})


def refusal(call: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        call(*args, **kwargs)
    return caught.value.message


# --- words ------------------------------------------------------------------------------------


def test_counts_read_as_singular_or_plural_never_with_s_in_brackets() -> None:
    assert [plural(n, "image", "images") for n in (0, 1, 2)] == ["0 images", "1 image", "2 images"]
    assert [credits(n) for n in (1, 40)] == ["1 credit", "40 credits"]
    assert listed("model", "models", ["a"]) == "model: a"
    assert listed("model", "models", ["a", "b"]) == "models: a, b"
    assert refusal(parse_models, "gpt-image-2, nope", CATALOG).startswith("Unknown model: nope.")
    assert refusal(parse_models, "nope, nada", CATALOG).startswith("Unknown models: nope, nada.")


def test_policy_text_has_singular_credits_and_requests() -> None:
    policy = QuotaPolicy(GUILD, user_limit=1, max_in_flight=1, roles={7: RoleRule("limit", 1)})
    text = describe_policy(policy)
    assert "- Each member: 1 credit per day\n" in text
    assert "- At most 1 request at a time per member\n" in text
    assert "  - <@&7>: 1 credit per day" in text
    assert "(s)" not in text
    assert str(describe_rule(RoleRule("limit", 1), "week")) == "may use 1 credit per week"


async def test_quota_refusal_says_is_left_for_one_credit(store: Store, clock: ManualClock) -> None:
    await store.save_quota_policy(QuotaPolicy(GUILD, user_limit=5, max_in_flight=None))
    engine = QuotaEngine(store, clock=clock)
    args: dict[str, Any] = {"guild_id": GUILD, "user_id": 1, "role_ids": (), "is_moderator": False}
    await engine.reserve(**args, model="gpt-image-1", size="1024x1024", quality="medium", n=1)
    with pytest.raises(QuotaExceeded) as caught:
        await engine.reserve(**args, model="gpt-image-1", size="1024x1024", quality="high", n=1)
    assert "This needs 17 credits but only 1 of your 5 credits is left today." in str(
        caught.value.message
    )


# --- the conversion ---------------------------------------------------------------------------


def test_ten_images_of_gpt_image_2_are_what_a_member_gets_when_they_pick_nothing() -> None:
    limit = in_credits(10, "gpt-image-2")

    assert limit.credits == 40
    assert limit.images is not None and limit.images.images == 10
    assert str(limit.changed("day", server=False)) == (
        "Each member may now make 10 images of gpt-image-2 per day (1024x1024, medium): 40 credits."
    )
    one = in_credits(1, "gpt-image-2")
    assert str(one.changed("month", server=True)) == (
        "The server may now make 1 image of gpt-image-2 per month (1024x1024, medium): 4 credits."
    )


@pytest.mark.parametrize(
    ("size", "quality", "costs", "expected"),
    [
        ("1536x1024", "high", {}, 250),
        ("1024x1024", "low", {}, 10),
        (None, "auto", {}, 40),  # auto: what a member gets, medium
        ("auto", None, {}, 40),  # auto: the default size
        (None, None, {("gpt-image-2", "*", "medium"): 2}, 20),  # the server's price
        (None, None, {("gpt-image-2", "1024x1024", "*"): 3}, 30),
        (None, None, {("gpt-image-1", "*", "*"): 1}, 40),  # another model's price: no change
        ("2048x1152", "medium", {}, 90),  # a free size: the dearest listed (6), by its pixels
    ],
)
def test_size_quality_and_the_servers_prices_decide_the_credits(
    size: str | None, quality: str | None, costs: dict[tuple[str, str, str], int], expected: int
) -> None:
    assert in_credits(10, "gpt-image-2", size, quality, costs=costs).credits == expected


def test_images_are_priced_as_a_job_of_that_model_is() -> None:
    """Every usable model, at what a member gets: the same credits JobRunner reserves per image
    (its lineage ``like=`` included, for models with no prices of their own)."""
    here = provider()
    for spec in offered(here.usable(), None):
        kind = default_kind(spec)
        per_job = cost_per_image(spec.name, kind.size, kind.quality, like=spec.lineage)
        assert in_credits(3, spec.name).credits == 3 * per_job, spec.name
    flare = here.spec("gpt-image-2.5-flare")
    assert flare is not None and flare.lineage[-1] == "gpt-image-1"
    assert in_credits(1, "gpt-image-2.5-flare", quality="high").credits == 17


@pytest.mark.parametrize(
    ("credits_", "images", "model", "size", "words"),
    [
        (10, 10, "gpt-image-2", None, "either in credits or in images, not both"),
        (None, 10, None, None, "`images` needs a `model`"),
        (None, 10, "  ", None, "`images` needs a `model`"),
        (None, None, "gpt-image-2", None, "give `images` too"),
        (10, None, None, "1024x1024", "give `images` too"),
    ],
)
def test_what_goes_with_what_is_checked_first(
    credits_: int | None, images: int | None, model: str | None, size: str | None, words: str
) -> None:
    assert words in refusal(given_limit, credits_, images, model, size)


@pytest.mark.parametrize(
    ("model", "size", "quality", "allowed", "costs", "words"),
    [
        ("gpt-image-9", None, None, None, {}, "Unknown model 'gpt-image-9'. Models here: "),
        ("gpt-image-2", None, None, ("dall-e-3",), {}, "gpt-image-2 isn't allowed on this server"),
        ("gpt-image-1", None, None, None, {}, "gpt-image-1 was shut down on 2026-10-23."),
        ("gpt-image-2", "7x7", None, None, {}, "gpt-image-2 has no size 7x7."),
        ("gpt-image-2", None, "ultra", None, {}, "gpt-image-2 has no quality ultra."),
        (
            "gpt-image-2",
            None,
            None,
            None,
            {("gpt-image-2", "*", "*"): 0},
            "gpt-image-2 images cost nothing on this server",
        ),
    ],
)
def test_a_limit_in_images_the_bot_cannot_price_is_refused(
    model: str,
    size: str | None,
    quality: str | None,
    allowed: tuple[str, ...] | None,
    costs: dict[tuple[str, str, str], int],
    words: str,
) -> None:
    text = refusal(in_credits, 10, model, size, quality, allowed=allowed, costs=costs)
    assert words in text, text


def test_a_limit_beyond_what_can_be_stored_is_refused() -> None:
    text = refusal(in_credits, 100_000, "gpt-image-2", quality="high")
    assert text == (
        "100000 images of gpt-image-2 come to 1700000 credits, more than the 1000000 a limit "
        "can be."
    )


def test_a_limit_in_credits_passes_unchanged() -> None:
    limit = limit_in_credits(GivenLimit(credits=12), provider(), None, {})
    assert (limit.credits, limit.images) == (12, None)
    assert str(limit.changed("day", server=False)) == "Member limit changed."
    assert str(limit.changed("day", server=True)) == "Server budget changed."
    assert role_rule("limit", limit.credits) == RoleRule("limit", 12)


# --- the price list ---------------------------------------------------------------------------


def test_price_lines_mark_the_default_quality_and_prices_set_here() -> None:
    spec = CATALOG.get("dall-e-3")
    policy = QuotaPolicy(GUILD, user_limit=24, costs={("dall-e-3", "1792x1024", "hd"): 6})

    assert price_lines(policy, [spec]) == [
        "**Prices** in credits per image; in brackets, how many images the member limit "
        "(24 credits per day) buys.",
        "Prices are the defaults unless marked (set here); each model's default size comes first.",
        "**dall-e-3** · standard (default): 1024x1024 4 (6 images) · 1792x1024 8 (3 images) · "
        "1024x1792 8 (3 images)",
        "**dall-e-3** · hd: 1024x1024 8 (3 images) · 1792x1024 6 (set here, 4 images) · "
        "1024x1792 12 (2 images)",
    ]
    unlimited = price_lines(QuotaPolicy(GUILD, user_limit=None), [spec])
    assert unlimited[0] == "**Prices** in credits per image."
    assert unlimited[2].endswith("1024x1024 4 · 1792x1024 8 · 1024x1792 8")
    assert price_lines(policy, []) == []


def test_the_policy_marks_its_defaults() -> None:
    text = describe_policy(QuotaPolicy(GUILD))
    for line in (
        "- Each member: 20 credits per day (default)",
        "- At most 2 requests at a time per member (default)",
        "- No wait between requests (default)",
        "- Server budget: none (default)",
        "- Moderators: the same limits as everyone (default)",
    ):
        assert line in text.split("\n"), text
    changed = describe_policy(
        QuotaPolicy(GUILD, user_limit=20, window="week", server_budget=100, cooldown_seconds=5)
    )
    assert "- Each member: 20 credits per week" in changed.split("\n")
    assert "- Server budget: 100 credits per month" in changed.split("\n")
    assert "- 5 s between requests" in changed.split("\n")


# --- end to end -------------------------------------------------------------------------------


async def mod(env: BotEnv, name: str, options: dict[str, Any] | None = None) -> InteractionRecord:
    """A moderator (Manage Server) runs a slash command."""
    return await env.harness.slash(name, options, user=env.harness.moderator_id)


def bodies(record: InteractionRecord) -> list[dict[str, Any]]:
    """The message bodies the bot sent for an interaction that carry embeds."""
    sent = record.callbacks + record.fake.webhook_requests(record.token)
    return [
        r.data
        for r in sent
        if 200 <= r.status < 300 and isinstance(r.json, dict) and r.data.get("embeds")
    ]


async def test_ten_images_of_gpt_image_2_per_day_admit_exactly_ten(tmp_path):
    async with bot_env(tmp_path) as env:
        h = env.harness
        confirm = await mod(
            env, "quota user-limit", {"images": 10, "model": "gpt-image-2", "window": "day"}
        )
        assert confirm.ephemeral
        assert (
            "✅ Each member may now make 10 images of gpt-image-2 per day (1024x1024, medium): "
            "40 credits." in confirm.text
        )
        assert "- Each member: 40 credits per day" in confirm.text
        assert (await env.store.get_quota_policy(h.guild_id)).user_limit == 40

        for index in range(10):
            done = await h.slash("imagine", {"prompt": f"fox {index}", "model": "gpt-image-2"})
            assert [f.image().size for f in done.files] == [(1024, 1024)], done.text
        refused = await h.slash("imagine", {"prompt": "fox 10", "model": "gpt-image-2"})

        assert refused.ephemeral and refused.files == []
        assert "You've used 40 of your 40 credits today." in refused.text
        sent = [(r.json["model"], r.json["prompt"]) for r in env.api.image_requests]
        assert sent == [("gpt-image-2", f"fox {index}") for index in range(10)]
        ledger = await env.store.charges(h.guild_id, 0, 2**40)
        assert [c.charged for c in ledger] == [4] * 10


async def test_server_budget_and_role_limits_in_images_are_stored_in_credits(tmp_path):
    async with bot_env(tmp_path) as env:
        h = env.harness
        artists = await h.add_role("Artists")
        budget = await mod(
            env,
            "quota server-budget",
            {"images": 50, "model": "gpt-image-2", "size": "1536x1024", "window": "week"},
        )
        role = await mod(
            env,
            "quota role",
            {"role": artists, "rule": "limit", "images": 3, "model": "gpt-image-2",
             "quality": "high"},
        )  # fmt: skip

        assert (
            "The server may now make 50 images of gpt-image-2 per week (1536x1024, medium): "
            "300 credits." in budget.text
        )
        assert (
            f"<@&{artists}> may now make 3 images of gpt-image-2 per day (1024x1024, high): "
            "51 credits." in role.text
        )
        assert all(b.get("allowed_mentions") == NO_PINGS for b in bodies(role))
        policy = await env.store.get_quota_policy(h.guild_id)
        assert (policy.server_budget, policy.server_window) == (300, "week")
        assert policy.roles[artists] == RoleRule("limit", 51)


@pytest.mark.parametrize(
    ("command", "options", "words"),
    [
        ("quota user-limit", {"credits": 10, "images": 10, "model": "gpt-image-2"}, "not both"),
        ("quota user-limit", {"images": 10}, "`images` needs a `model`"),
        ("quota server-budget", {"images": 10}, "`images` needs a `model`"),
        ("quota user-limit", {"model": "gpt-image-2"}, "give `images` too"),
        ("quota user-limit", {"images": 10, "model": "gpt-image-9"}, "Unknown model 'gpt-image-9'"),
        ("quota server-budget", {"images": 1, "model": "dall-e-3"}, "dall-e-3 isn't allowed"),
        ("quota role", {"rule": "blocked", "images": 1, "model": "gpt-image-2"}, "only go with"),
        ("quota user-limit", {"images": 1, "model": "gpt-image-2", "unlimited": True}, "not both"),
    ],
)
async def test_bad_limits_in_images_are_explained_and_change_nothing(
    tmp_path, command, options, words
):
    async with bot_env(tmp_path) as env:
        h = env.harness
        await mod(env, "settings models", {"models": "gpt-image-2, gpt-image-1"})
        if command == "quota role":
            options = {"role": await h.add_role("Some role"), **options}

        record = await mod(env, command, options)

        assert record.ephemeral
        assert words in record.text, record.text
        assert await env.store.get_quota_policy(h.guild_id) == QuotaPolicy(h.guild_id)


async def test_quota_show_lists_the_allowed_models_prices_and_marks_defaults(tmp_path):
    async with bot_env(tmp_path) as env:
        await mod(env, "settings models", {"models": "gpt-image-2, dall-e-2"})
        await mod(
            env,
            "quota cost",
            {"model": "gpt-image-2", "size": "1024x1024", "quality": "low", "credits": 2},
        )

        shown = await mod(env, "quota show")

        lines = shown.text.split("\n")
        assert "- Each member: 20 credits per day (default)" in lines
        assert "- Server budget: none (default)" in lines
        assert "  - gpt-image-2 1024x1024 low: 2" in lines
        assert (
            "**Prices** in credits per image; in brackets, how many images the member limit "
            "(20 credits per day) buys." in lines
        )
        assert (
            "**gpt-image-2** · low: 1024x1024 2 (set here, 10 images) · 1536x1024 2 (10 images) · "
            "1024x1536 2 (10 images) · 1536x864 2 (10 images) · 864x1536 2 (10 images) · "
            "2560x1440 5 (4 images) · 1440x2560 5 (4 images)" in lines
        )
        assert any(line.startswith("**gpt-image-2** · medium (default): 1024x1024 4 (5 images)")
                   for line in lines)  # fmt: skip
        assert any(
            line.startswith("**gpt-image-2** · high: 1024x1024 17 (1 image)") for line in lines
        )
        assert (
            "**dall-e-2** · standard (default): 1024x1024 2 (10 images) · 256x256 2 (10 images) · "
            "512x512 2 (10 images)" in lines
        )
        models = {m.group(1) for m in re.finditer(r"^\*\*([\w.-]+)\*\* ·", shown.text, re.M)}
        assert models == {"gpt-image-2", "dall-e-2"}  # only what the server allows
        assert "(s)" not in shown.text


async def test_a_long_price_list_is_split_between_lines_over_embeds_and_messages(tmp_path):
    async with bot_env(tmp_path) as env:
        shown = await mod(env, "quota show")  # every model the fake gateway serves

        sent = bodies(shown)
        assert len(sent) >= 2
        for body in sent:
            assert body.get("allowed_mentions") == NO_PINGS
            assert sum(len(e["description"]) for e in body["embeds"]) <= 6000
            assert all(len(e["description"]) <= 4096 for e in body["embeds"])
        described = [e["description"] for body in sent for e in body["embeds"]]
        assert not any("…" in d for d in described)  # nothing shortened
        lines = [line for d in described for line in d.split("\n")]
        services, gid = env.bot.services, env.harness.guild_id
        models = (await services.jobs.provider_for(gid)).usable()
        whole = (await services.quotas.describe_policy(gid, models)).split("\n")
        assert lines == whole  # every line arrives whole, in order, in one embed
        assert len([line for line in lines if line.startswith("**gpt-image-2.5-flare** ·")]) == 5
        assert all(m["flags"] & 64 for m in shown.responses)


async def test_the_model_autocomplete_offers_what_the_server_allows_and_can_use(tmp_path):
    async with bot_env(tmp_path) as env:
        h = env.harness
        await mod(env, "settings models", {"models": "gpt-image-2, gpt-image-1, dall-e-3"})

        models = await h.autocomplete("quota user-limit", {}, focused="model", user=h.moderator_id)
        sizes = await h.autocomplete(
            "quota role", {"model": "dall-e-3"}, focused="size", user=h.moderator_id
        )
        qualities = await h.autocomplete(
            "quota server-budget", {"model": "dall-e-3"}, focused="quality", user=h.moderator_id
        )

        assert [c["value"] for c in models] == ["dall-e-3", "gpt-image-1", "gpt-image-2"]
        assert [c["value"] for c in sizes] == ["1024x1024", "1792x1024", "1024x1792"]
        assert [c["value"] for c in qualities] == ["standard", "hd"]
