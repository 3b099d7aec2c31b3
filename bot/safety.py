"""A server's safety settings, applied to a job before anything is spent, and how they read.

- Less strict filtering (``moderation=low``) only where the server turned it on *and* the channel
  is age-restricted (a thread counts as its parent): there, a job that didn't choose gets "low";
  anywhere else a member's "low" is refused.
- Blocked words (``bot.blocklist``) in the prompt the member typed are refused, naming the word.
- The prompt check asks the provider's moderation endpoint; a flagged prompt is refused with the
  categories in plain words. A check that can't be made never blocks: the moderators are told
  once that prompts go unchecked.
- Spoilers: results outside age-restricted channels are posted as spoilers when the server wants.

``screen`` and the wording are pure; ``admit`` is the one step ``JobRunner.admit`` takes (it reads
the settings and asks the provider). Every refusal is a ``SafetyRefused``: stored as the job's
failure and posted to the moderation log.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Protocol, TypeVar

from bot import blocklist
from bot.errors import PromptBlocked, SafetyRefused, ValidationError
from bot.i18n import N_, Command, Listed, Option, Text, lazy, lazy_n
from bot.images.params import CHOICE_BY_NAME
from bot.moderation import ListAction, change_ids, quoted

if TYPE_CHECKING:
    from bot.jobs import NoticeListener, Requester
    from bot.provider import Provider
    from bot.service import JobSpec
    from bot.store import Store
    from bot.store.models import GuildSettings

log = logging.getLogger(__name__)
Refused = TypeVar("Refused", bound=SafetyRefused)

LOW = "low"
MODERATION = CHOICE_BY_NAME["moderation"]
LOW_ONLY_AGE_RESTRICTED = lazy(
    "Less strict filtering (moderation low) is only allowed in age-restricted channels on this "
    "server."
)
LOW_NOT_ALLOWED = lazy("This server doesn't allow less strict filtering (moderation low).")
LOW_RULE = lazy("moderation low outside an age-restricted channel")
BLOCKED = N_('Your prompt has "{word}" in it, which is blocked on this server.')
FLAGGED = N_(
    "This server's prompt check flagged your prompt for {categories}, so I didn't send it."
)
FLAGGED_PLAIN = N_("This server's prompt check flagged your prompt, so I didn't send it.")
CHECK_MISSING = lazy(
    "The prompt check is on, but the image service has no moderation endpoint, so prompts go "
    "unchecked. Turn it off with {command} ({option}: False).",
    command=Command("settings safety"),
    option=Option("prompt_check"),
)
# The moderation endpoint's categories as members read them (an unknown one reads as its name).
CATEGORY_WORDS = {
    "harassment": N_("harassment"),
    "harassment/threatening": N_("threats"),
    "hate": N_("hate"),
    "hate/threatening": N_("threatening hate"),
    "illicit": N_("illegal activity"),
    "illicit/violent": N_("violent wrongdoing or weapons"),
    "self-harm": N_("self-harm"),
    "self-harm/intent": N_("intent of self-harm"),
    "self-harm/instructions": N_("self-harm instructions"),
    "sexual": N_("sexual content"),
    "sexual/minors": N_("sexual content involving minors"),
    "violence": N_("violence"),
    "violence/graphic": N_("graphic violence"),
}


def spoilered(settings: GuildSettings, age_restricted: bool) -> bool:
    """Whether results in a channel are posted as spoilers (never in age-restricted channels)."""
    return settings.spoilers and not age_restricted


def low_allowed(settings: GuildSettings, age_restricted: bool) -> bool:
    """Whether ``moderation=low`` may be sent here (the one rule; menus and checks share it)."""
    return settings.low_moderation and age_restricted


def screen(
    settings: GuildSettings, who: Requester, spec: JobSpec, moderations: Collection[str] = ()
) -> JobSpec:
    """``spec`` as the server's settings allow it, or a ``SafetyRefused`` saying why not.

    ``moderations``: the model's moderation values (empty: it takes no moderation parameter).
    """
    low_here = low_allowed(settings, who.age_restricted)
    chosen = spec.params.moderation
    if chosen == LOW and not low_here:
        why = LOW_ONLY_AGE_RESTRICTED if settings.low_moderation else LOW_NOT_ALLOWED
        raise refusal(SafetyRefused, why, LOW_RULE)
    found = blocklist.find(settings.blocked_words, spec.prompt)
    if found is not None:
        raise refusal(
            PromptBlocked,
            lazy(BLOCKED, word=blocklist.plain(found.matched)),
            lazy("blocked word {word}", word=quoted(found.entry, 64)),
        )
    if (
        chosen is None
        and low_here
        and LOW in moderations
        and spec.operation in MODERATION.operations
    ):
        spec = dataclasses.replace(spec, params=spec.params.replace(moderation=LOW))
    return spec


def flagged(categories: Sequence[str]) -> PromptBlocked:
    """The refusal of a prompt the moderation endpoint flagged for ``categories``."""
    named = [
        lazy(CATEGORY_WORDS[c]) if c in CATEGORY_WORDS else c.replace("/", " ").replace("-", " ")
        for c in dict.fromkeys(categories)
    ]
    if not named:
        return refusal(PromptBlocked, lazy(FLAGGED_PLAIN), lazy("prompt check"))
    words = Listed(tuple(named))
    return refusal(
        PromptBlocked,
        lazy(FLAGGED, categories=words),
        lazy("prompt check: {categories}", categories=words),
    )


def refusal(kind: type[Refused], told: Text, rule: Text) -> Refused:
    """A safety refusal: ``told`` the member in their language, ``rule`` (what refused it) to
    the moderators in the server's, both put in a language where they are shown."""
    return kind(told, rule=rule)


