"""Moderation without Discord: who moderates, and checked changes to settings and policy.

Pure functions; the cogs fetch, call, save and render. Usage and history text: bot/usage_text.py.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar

from bot import blocklist, words
from bot.errors import ValidationError
from bot.models import Catalog, ModelSpec
from bot.provider import Provider
from bot.quotas.costs import ANY, price_table
from bot.quotas.pricing import ImageCount, count_of, default_kind, offered
from bot.store import CostKey, GuildSettings, QuotaPolicy, RoleRule, Window
from bot.store.changes import describe_cost_key as describe_cost_key  # the audit trail's too

MODERATORS_ONLY = "Only moderators can use this command."
ListAction = Literal["add", "remove", "clear"]
T = TypeVar("T")
RuleChoice = Literal["limit", "unlimited", "blocked", "clear"]
MAX_CREDITS = 1_000_000
# The names members know the operations by: the commands that start them.
COMMAND_OF = {"generate": "imagine", "edit": "edit", "variation": "vary"}


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


def _refuse(message: str) -> ValidationError:
    return ValidationError([message])


# --- guild settings --------------------------------------------------------------------------


def parse_models(text: str, catalog: Catalog) -> tuple[str, ...] | None:
    """A comma list of catalog models (None for "all"); unknown names are refused, all listed."""
    if text.strip().lower() in ("all", "*"):
        return None
    names = tuple(dict.fromkeys(n.strip() for n in text.replace(";", ",").split(",") if n.strip()))
    if not names:
        raise _refuse("Name at least one model (comma-separated), or `all`.")
    unknown = [n for n in names if n not in catalog]
    if unknown:
        raise _refuse(
            f"Unknown {words.listed('model', 'models', unknown)}. "
            f"Available: {', '.join(catalog.names())}."
        )
    return names


def allow_models(
    settings: GuildSettings, models: tuple[str, ...] | None, catalog: Catalog, bot_default: str
) -> tuple[GuildSettings, list[str]]:
    """Settings allowing ``models``; a default model that is no longer allowed is replaced."""
    notes: list[str] = []
    default = settings.default_model
    if models is not None and (default or bot_default) not in models:
        able = [m for m in models if catalog.get(m).supports("generate")]
        new_default = able[0] if able else None
        if new_default is None:
            notes.append("None of these models can create images from a prompt (/imagine).")
        else:
            notes.append(f"The default model is now {new_default} (the old one isn't allowed).")
        default = new_default
    return dataclasses.replace(settings, allowed_models=models, default_model=default), notes


def choose_default_model(
    settings: GuildSettings, model: str, catalog: Catalog, bot_default: str
) -> GuildSettings:
    """Settings with ``model`` as the server's default ("none" goes back to the bot's)."""
    allowed = settings.allowed_models
    if model.strip().lower() in ("none", "clear", "default"):
        if allowed is not None and bot_default not in allowed:
            raise _refuse(f"The bot's default, {bot_default}, isn't allowed here: pick a model.")
        return dataclasses.replace(settings, default_model=None)
    spec = catalog.get(model.strip())  # names the available models when unknown
    if not spec.supports("generate"):
        raise _refuse(f"{spec.name} can't create images from a prompt, so it can't be the default.")
    if allowed is not None and spec.name not in allowed:
        raise _not_allowed(spec.name, allowed)
    return dataclasses.replace(settings, default_model=spec.name)


def _not_allowed(model: str, allowed: Sequence[str]) -> ValidationError:
    listed = ", ".join(allowed) or "none"
    return _refuse(f"{model} isn't allowed on this server. Allowed models: {listed}.")


def change_ids(
    current: Sequence[T], action: ListAction, item: T | None, shown: str
) -> tuple[T, ...]:
    """Add, remove or clear an item (an id, a word) in a list; ``shown`` names it in refusals."""
    if action == "clear":
        return ()
    if item is None:
        raise _refuse(f"Say which one to {action}.")
    if action == "add":
        return tuple(dict.fromkeys([*current, item]))
    if item not in current:
        raise _refuse(f"{shown} isn't in the list.")
    return tuple(i for i in current if i != item)


def describe_settings(settings: GuildSettings, bot_default: str) -> str:
    """The server's settings as moderators read them."""
    models = "all" if settings.allowed_models is None else ", ".join(settings.allowed_models)
    default = settings.default_model or f"{bot_default} (the bot's default)"
    channels = " ".join(f"<#{c}>" for c in settings.allowed_channel_ids) or "every channel"
    roles = " ".join(f"<@&{r}>" for r in settings.moderator_role_ids)
    log = f"<#{settings.mod_log_channel_id}>" if settings.mod_log_channel_id else "off"
    low = "in age-restricted channels" if settings.low_moderation else "never"
    spoilers = "outside age-restricted channels" if settings.spoilers else "off"
    return "\n".join(
        [
            f"**Allowed models:** {models or 'none'}",
            f"**Default model:** {default}",
            f"**Channels:** {channels}",
            f"**Moderators:** members with Manage Server{' and ' + roles if roles else ''}",
            f"**Moderation log:** {log}",
            f"**Less strict filtering (moderation low):** {low}",
            f"**Results as spoilers:** {spoilers}",
            f"**Prompt check:** {'on' if settings.prompt_check else 'off'}",
            f"**Blocked words:** {blocklist.shown(settings.blocked_words)}",
        ]
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

    def confirm(self, who: str, window: Window, otherwise: str) -> str:
        """ "Each member may now make 10 images of gpt-image-2 per day (...): 40 credits."."""
        return f"{who} may now make {self.images.describe(window)}." if self.images else otherwise


def given_limit(
    credits: int | None,
    images: int | None,
    model: str | None,
    size: str | None = None,
    quality: str | None = None,
) -> GivenLimit:
    """What a moderator gave, checked for what goes with what (before anything is looked up)."""
    if credits is not None and images is not None:
        raise _refuse("Give the limit either in credits or in images, not both.")
    model, size, quality = (_blank_is_none(text) for text in (model, size, quality))
    if images is not None and model is None:
        raise _refuse("Say which model the images are of: `images` needs a `model`.")
    if images is None and (model or size or quality):
        raise _refuse("`model`, `size` and `quality` say which images: give `images` too.")
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
            f"{spec.name} images cost nothing on this server, so they can't measure a limit: "
            "give it in credits."
        )
    if count.credits > MAX_CREDITS:
        raise _refuse(
            f"{words.plural(count.images, 'image', 'images')} of {spec.name} come to "
            f"{words.credits(count.credits)}, more than the {MAX_CREDITS} a limit can be."
        )
    return Limit(count.credits, count)


