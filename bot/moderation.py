"""Moderation without Discord: who moderates, checked changes to settings and policy, and the
text moderators and members read (settings, usage, history lines, moderation log entries).

The functions are pure (``Throttle`` keeps a little memory); the cogs fetch, call, save, render.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import time
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from bot.errors import ContentRejected, QuotaExceeded, ValidationError
from bot.models import Catalog
from bot.quotas import MemberUsage, UsageSummary, relative_time
from bot.quotas.costs import ANY, price_table
from bot.quotas.windows import period_words
from bot.store import CostKey, GuildSettings, Job, QuotaPolicy, Reservation, RoleRule, Window

MODERATORS_ONLY = "Only moderators can use this command."
ListAction = Literal["add", "remove", "clear"]
RuleChoice = Literal["limit", "unlimited", "blocked", "clear"]
MAX_CREDITS = 1_000_000
# The names members know the operations by: the commands that start them.
COMMAND_OF = {"generate": "imagine", "edit": "edit", "variation": "vary"}
STATUS_MARK = {
    "succeeded": "✅",
    "failed": "❌",
    "cancelled": "✖️",
    "queued": "⏳",
    "running": "🎨",
}


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
            f"Unknown model(s): {', '.join(unknown)}. Available: {', '.join(catalog.names())}."
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
        listed = ", ".join(allowed) or "none"
        raise _refuse(f"{spec.name} isn't allowed on this server. Allowed models: {listed}.")
    return dataclasses.replace(settings, default_model=spec.name)


def change_ids(
    current: Sequence[int], action: ListAction, item: int | None, shown: str
) -> tuple[int, ...]:
    """Add, remove or clear an id in a list; ``shown`` names the item in refusals."""
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
    return "\n".join(
        [
            f"**Allowed models:** {models or 'none'}",
            f"**Default model:** {default}",
            f"**Channels:** {channels}",
            f"**Moderators:** members with Manage Server{' and ' + roles if roles else ''}",
            f"**Moderation log:** {log}",
        ]
    )


# --- quota policy ----------------------------------------------------------------------------


def set_user_limit(
    policy: QuotaPolicy, credits: int | None, window: Window | None, unlimited: bool
) -> QuotaPolicy:
    """The policy with a new per-member limit (None when ``unlimited``) and window."""
    if unlimited == (credits is not None):
        raise _refuse("Give either a number of credits or `unlimited: True`.")
    return dataclasses.replace(policy, user_limit=credits, window=window or policy.window)


def set_server_budget(
    policy: QuotaPolicy, credits: int | None, window: Window | None, clear: bool
) -> QuotaPolicy:
    """The policy with a new server budget and window, or none when ``clear``."""
    if clear == (credits is not None):
        raise _refuse("Give either a number of credits or `clear: True`.")
    return dataclasses.replace(
        policy, server_budget=credits, server_window=window or policy.server_window
    )


def role_rule(rule: RuleChoice, credits: int | None) -> RoleRule | None:
    """The role override a moderator asked for (None: remove it)."""
    if rule == "limit":
        if credits is None:
            raise _refuse("A `limit` rule needs a number of credits.")
        return RoleRule("limit", credits)
    if credits is not None:
        raise _refuse(f"Credits only go with the `limit` rule, not `{rule}`.")
    return None if rule == "clear" else RoleRule(rule)


def cost_key(catalog: Catalog, model: str, size: str | None, quality: str | None) -> CostKey:
    """A checked (model, size, quality) price key; an omitted size or quality means any."""
    spec = catalog.get(model.strip())
    size, quality = (size or ANY).strip(), (quality or ANY).strip()
    sizes = {s for op in spec.operations for s in spec.sizes(op)} - {"auto"}
    if (
        size != ANY
        and size not in sizes
        and not any(spec.size_allowed(op, size) for op in spec.operations)
    ):
        raise _refuse(f"{spec.name} has no size {size}. Sizes: {', '.join(sorted(sizes))}.")
    table = price_table(spec.name)
    qualities = (set(spec.qualities) | set(table.prices if table else ())) - {"auto"}
    if quality != ANY and quality not in qualities:
        listed = ", ".join(sorted(qualities)) or "none (leave it empty)"
        raise _refuse(f"{spec.name} has no quality {quality}. Qualities: {listed}.")
    return (spec.name, size, quality)


def describe_cost_key(key: CostKey) -> str:
    """A price key as words: "gpt-image-1, any size, high quality"."""
    model, size, quality = key
    size_text = "any size" if size == ANY else size
    quality_text = "any quality" if quality == ANY else f"{quality} quality"
    return f"{model}, {size_text}, {quality_text}"


def describe_rule(rule: RoleRule | None, window: Window) -> str:
    """What a role override means, for a confirmation."""
    if rule is None:
        return "follows the member limit again"
    if rule.kind == "limit":
        return f"may use {rule.limit} credits per {window}"
    return "is unlimited" if rule.kind == "unlimited" else "is blocked from making images"


# --- usage -----------------------------------------------------------------------------------


def member_usage_text(usage: MemberUsage, price: tuple[str, int] | None = None) -> str:
    """Where a member stands: used, left, when it resets; ``price``: (model, credits per image)."""
    if usage.limit.kind == "blocked":
        return "Blocked by a role rule: no images on this server."
    window = usage.member
    period = period_words(window.window)
    if window.limit is None:
        lines = [f"Used {period}: **{window.used}** credits · no limit"]
    else:
        lines = [
            f"Used {period}: **{window.used}** of {window.limit} credits · "
            f"**{window.remaining}** left",
            f"Resets {relative_time(window.resets_at)}",
        ]
    if price is not None and window.remaining and price[1] > 0:
        model, credits = price
        lines.append(
            f"A {model} image costs {credits} credits by default: "
            f"about {window.remaining // credits} more."
        )
    if usage.limit.role_id is not None:
        lines.append(f"Limit set by the role <@&{usage.limit.role_id}>.")
    server = usage.server
    if server.limit is not None:
        lines.append(
            f"Server budget: {server.used} of {server.limit} credits used "
            f"{period_words(server.window)}, resets {relative_time(server.resets_at)}"
        )
    if usage.in_flight:
        lines.append(f"In progress: {usage.in_flight} request(s)")
    if usage.cooldown_until is not None:
        lines.append(f"Next request possible {relative_time(usage.cooldown_until)}")
    return "\n".join(lines)


def server_usage_text(summary: UsageSummary, budget_line: str | None = None) -> str:
    """A guild's spend in a window: totals, top members, by model, the busiest days."""
    lines = [
        f"**{summary.total_credits}** credits, **{summary.total_images}** images "
        f"{period_words(summary.window)} (since <t:{summary.start}:D>)"
    ]
    if budget_line:
        lines.append(budget_line)
    if summary.top_members:
        lines.append("**Top members**")
        lines += [
            f"{rank}. <@{s.key}> — {s.credits} credits, {s.images} images"
            for rank, s in enumerate(summary.top_members, start=1)
        ]
    if summary.by_model:
        lines.append("**By model**")
        lines += [f"- {s.key} — {s.credits} credits, {s.images} images" for s in summary.by_model]
    days = [(day, credits) for day, credits in summary.by_day if credits][-7:]
    if days:
        lines.append("**By day** (latest; all days in the chart)")
        lines += [f"- {day}: {credits} credits" for day, credits in days]
    return "\n".join(lines)


