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
from bot.i18n import N_, SOURCE, Command, t, tn
from bot.moderation import COMMAND_OF, quoted
from bot.quotas import MemberUsage, UsageSummary, WindowUsage, relative_time
from bot.quotas.budget import BudgetAlert
from bot.quotas.money import PRICES, Spent, dollars
from bot.quotas.policy import requests
from bot.quotas.windows import period_words
from bot.store import Job, Spend
from bot.words import credits, images

STATUS_MARK = {
    "succeeded": "✅",
    "failed": "❌",
    "cancelled": "✖️",
    "queued": "⏳",
    "running": "🎨",
}
STATUS_WORDS = {
    "succeeded": N_("succeeded"),
    "failed": N_("failed"),
    "cancelled": N_("cancelled"),
    "queued": N_("queued"),
    "running": N_("running"),
}
NAME_LIMIT = 40  # Discord names are at most 32 characters; room for the quotes


def member_label(user_id: int, name: str = "") -> str:
    """A member as moderators read them: the mention, and the name they asked under if known.

    The mention alone shows as a raw id when the reader's client doesn't know the member (they
    left, or were never loaded); the name is member text, so it goes in as inline code.
    """
    mention = f"<@{user_id}>"
    return f"{mention} {quoted(name, NAME_LIMIT)}" if name else mention


def member_usage_text(
    usage: MemberUsage, price: tuple[str, int] | None = None, locale: str = SOURCE
) -> str:
    """Where a member stands, in their ``locale``: used, left, when it resets; ``price``:
    (model, credits per image)."""
    if usage.limit.kind == "blocked":
        return t(locale, "Blocked by a role rule: no images on this server.")
    window = usage.member
    period = period_words(window.window, locale)
    if window.limit is None:
        lines = [
            tn(
                locale,
                "Used {period}: **{count}** credit · no limit",
                "Used {period}: **{count}** credits · no limit",
                window.used,
                period=period,
            )
        ]
    else:
        lines = [
            tn(
                locale,
                "Used {period}: **{used}** of {count} credit · **{remaining}** left",
                "Used {period}: **{used}** of {count} credits · **{remaining}** left",
                window.limit,
                period=period,
                used=window.used,
                remaining=window.remaining,
            ),
            t(locale, "Resets {when}", when=relative_time(window.resets_at)),
        ]
    if price is not None and window.remaining and price[1] > 0:
        model, each = price
        lines.append(
            tn(
                locale,
                "A {model} image costs {credits} by default: about {count} more.",
                "A {model} image costs {credits} by default: about {count} more.",
                window.remaining // each,
                model=model,
                credits=credits(each, locale),
            )
        )
    if usage.limit.role_id is not None:
        role = f"<@&{usage.limit.role_id}>"
        lines.append(t(locale, "Limit set by the role {role}.", role=role))
    if usage.server.limit is not None:
        lines.append(budget_line(usage.server, locale))
    if usage.in_flight:
        lines.append(
            t(locale, "In progress: {requests}", requests=requests(usage.in_flight, locale))
        )
    if usage.cooldown_until is not None:
        lines.append(
            t(locale, "Next request possible {when}", when=relative_time(usage.cooldown_until))
        )
    return "\n".join(lines)


def budget_line(server: WindowUsage, locale: str = SOURCE) -> str:
    """ "Server budget: 12 of 100 credits used this month, resets <t:…:R>", in ``locale``."""
    assert server.limit is not None
    return tn(
        locale,
        "Server budget: {used} of {count} credit used {period}, resets {when}",
        "Server budget: {used} of {count} credits used {period}, resets {when}",
        server.limit,
        used=server.used,
        period=period_words(server.window, locale),
        when=relative_time(server.resets_at),
    )


