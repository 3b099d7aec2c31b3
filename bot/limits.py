"""A moderator's limits, budgets, role rules and prices: what they typed, checked, and put in
credits as the quotas store them (bot/quotas), with the words that confirm them.

Pure functions, like bot/moderation.py (the server's settings); the quota cog fetches, calls,
saves and renders. Refusals are lazy ``Text``, put in the moderator's language where shown.
"""

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot import words
from bot.i18n import (
    Option,
    Text,
    Words,
    lazy,
    lazy_n,
)
from bot.models import Catalog, ModelSpec
from bot.moderation import (
    CLEAR,
    LEAVE_EMPTY,
    MAX_CREDITS,
    UNLIMITED,
    OptionChoice,
    RuleChoice,
    not_allowed,
    per_window,
    refusal,
)
from bot.provider import Provider
from bot.quotas.costs import ANY, price_table
from bot.quotas.pricing import ImageCount, count_of, default_kind, offered
from bot.store import CostKey, QuotaPolicy, RoleRule, Window

MAX_IMAGES = 100_000


@dataclass(frozen=True, slots=True)
class GivenLimit:
    """A limit as a moderator typed it: credits, or a number of images of a model."""

    credits: int | None = None
    images: int | None = None
    model: str | None = None
    size: str | None = None
    quality: str | None = None


@dataclass(frozen=True, slots=True)
class Limit:
    """A limit in credits, as it is stored, and the images it was given in (None: in credits)."""

    credits: int | None
    images: ImageCount | None = None

    def changed(self, window: Window, *, server: bool) -> Text:
        """The confirmation of this limit being set, for the member limit or the server's
        budget: "Each member may now make 10 images of gpt-image-2 per day (...): 40 credits."
        when it was given in images."""
        if self.images is None:
            return lazy("Server budget changed.") if server else lazy("Member limit changed.")
        images = self.images.describe(window)
        if server:
            return lazy("The server may now make {images}.", images=images)
        return lazy("Each member may now make {images}.", images=images)


def given_limit(
    credits: int | None,
    images: int | None,
    model: str | None,
    size: str | None = None,
    quality: str | None = None,
) -> GivenLimit:
    """What a moderator gave, checked for what goes with what (before anything is looked up)."""
    if credits is not None and images is not None:
        raise refusal(lazy("Give the limit either in credits or in images, not both."))
    model, size, quality = (_blank_is_none(text) for text in (model, size, quality))
    if images is not None and model is None:
        raise refusal(
            lazy(
                "Say which model the images are of: `{images}` needs a `{model}`.",
                images=Option("images"),
                model=Option("model"),
            )
        )
    if images is None and (model or size or quality):
        raise refusal(
            lazy(
                "`{model}`, `{size}` and `{quality}` say which images: give `{images}` too.",
                model=Option("model"),
                size=Option("size"),
                quality=Option("quality"),
                images=Option("images"),
            )
        )
    return GivenLimit(credits, images, model, size, quality)


def _blank_is_none(text: str | None) -> str | None:
    return (text or "").strip() or None


def limit_in_credits(
    given: GivenLimit,
    provider: Provider,
    allowed: Sequence[str] | None,
    overrides: Mapping[CostKey, int],
) -> Limit:
    """The limit in credits: images are priced like a job of that model, size and quality with
    the server's prices (what a member gets when they pick nothing, unless size/quality say)."""
    if given.images is None or given.model is None:
        return Limit(given.credits)
    spec = image_model(provider, allowed, given.model)
    size = given.size
    quality = None if given.quality == "auto" else given.quality  # what members get: the default
    _check_size_quality(spec, size or ANY, quality or ANY)
    count = count_of(given.images, default_kind(spec, size, quality), overrides)
    if count.price.credits == 0 and count.images:
        raise refusal(
            lazy(
                "{model} images cost nothing on this server, so they can't measure a limit: "
                "give it in credits.",
                model=spec.name,
            )
        )
    if count.credits > MAX_CREDITS:
        raise refusal(
            lazy_n(
                "{count} image of {model} comes to {credits}, more than the {most} a limit can be.",
                "{count} images of {model} come to {credits}, more than the {most} a limit can be.",
                count.images,
                model=spec.name,
                credits=words.credit_count(count.credits),
                most=MAX_CREDITS,
            )
        )
    return Limit(count.credits, count)