def members_csv(charges: Iterable[Reservation], names: Mapping[int, str]) -> bytes:
    """Credits and images per member from the ledger, biggest spender first, as CSV."""
    totals: dict[int, list[int]] = {}
    for charge in charges:
        entry = totals.setdefault(charge.user_id, [0, 0, 0])
        entry[0] += charge.charged
        entry[1] += charge.images
        entry[2] += 1
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(("user_id", "member", "credits", "images", "requests"))
    for user_id, (credits, images, requests) in sorted(
        totals.items(), key=lambda item: (-item[1][0], item[0])
    ):
        writer.writerow((user_id, names.get(user_id, ""), credits, images, requests))
    return buffer.getvalue().encode("utf-8")


# --- history and the moderation log ----------------------------------------------------------


def jump_url(guild_id: int, channel_id: int, message_id: int) -> str:
    """A link that opens a message in Discord."""
    return f"https://discord.com/channels/{guild_id}/{channel_id}/{message_id}"


def history_line(job: Job, prompt_limit: int = 90) -> str:
    """One job for /history: when, who, what, how it ended, credits, a link to the result."""
    mark = STATUS_MARK.get(job.status, "•")
    status = job.status if job.error_kind is None else f"{job.status}: {job.error_kind}"
    parts = [
        f"**#{job.id}** <t:{int(job.created_at)}:R> <@{job.user_id}>",
        f"{COMMAND_OF.get(job.operation, job.operation)} · {job.model}",
        f"{mark} {status}",
    ]
    if job.credits:
        parts.append(f"{job.credits} credits")
    if job.result_channel_id and job.result_message_id:
        url = jump_url(job.guild_id, job.result_channel_id, job.result_message_id)
        parts.append(f"[result]({url})")
    line = " · ".join(parts)
    if job.prompt:
        line += "\n> " + quoted(job.prompt, prompt_limit)
    return line