# --- moderators' changes ---------------------------------------------------------------------


def set_switches(
    settings: GuildSettings,
    low_moderation: bool | None,
    spoilers: bool | None,
    prompt_check: bool | None,
) -> GuildSettings:
    """The settings with each switch that was given set (None: left as it is)."""
    if low_moderation is None and spoilers is None and prompt_check is None:
        switches = (Option("low_moderation"), Option("spoilers"), Option("prompt_check"))
        choose = lazy("Choose at least one of {options}.", options=Listed(switches, style="or"))
        raise ValidationError([choose])
    return dataclasses.replace(
        settings,
        low_moderation=settings.low_moderation if low_moderation is None else low_moderation,
        spoilers=settings.spoilers if spoilers is None else spoilers,
        prompt_check=settings.prompt_check if prompt_check is None else prompt_check,
    )


def change_blocked_words(
    settings: GuildSettings, action: ListAction, word: str | None
) -> GuildSettings:
    """The settings with ``word`` added to or removed from the blocked words, or none left."""
    item = blocklist.entry(word) if word is not None and action != "clear" else None
    shown = f'"{blocklist.plain(item)}"' if item else ""  # named only when it is there
    words = change_ids(settings.blocked_words, action, item, shown)
    if len(words) > blocklist.MAX_ENTRIES:
        full = lazy_n(
            "The list already has {count} blocked word; remove one before adding another.",
            "The list already has {count} blocked words; remove one before adding another.",
            blocklist.MAX_ENTRIES,
        )
        raise ValidationError([full])
    return dataclasses.replace(settings, blocked_words=words)


# --- the step of JobRunner.admit -------------------------------------------------------------


class Runner(Protocol):
    """What ``admit`` needs of the job runner."""

    store: Store
    notice_listeners: list[NoticeListener]

    async def provider_for(self, guild_id: int) -> Provider: ...


async def admit(runner: Runner, who: Requester, spec: JobSpec) -> JobSpec:
    """``screen`` with the server's settings, then, when it is on, the provider's prompt check;
    before a credit is reserved or anything is sent to make images."""
    settings = await runner.store.get_guild_settings(who.guild_id)
    provider = await runner.provider_for(who.guild_id)
    model = provider.spec(spec.model)
    spec = screen(settings, who, spec, model.values(MODERATION.name) if model else ())
    if settings.prompt_check and spec.prompt.strip():
        verdict = await provider.client.moderate(spec.sent_prompt())  # the preset included
        if verdict is not None and verdict.flagged:
            raise flagged(verdict.categories)
        if verdict is None and provider.client.has_moderations is False:
            await _tell(runner, who.guild_id, f"prompt-check-missing:{provider.name}")
    return spec


async def _tell(runner: Runner, guild_id: int, key: str) -> None:
    for listener in runner.notice_listeners:
        try:
            await listener(guild_id, key, CHECK_MISSING.msgid, CHECK_MISSING.values)
        except Exception:
            log.warning("A notice listener failed for guild %s", guild_id, exc_info=True)