def image_model(provider: Provider, allowed: Sequence[str] | None, name: str) -> ModelSpec:
    """The model a limit in images is of: one the server allows and its provider can use."""
    spec = provider.spec(name.strip())
    here = [m.name for m in offered(provider.usable(), allowed)]
    hint = (
        lazy("Models here: {models}.", models=", ".join(here))
        if here
        else lazy("No model can be used here right now.")
    )
    if spec is None:
        raise refusal(lazy("Unknown model '{model}'. {hint}", model=name.strip(), hint=hint))
    if allowed is not None and spec.name not in allowed:
        raise refusal(not_allowed(spec.name, allowed))
    state = provider.state(spec)
    if not state.usable:
        raise refusal(lazy("{model} {why}. {hint}", model=spec.name, why=state.why_not, hint=hint))
    return spec


def set_user_limit(
    policy: QuotaPolicy, credits: int | None, window: Window | None, unlimited: bool
) -> QuotaPolicy:
    """The policy with a new per-member limit (None when ``unlimited``) and window."""
    if unlimited and credits is not None:
        raise refusal(
            lazy("Give either a limit or `{unlimited}: True`, not both.", unlimited=UNLIMITED)
        )
    if not unlimited and credits is None:
        raise refusal(
            lazy(
                "Give a number of credits, a number of images of a model, or `{unlimited}: True`.",
                unlimited=UNLIMITED,
            )
        )
    return dataclasses.replace(policy, user_limit=credits, window=window or policy.window)


def set_server_budget(
    policy: QuotaPolicy, credits: int | None, window: Window | None, clear: bool
) -> QuotaPolicy:
    """The policy with a new server budget and window, or none when ``clear``."""
    if clear and credits is not None:
        raise refusal(lazy("Give either a budget or `{clear}: True`, not both.", clear=CLEAR))
    if not clear and credits is None:
        raise refusal(
            lazy(
                "Give a number of credits, a number of images of a model, or `{clear}: True`.",
                clear=CLEAR,
            )
        )
    return dataclasses.replace(
        policy, server_budget=credits, server_window=window or policy.server_window
    )


def role_rule(rule: RuleChoice, credits: int | None) -> RoleRule | None:
    """The role override a moderator asked for (None: remove it)."""
    if rule == "limit":
        if credits is None:
            raise refusal(
                lazy(
                    "A `{limit}` rule needs a number of credits, or of images of a model.",
                    limit=OptionChoice("limit"),
                )
            )
        return RoleRule("limit", credits)
    if credits is not None:
        raise refusal(
            lazy(
                "Credits and images only go with the `{limit}` rule, not `{rule}`.",
                limit=OptionChoice("limit"),
                rule=OptionChoice(rule),
            )
        )
    return None if rule == "clear" else RoleRule(rule)


def cost_key(catalog: Catalog, model: str, size: str | None, quality: str | None) -> CostKey:
    """A checked (model, size, quality) price key; an omitted size or quality means any."""
    spec = catalog.get(model.strip())
    size, quality = (size or ANY).strip(), (quality or ANY).strip()
    _check_size_quality(spec, size, quality)
    return (spec.name, size, quality)


def _check_size_quality(spec: ModelSpec, size: str, quality: str) -> None:
    """Refuse a size or quality ``spec`` doesn't have ("*": any passes)."""
    sizes = {s for op in spec.operations for s in spec.sizes(op)} - {"auto"}
    if (
        size != ANY
        and size not in sizes
        and not any(spec.size_allowed(op, size) for op in spec.operations)
    ):
        raise refusal(
            lazy(
                "{model} has no size {size}. Sizes: {sizes}.",
                model=spec.name,
                size=size,
                sizes=", ".join(sorted(sizes)),
            )
        )
    table = price_table(spec.name)
    qualities = (set(spec.values("quality")) | set(table.prices if table else ())) - {"auto"}
    if quality != ANY and quality not in qualities:
        raise refusal(no_quality(spec.name, quality, sorted(qualities)))


def no_quality(model: str, quality: str, qualities: Sequence[str]) -> Text:
    """ "dall-e-3 has no quality high. Qualities: hd, standard."."""
    listed: Words = ", ".join(qualities) or lazy(LEAVE_EMPTY)
    return lazy(
        "{model} has no quality {quality}. Qualities: {qualities}.",
        model=model,
        quality=quality,
        qualities=listed,
    )


def describe_rule(rule: RoleRule | None, window: Window, images: ImageCount | None = None) -> Text:
    """What a role override means, completing "@role ..." in a confirmation (in images too when
    it was given so)."""
    if rule is None:
        return lazy("follows the member limit again")
    if rule.kind == "limit":
        if images is not None:
            return lazy("may now make {images}", images=images.describe(window))
        spent = words.credit_count(rule.limit or 0)
        return lazy("may use {credits} {period}", credits=spent, period=per_window(window))
    if rule.kind == "unlimited":
        return lazy("is unlimited")
    return lazy("is blocked from making images")