def pages(
    lines: Sequence[str], *, per_embed: int = 4000, per_message: int = 5800
) -> list[list[str]]:
    """Lines packed into messages of embed descriptions that keep Discord's length limits."""
    messages: list[list[str]] = []
    embeds: list[str] = []
    current = ""
    for raw in lines:
        line = raw if len(raw) <= per_embed else raw[: per_embed - 1] + "…"
        if current and len(current) + 1 + len(line) > per_embed:
            embeds.append(current)
            current = ""
        if sum(map(len, embeds)) + len(current) + len(line) + 1 > per_message:
            if current:
                embeds.append(current)
            messages.append(embeds)
            embeds, current = [], ""
        current = f"{current}\n{line}" if current else line
    if current:
        embeds.append(current)
    if embeds:
        messages.append(embeds)
    return messages


@dataclass(frozen=True, slots=True)
class LogEntry:
    """A post for the moderation log."""

    title: str
    description: str


def log_entry(job: Job, exc: BaseException) -> LogEntry | None:
    """What the moderation log says about a failed job (None: not worth a post)."""
    if isinstance(exc, ContentRejected):
        title = "🚫 Request refused by the image service's safety system"
    elif isinstance(exc, QuotaExceeded):
        title = "⛔ Quota reached"
    else:
        return None
    lines = [
        f"**Member:** <@{job.user_id}> in <#{job.channel_id}>",
        f"**Request:** {COMMAND_OF.get(job.operation, job.operation)} with {job.model} "
        f"(job #{job.id})",
    ]
    if job.prompt:
        lines.append(f"**Prompt:** {quoted(job.prompt, 1000)}")
    if isinstance(exc, QuotaExceeded):
        lines.append(f"**Told the member:** {exc.message}")
    return LogEntry(title, "\n".join(lines))


class Throttle:
    """Lets one event per key through per ``interval`` seconds (a bounded memory of keys)."""

    def __init__(self, interval: float, *, max_keys: int = 10_000) -> None:
        self.interval = interval
        self.max_keys = max_keys
        self._last: dict[Hashable, float] = {}

    def allow(self, key: Hashable, now: float | None = None) -> bool:
        """True (and remembered) unless ``key`` was allowed less than ``interval`` ago."""
        now = time.monotonic() if now is None else now
        last = self._last.get(key)
        if last is not None and now - last < self.interval:
            return False
        if len(self._last) >= self.max_keys:
            self._last = {k: t for k, t in self._last.items() if now - t < self.interval}
        self._last[key] = now
        return True
