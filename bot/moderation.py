"""Moderation without Discord: who moderates, and checked changes to settings and policy.

Pure functions; the cogs fetch, call, save and render. Refusals are lazy ``Text`` (put in the
moderator's language where they are shown); what is described for a reply takes its reader's
``locale``. Usage and history text: bot/usage_text.py.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar

from bot import blocklist
from bot.errors import ValidationError
from bot.i18n import (
    COMMAND_CHOICE,
    N_,
    SOURCE,
    Command,
    Option,
    Text,
    Words,
    lazy,
    lazy_n,
    render,
    t,
    translate,
)
from bot.models import Catalog, ModelSpec
from bot.provider import Provider
from bot.quotas.costs import ANY, price_table
from bot.quotas.pricing import ImageCount, count_of, default_kind, offered
from bot.store import CostKey, GuildSettings, QuotaPolicy, RoleRule, Window
from bot.store.changes import describe_cost_key as describe_cost_key  # the audit trail's too

MODERATORS_ONLY = N_("Only moderators can use this command.")
ListAction = Literal["add", "remove", "clear"]
T = TypeVar("T")
RuleChoice = Literal["limit", "unlimited", "blocked", "clear"]
MAX_CREDITS = 1_000_000
# The names members know the operations by: the commands that start them.
COMMAND_OF = {"generate": "imagine", "edit": "edit", "variation": "vary"}
# How a limit's window reads after an amount: "4 credits per day".
PER_WINDOW: Mapping[Window, str] = {
    "hour": N_("per hour"),
    "day": N_("per day"),
    "week": N_("per week"),
    "month": N_("per month"),
}
NO_MODEL = N_("no model")
LEAVE_EMPTY = N_("none (leave it empty)")
ON, OFF = N_("on"), N_("off")
NO_DEFAULT = N_("None of these models can create images from a prompt ({command}).")
NEW_DEFAULT = N_("The default model is now {model} (the old one isn't allowed).")


@dataclass(frozen=True, slots=True)
class OptionChoice(Option):
    """One of an option's choices as the member's Discord shows it: the rule "limit" reads
    "лимит" in Russian."""

    def render(self, locale: str | None) -> str:
        return translate(locale, self.name, COMMAND_CHOICE) or self.name


UNLIMITED, CLEAR = Option("unlimited"), Option("clear")


def is_moderator(
    manage_guild: bool, role_ids: Iterable[int], moderator_role_ids: Iterable[int]
) -> bool:
    """Manage Server, or any role the server named a moderator role."""
    return manage_guild or not set(role_ids).isdisjoint(moderator_role_ids)


def one_line(text: str, limit: int) -> str:
    """``text`` on one line, cut to ``limit`` characters with an ellipsis when cut."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def quoted(text: str, limit: int) -> str:
    """Member text as inline code: no markdown, no mentions, never longer than ``limit``."""
    return "`" + one_line(text.replace("`", "ˋ"), limit - 2) + "`"


def _refuse(message: Text) -> ValidationError:
    return ValidationError([message])


def per_window(window: Window) -> Text:
    """ "per day", "per week"... as the reader's language says it after an amount."""
    return lazy(PER_WINDOW[window])


# --- guild settings --------------------------------------------------------------------------


def parse_models(text: str, catalog: Catalog) -> tuple[str, ...] | None:
    """A comma list of catalog models (None for "all"); unknown names are refused, all listed."""
    if text.strip().lower() in ("all", "*"):
        return None
    names = tuple(dict.fromkeys(n.strip() for n in text.replace(";", ",").split(",") if n.strip()))
    if not names:
        raise _refuse(lazy("Name at least one model (comma-separated), or `all`."))
    unknown = [n for n in names if n not in catalog]
    if unknown:
        raise _refuse(
            lazy_n(
                "Unknown model: {names}. Available: {available}.",
                "Unknown models: {names}. Available: {available}.",
                len(unknown),
                names=", ".join(unknown),
                available=", ".join(catalog.names()),
            )
        )
    return names