def image_model(provider: Provider, allowed: Sequence[str] | None, name: str) -> ModelSpec:
    """The model a limit in images is of: one the server allows and its provider can use."""
    spec = provider.spec(name.strip())
    here = [m.name for m in offered(provider.usable(), allowed)]
    hint = f"Models here: {', '.join(here)}." if here else "No model can be used here right now."
    if spec is None:
        raise _refuse(f"Unknown model '{name.strip()}'. {hint}")
    if allowed is not None and spec.name not in allowed:
        raise _not_allowed(spec.name, allowed)
    state = provider.state(spec)
    if not state.usable:
        raise _refuse(f"{spec.name} {state.why_not}. {hint}")
    return spec


def set_user_limit(
    policy: QuotaPolicy, credits: int | None, window: Window | None, unlimited: bool
) -> QuotaPolicy:
    """The policy with a new per-member limit (None when ``unlimited``) and window."""
    if unlimited and credits is not None:
        raise _refuse("Give either a limit or `unlimited: True`, not both.")
    if not unlimited and credits is None:
        raise _refuse(
            "Give a number of credits, a number of images of a model, or `unlimited: True`."
        )
    return dataclasses.replace(policy, user_limit=credits, window=window or policy.window)


def set_server_budget(
    policy: QuotaPolicy, credits: int | None, window: Window | None, clear: bool
) -> QuotaPolicy:
    """The policy with a new server budget and window, or none when ``clear``."""
    if clear and credits is not None:
        raise _refuse("Give either a budget or `clear: True`, not both.")
    if not clear and credits is None:
        raise _refuse("Give a number of credits, a number of images of a model, or `clear: True`.")
    return dataclasses.replace(
        policy, server_budget=credits, server_window=window or policy.server_window
    )


def role_rule(rule: RuleChoice, credits: int | None) -> RoleRule | None:
    """The role override a moderator asked for (None: remove it)."""
    if rule == "limit":
        if credits is None:
            raise _refuse("A `limit` rule needs a number of credits, or of images of a model.")
        return RoleRule("limit", credits)
    if credits is not None:
        raise _refuse(f"Credits and images only go with the `limit` rule, not `{rule}`.")
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
        raise _refuse(f"{spec.name} has no size {size}. Sizes: {', '.join(sorted(sizes))}.")
    table = price_table(spec.name)
    qualities = (set(spec.values("quality")) | set(table.prices if table else ())) - {"auto"}
    if quality != ANY and quality not in qualities:
        listed = ", ".join(sorted(qualities)) or "none (leave it empty)"
        raise _refuse(f"{spec.name} has no quality {quality}. Qualities: {listed}.")


def describe_rule(rule: RoleRule | None, window: Window, images: ImageCount | None = None) -> str:
    """What a role override means, for a confirmation (in images too when it was given so)."""
    if rule is None:
        return "follows the member limit again"
    if rule.kind == "limit":
        if images is not None:
            return f"may now make {images.describe(window)}"
        return f"may use {words.credits(rule.limit or 0)} per {window}"
    return "is unlimited" if rule.kind == "unlimited" else "is blocked from making images"


# --- usage -----------------------------------------------------------------------------------