def money_text(
    spent: Spent,
    *,
    own_provider: bool = False,
    taken: datetime.date = PRICES.taken,
    locale: str = SOURCE,
) -> str:
    """The money beside the credits, as an estimate at list prices and saying who pays it: a
    server on its own image service pays that service, not the bot's operator."""
    amount = dollars(spent.usd, locale)
    day = taken.isoformat()
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
    locale: str = SOURCE,
) -> str:
    """A guild's spend in a window, in the moderator's ``locale``: totals and their money, top
    members, by model, busiest days.

    ``names``: user id -> display name for the top members (see ``member_label``);
    ``own_provider``: the server pays its own image service (see ``money_text``).
    """
    names = names or {}
    lines = [
        t(
            locale,
            "{credits}, {images} {period} (since {day})",
            credits=tn(locale, "**{count}** credit", "**{count}** credits", summary.total_credits),
            images=tn(locale, "**{count}** image", "**{count}** images", summary.total_images),
            period=period_words(summary.window, locale),
            day=f"<t:{summary.start}:D>",
        )
    ]
    if summary.total_images:
        lines.append(money_text(summary.spent, own_provider=own_provider, locale=locale))
    if budget_line:
        lines.append(budget_line)
    if summary.top_members:
        lines.append(t(locale, "**Top members**"))
        lines += [
            f"{rank}. {member_label(int(s.key), names.get(int(s.key), ''))} — {_spent(s, locale)}"
            for rank, s in enumerate(summary.top_members, start=1)
        ]
    if summary.by_model:
        lines.append(t(locale, "**By model**"))
        lines += [
            f"- {s.key} — {_spent(s, locale)}" + _about(summary.model_usd.get(str(s.key)), locale)
            for s in summary.by_model
        ]
    days = [(day, spent) for day, spent in summary.by_day if spent][-7:]
    if days:
        lines.append(t(locale, "**By day** (latest; all days in the chart)"))
        lines += [f"- {day}: {credits(spent, locale)}" for day, spent in days]
    return "\n".join(lines)


def _spent(spend: Spend, locale: str) -> str:
    shown = images(spend.images, locale)
    return f"{credits(spend.credits, locale)}, {shown}"


def _about(usd: Decimal | None, locale: str) -> str:
    return "" if usd is None else ", " + t(locale, "about {amount}", amount=dollars(usd, locale))


# --- history and the moderation log ----------------------------------------------------------


def jump_url(guild_id: int, channel_id: int, message_id: int | None = None) -> str:
    """A link that opens a message (or, without one, a channel) in Discord."""
    channel = f"https://discord.com/channels/{guild_id}/{channel_id}"
    return channel if message_id is None else f"{channel}/{message_id}"


def history_line(
    job: Job, prompt_limit: int = 90, fallback_name: str = "", locale: str = SOURCE
) -> str:
    """One job for /history, in the moderator's ``locale``: when, who, what, how it ended,
    credits, a link to the result.

    Who: the name the job was asked under, else ``fallback_name`` (e.g. from a member cache).
    """
    mark = STATUS_MARK.get(job.status, "•")
    status = t(locale, STATUS_WORDS[job.status]) if job.status in STATUS_WORDS else job.status
    if job.error_kind is not None:
        status = f"{status}: {job.error_kind}"  # the kind is a stable word, as stored
    parts = [
        f"**#{job.id}** <t:{int(job.created_at)}:R> "
        + member_label(job.user_id, job.requester_name or fallback_name),
        f"{command_name(job.operation, locale)} · {job.model}",
        f"{mark} {status}",
    ]
    if job.credits:
        parts.append(credits(job.credits, locale))
    if job.result_channel_id and job.result_message_id:
        url = jump_url(job.guild_id, job.result_channel_id, job.result_message_id)
        parts.append(t(locale, "[result]({url})", url=url))
    line = " · ".join(parts)
    if job.prompt:
        line += "\n> " + quoted(job.prompt, prompt_limit)
    return line


def command_name(operation: str, locale: str = SOURCE) -> str:
    """The command that starts ``operation``, as the reader's Discord names it: "/imagine"."""
    return Command(COMMAND_OF.get(operation, operation)).render(locale)


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
    job: Job,
    exc: BaseException,
    link: str = "",
    locale: str = SOURCE,
    member_locale: str | None = None,
) -> LogEntry | None:
    """What the moderation log says about a failed job (None: not worth a post), in the
    server's ``locale``; ``link`` opens where it was asked for (the channel, or the member's
    message). What the member was told is quoted as they read it, in ``member_locale``."""
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
    command = command_name(job.operation, locale)
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
        told = exc.render(member_locale or locale)
        lines.append(t(locale, "**Told the member:** {told}", told=told))
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
            "with `{command}`.",
            when=resets,
            command=Command("quota server-budget"),
        )
    else:
        title = t(locale, "💰 {percent} % of the server budget is used", percent=alert.percent)
        then = t(
            locale,
            "It resets {when}; `{command}` changes it.",
            when=resets,
            command=Command("quota server-budget"),
        )
    used = tn(
        locale,
        "This server has used **{used}** of its {count} credit {period} ({percent} %).",
        "This server has used **{used}** of its {count} credits {period} ({percent} %).",
        alert.budget,
        used=alert.used,
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