def allow_models(
    settings: GuildSettings, models: tuple[str, ...] | None, catalog: Catalog, bot_default: str
) -> tuple[GuildSettings, list[Text]]:
    """Settings allowing ``models``; a default model that is no longer allowed is replaced, said
    in the notes."""
    notes: list[Text] = []
    default = settings.default_model
    if models is not None and (default or bot_default) not in models:
        able = [m for m in models if catalog.get(m).supports("generate")]
        new_default = able[0] if able else None
        notes.append(
            lazy(NO_DEFAULT, command=Command("imagine"))
            if new_default is None
            else lazy(NEW_DEFAULT, model=new_default)
        )
        default = new_default
    return dataclasses.replace(settings, allowed_models=models, default_model=default), notes


def choose_default_model(
    settings: GuildSettings, model: str, catalog: Catalog, bot_default: str
) -> GuildSettings:
    """Settings with ``model`` as the server's default ("none" goes back to the bot's)."""
    allowed = settings.allowed_models
    if model.strip().lower() in ("none", "clear", "default"):
        if allowed is not None and bot_default not in allowed:
            raise _refuse(
                lazy(
                    "The bot's default, {model}, isn't allowed here: pick a model.",
                    model=bot_default,
                )
            )
        return dataclasses.replace(settings, default_model=None)
    spec = catalog.get(model.strip())  # names the available models when unknown
    if not spec.supports("generate"):
        raise _refuse(
            lazy(
                "{model} can't create images from a prompt, so it can't be the default.",
                model=spec.name,
            )
        )
    if allowed is not None and spec.name not in allowed:
        raise _not_allowed(spec.name, allowed)
    return dataclasses.replace(settings, default_model=spec.name)


def _not_allowed(model: str, allowed: Sequence[str]) -> ValidationError:
    return _refuse(not_allowed(model, allowed))


def not_allowed(model: str, allowed: Sequence[str]) -> Text:
    """Why ``model`` can't be used here: the server's list of models leaves it out."""
    if not allowed:
        return lazy("{model} isn't allowed on this server: no model is.", model=model)
    return lazy(
        "{model} isn't allowed on this server. Allowed models: {models}.",
        model=model,
        models=", ".join(allowed),
    )


def change_ids(
    current: Sequence[T], action: ListAction, item: T | None, shown: Words
) -> tuple[T, ...]:
    """Add, remove or clear an item (an id, a word) in a list; ``shown`` names it in refusals."""
    if action == "clear":
        return ()
    if item is None:
        which = N_("Say which one to add.") if action == "add" else N_("Say which one to remove.")
        raise _refuse(lazy(which))
    if action == "add":
        return tuple(dict.fromkeys([*current, item]))
    if item not in current:
        raise _refuse(lazy("{item} isn't in the list.", item=shown))
    return tuple(i for i in current if i != item)


def describe_settings(settings: GuildSettings, bot_default: str) -> Text:
    """The server's settings as moderators read them (put in the moderator's language where it
    is shown)."""
    if settings.allowed_models is None:
        models: Words = lazy("all")
    else:
        models = ", ".join(settings.allowed_models) or lazy(NO_MODEL)
    default: Words = settings.default_model or lazy(
        "{model} (the bot's default)", model=bot_default
    )
    channels = " ".join(f"<#{c}>" for c in settings.allowed_channel_ids)
    roles = " ".join(f"<@&{r}>" for r in settings.moderator_role_ids)
    log = f"<#{settings.mod_log_channel_id}>" if settings.mod_log_channel_id else None
    return lazy(
        "**Allowed models:** {models}\n"
        "**Default model:** {default}\n"
        "**Channels:** {channels}\n"
        "**Moderators:** {moderators}\n"
        "**Moderation log:** {log}\n"
        "**Less strict filtering (moderation low):** {low}\n"
        "**Results as spoilers:** {spoilers}\n"
        "**Prompt check:** {check}\n"
        "**Blocked words:** {words}",
        models=models,
        default=default,
        channels=channels or lazy("every channel"),
        moderators=lazy("members with Manage Server and {roles}", roles=roles)
        if roles
        else lazy("members with Manage Server"),
        log=log or lazy(OFF),
        low=lazy(N_("in age-restricted channels") if settings.low_moderation else N_("never")),
        spoilers=lazy(N_("outside age-restricted channels") if settings.spoilers else OFF),
        check=lazy(ON if settings.prompt_check else OFF),
        words=blocklist.shown(settings.blocked_words),
    )


