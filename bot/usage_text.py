"""What moderators and members read about usage: usage summaries, history lines, log entries.

Pure functions (``Throttle`` keeps a little memory); the cogs fetch, call and render.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from bot.errors import ContentRejected, QuotaExceeded, SafetyRefused
from bot.i18n import SOURCE, t, tn
from bot.moderation import COMMAND_OF, quoted
from bot.quotas import MemberUsage, UsageSummary, relative_time
from bot.quotas.budget import BudgetAlert
from bot.quotas.money import PRICES, Spent, dollars
from bot.quotas.policy import requests
from bot.quotas.windows import period_words
from bot.store import Job, Spend
from bot.words import credits, noun, plural

STATUS_MARK = {
    "succeeded": "✅",
    "failed": "❌",
    "cancelled": "✖️",
    "queued": "⏳",
    "running": "🎨",
}
NAME_LIMIT = 40  # Discord names are at most 32 characters; room for the quotes


def member_label(user_id: int, name: str = "") -> str:
    """A member as moderators read them: the mention, and the name they asked under if known.

    The mention alone shows as a raw id when the reader's client doesn't know the member (they
    left, or were never loaded); the name is member text, so it goes in as inline code.
    """
    mention = f"<@{user_id}>"
    return f"{mention} {quoted(name, NAME_LIMIT)}" if name else mention


def member_usage_text(usage: MemberUsage, price: tuple[str, int] | None = None) -> str:
    """Where a member stands: used, left, when it resets; ``price``: (model, credits per image)."""
    if usage.limit.kind == "blocked":
        return "Blocked by a role rule: no images on this server."
    window = usage.member
    period = period_words(window.window)
    if window.limit is None:
        lines = [
            f"Used {period}: **{window.used}** {noun(window.used, 'credit', 'credits')} · no limit"
        ]
    else:
        lines = [
            f"Used {period}: **{window.used}** of {credits(window.limit)} · "
            f"**{window.remaining}** left",
            f"Resets {relative_time(window.resets_at)}",
        ]
    if price is not None and window.remaining and price[1] > 0:
        model, each = price
        lines.append(
            f"A {model} image costs {credits(each)} by default: "
            f"about {window.remaining // each} more."
        )
    if usage.limit.role_id is not None:
        lines.append(f"Limit set by the role <@&{usage.limit.role_id}>.")
    server = usage.server
    if server.limit is not None:
        lines.append(
            f"Server budget: {server.used} of {credits(server.limit)} used "
            f"{period_words(server.window)}, resets {relative_time(server.resets_at)}"
        )
    if usage.in_flight:
        lines.append(f"In progress: {requests(usage.in_flight)}")
    if usage.cooldown_until is not None:
        lines.append(f"Next request possible {relative_time(usage.cooldown_until)}")
    return "\n".join(lines)


def money_text(
    spent: Spent,
    *,
    own_provider: bool = False,
    taken: datetime.date = PRICES.taken,
    locale: str = SOURCE,
) -> str:
    """The money beside the credits, as an estimate at list prices and saying who pays it: a
    server on its own image service pays that service, not the bot's operator."""
    amount, day = dollars(spent.usd), taken.isoformat()
    if own_provider:
        text = t(
            locale,
            "About **{amount}** at list prices of {day}, billed to this server by its own image "
            "service, not paid by the bot's operator.",
            amount=amount,
            day=day,
        )
    else:
        text = t(locale, "About **{amount}** at the provider's list prices of {day}.",
                 amount=amount, day=day)  # fmt: skip
    if spent.unpriced:
        text += " " + tn(
            locale,
            "Not counted: {count} job of models without a known price.",
            "Not counted: {count} jobs of models without a known price.",
            spent.unpriced,
        )
    return text


def server_usage_text(
    summary: UsageSummary,
    budget_line: str | None = None,
    names: Mapping[int, str] | None = None,
    *,
    own_provider: bool = False,
) -> str:
    """A guild's spend in a window: totals and their money, top members, by model, busiest days.

    ``names``: user id -> display name for the top members (see ``member_label``);
    ``own_provider``: the server pays its own image service (see ``money_text``).
    """
    names = names or {}
    lines = [
        f"**{summary.total_credits}** {noun(summary.total_credits, 'credit', 'credits')}, "
        f"**{summary.total_images}** {noun(summary.total_images, 'image', 'images')} "
        f"{period_words(summary.window)} (since <t:{summary.start}:D>)"
    ]
    if summary.total_images:
        lines.append(money_text(summary.spent, own_provider=own_provider))
    if budget_line:
        lines.append(budget_line)
    if summary.top_members:
        lines.append("**Top members**")
        lines += [
            f"{rank}. {member_label(int(s.key), names.get(int(s.key), ''))} — {_spent(s)}"
            for rank, s in enumerate(summary.top_members, start=1)
        ]
    if summary.by_model:
        lines.append("**By model**")
        lines += [
            f"- {s.key} — {_spent(s)}" + _about(summary.model_usd.get(str(s.key)))
            for s in summary.by_model
        ]
    days = [(day, spent) for day, spent in summary.by_day if spent][-7:]
    if days:
        lines.append("**By day** (latest; all days in the chart)")
        lines += [f"- {day}: {credits(spent)}" for day, spent in days]
    return "\n".join(lines)