# --- quota policy ----------------------------------------------------------------------------


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

    def confirm(self, who: Words, window: Window, otherwise: Words, locale: str = SOURCE) -> str:
        """ "Each member may now make 10 images of gpt-image-2 per day (...): 40 credits.", in
        ``locale`` (the moderator's); ``otherwise`` for a limit given in credits."""
        if self.images is None:
            return render(locale, otherwise)
        made = images_per(self.images, window)
        return t(locale, "{who} may now make {images}.", who=who, images=made)


def images_per(count: ImageCount, window: Window) -> Text:
    """ "10 images of gpt-image-2 per day (1024x1024, medium): 40 credits"."""
    shown = ", ".join(filter(None, (count.price.size, count.price.quality)))
    details = f" ({shown})" if shown else ""
    return lazy_n(
        "{count} image of {model} {period}{details}: {credits}",
        "{count} images of {model} {period}{details}: {credits}",
        count.images,
        model=count.kind.model,
        period=per_window(window),
        details=details,
        credits=credit_count(count.credits),
    )


def credit_count(count: int) -> Text:
    """ "1 credit", "4 credits", in the reader's language when shown."""
    return lazy_n("{count} credit", "{count} credits", count)


def given_limit(
    credits: int | None,
    images: int | None,
    model: str | None,
    size: str | None = None,
    quality: str | None = None,
) -> GivenLimit:
    """What a moderator gave, checked for what goes with what (before anything is looked up)."""
    if credits is not None and images is not None:
        raise _refuse(lazy("Give the limit either in credits or in images, not both."))
    model, size, quality = (_blank_is_none(text) for text in (model, size, quality))
    if images is not None and model is None:
        raise _refuse(
            lazy(
                "Say which model the images are of: `{images}` needs a `{model}`.",
                images=Option("images"),
                model=Option("model"),
            )
        )
    if images is None and (model or size or quality):
        raise _refuse(
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
        raise _refuse(
            lazy(
                "{model} images cost nothing on this server, so they can't measure a limit: "
                "give it in credits.",
                model=spec.name,
            )
        )
    if count.credits > MAX_CREDITS:
        raise _refuse(
            lazy_n(
                "{count} image of {model} comes to {credits}, more than the {most} a limit can be.",
                "{count} images of {model} come to {credits}, more than the {most} a limit can be.",
                count.images,
                model=spec.name,
                credits=credit_count(count.credits),
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
        raise _refuse(lazy("Unknown model '{model}'. {hint}", model=name.strip(), hint=hint))
    if allowed is not None and spec.name not in allowed:
        raise _not_allowed(spec.name, allowed)
    state = provider.state(spec)
    if not state.usable:
        raise _refuse(lazy("{model} {why}. {hint}", model=spec.name, why=state.why_not, hint=hint))
    return spec


def set_user_limit(
    policy: QuotaPolicy, credits: int | None, window: Window | None, unlimited: bool
) -> QuotaPolicy:
    """The policy with a new per-member limit (None when ``unlimited``) and window."""
    if unlimited and credits is not None:
        raise _refuse(
            lazy("Give either a limit or `{unlimited}: True`, not both.", unlimited=UNLIMITED)
        )
    if not unlimited and credits is None:
        raise _refuse(
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
        raise _refuse(lazy("Give either a budget or `{clear}: True`, not both.", clear=CLEAR))
    if not clear and credits is None:
        raise _refuse(
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
            raise _refuse(
                lazy(
                    "A `{limit}` rule needs a number of credits, or of images of a model.",
                    limit=OptionChoice("limit"),
                )
            )
        return RoleRule("limit", credits)
    if credits is not None:
        raise _refuse(
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
        raise _refuse(
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
        raise _refuse(no_quality(spec.name, quality, sorted(qualities)))


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
            return lazy("may now make {images}", images=images_per(images, window))
        spent = credit_count(rule.limit or 0)
        return lazy("may use {credits} {period}", credits=spent, period=per_window(window))
    if rule.kind == "unlimited":
        return lazy("is unlimited")
    return lazy("is blocked from making images")