def _spent(spend: Spend) -> str:
    return f"{credits(spend.credits)}, {plural(spend.images, 'image', 'images')}"


def _about(usd: Decimal | None) -> str:
    return "" if usd is None else f", about {dollars(usd)}"


# --- history and the moderation log ----------------------------------------------------------


def jump_url(guild_id: int, channel_id: int, message_id: int | None = None) -> str:
    """A link that opens a message (or, without one, a channel) in Discord."""
    channel = f"https://discord.com/channels/{guild_id}/{channel_id}"
    return channel if message_id is None else f"{channel}/{message_id}"


def history_line(job: Job, prompt_limit: int = 90, fallback_name: str = "") -> str:
    """One job for /history: when, who, what, how it ended, credits, a link to the result.

    Who: the name the job was asked under, else ``fallback_name`` (e.g. from a member cache).
    """
    mark = STATUS_MARK.get(job.status, "•")
    status = job.status if job.error_kind is None else f"{job.status}: {job.error_kind}"
    parts = [
        f"**#{job.id}** <t:{int(job.created_at)}:R> "
        + member_label(job.user_id, job.requester_name or fallback_name),
        f"{COMMAND_OF.get(job.operation, job.operation)} · {job.model}",
        f"{mark} {status}",
    ]
    if job.credits:
        parts.append(credits(job.credits))
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


def log_entry(
    job: Job, exc: BaseException, link: str = "", locale: str = SOURCE
) -> LogEntry | None:
    """What the moderation log says about a failed job (None: not worth a post), in the
    server's ``locale``; ``link`` opens where it was asked for (the channel, or the member's
    message). What the member was told is quoted as they read it."""
    if isinstance(exc, ContentRejected):
        title = t(locale, "🚫 Request refused by the image service's safety system")
    elif isinstance(exc, SafetyRefused):
        title = t(locale, "🚫 Request refused by this server's safety settings")
    elif isinstance(exc, QuotaExceeded):
        title = t(locale, "⛔ Quota reached")
    else:
        return None
    where = f"<#{job.channel_id}>"
    if link:
        where += " " + t(locale, "([jump]({link}))", link=link)
    member = member_label(job.user_id, job.requester_name)
    command = COMMAND_OF.get(job.operation, job.operation)
    lines = [
        t(locale, "**Member:** {member} in {where}", member=member, where=where),
        t(
            locale,
            "**Request:** {command} with {model} (job #{job})",
            command=command,
            model=job.model,
            job=job.id,
        ),
    ]
    if job.prompt:
        lines.append(t(locale, "**Prompt:** {prompt}", prompt=quoted(job.prompt, 1000)))
    if isinstance(exc, SafetyRefused) and exc.rule:
        lines.append(t(locale, "**Refused by:** {rule}", rule=exc.rule))
    if isinstance(exc, QuotaExceeded | SafetyRefused):
        lines.append(t(locale, "**Told the member:** {told}", told=exc.message))
    return LogEntry(title, "\n".join(lines))


def budget_entry(
    alert: BudgetAlert, spent: Spent, *, own_provider: bool = False, locale: str = SOURCE
) -> LogEntry:
    """The moderation log's post when the server budget reaches 80 % or 100 % in a window, in
    the server's ``locale``; ``spent``: the window's money so far."""
    resets = relative_time(alert.resets_at)
    if alert.percent >= 100:
        title = t(locale, "⛔ The server budget is used up")
        then = t(
            locale,
            "Members can't make images until it resets {when}, unless a moderator raises it "
            "with `/quota server-budget`.",
            when=resets,
        )
    else:
        title = t(locale, "💰 {percent} % of the server budget is used", percent=alert.percent)
        then = t(locale, "It resets {when}; `/quota server-budget` changes it.", when=resets)
    used = t(
        locale,
        "This server has used **{used}** of its {budget} {period} ({percent} %).",
        used=alert.used,
        budget=credits(alert.budget, locale),
        period=period_words(alert.window, locale),
        percent=alert.used_percent,
    )
    money = money_text(spent, own_provider=own_provider, locale=locale)
    return LogEntry(title, "\n".join((used, money, then)))


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
