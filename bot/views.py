"""The bot's buttons: their custom ids and the views that carry them.

Every button is persistent through its custom id (cogs/buttons.py parses the ids back with the
patterns here), so the buttons keep working after a restart.
"""

from __future__ import annotations

import re

import discord

from bot.i18n import N_, t

# The buttons' labels (bot/help_text.py explains each by the same words).
REROLL_LABEL = N_("Re-roll")
EDIT_LABEL = N_("Edit")
SAVE_LABEL = N_("Save")
DELETE_LABEL = N_("Delete")
VARY_LABEL = N_("Vary")
VARY_N_LABEL = N_("Vary {number}")
TRY_AGAIN_LABEL = N_("Try again")
CHANGE_PROMPT_LABEL = N_("Change prompt")
CANCEL_LABEL = N_("Cancel")

# custom_id templates of the persistent buttons; cogs/buttons.py parses them back.
REROLL_ID = "img:reroll:{job}"
EDIT_ID = "img:edit:{job}"
DELETE_ID = "img:delete:{job}"
VARY_ID = "img:vary:{job}:{index}"
CANCEL_ID = "img:cancel:{job}"
RETRY_ID = "img:retry:{job}"
REPROMPT_ID = "img:reprompt:{job}"
DELETE_YES_ID = "img:delete-yes:{job}:{message}"
KEEP_ID = "img:keep:{job}"
STAR_ID = "img:star:{job}"
REROLL_RE = re.compile(r"img:reroll:(?P<job>\d+)")
EDIT_RE = re.compile(r"img:edit:(?P<job>\d+)")
DELETE_RE = re.compile(r"img:delete:(?P<job>\d+)")
VARY_RE = re.compile(r"img:vary:(?P<job>\d+):(?P<index>\d+)")
CANCEL_RE = re.compile(r"img:cancel:(?P<job>\d+)")
RETRY_RE = re.compile(r"img:retry:(?P<job>\d+)")
REPROMPT_RE = re.compile(r"img:reprompt:(?P<job>\d+)")
DELETE_YES_RE = re.compile(r"img:delete-yes:(?P<job>\d+):(?P<index>\d+)")
KEEP_RE = re.compile(r"img:keep:(?P<job>\d+)")
STAR_RE = re.compile(r"img:star:(?P<job>\d+)")


class ButtonsOnly(discord.ui.View):
    """Buttons sent for their look only: cogs/buttons.py's dynamic items answer the clicks.

    A plain persistent View would be kept in discord.py's view store for every message ever sent
    (memory that grows with uptime) and would fire an empty handler beside the real one.
    """

    def __init__(self) -> None:
        super().__init__(timeout=None)

    def is_dispatchable(self) -> bool:
        return False


def result_view(
    job_id: int, image_count: int, *, can_vary: bool, locale: str = "en"
) -> discord.ui.View:
    """Re-roll, Edit, Save, Delete, and one Vary per image (up to five, a row of their own);
    persistent through their custom ids."""
    view = ButtonsOnly()
    view.add_item(_button(t(locale, REROLL_LABEL), REROLL_ID.format(job=job_id), "🔁", row=0))
    view.add_item(_button(t(locale, EDIT_LABEL), EDIT_ID.format(job=job_id), "✏️", row=0))
    view.add_item(_button(t(locale, SAVE_LABEL), STAR_ID.format(job=job_id), "⭐", row=0))
    view.add_item(
        _button(
            t(locale, DELETE_LABEL),
            DELETE_ID.format(job=job_id),
            "🗑️",
            row=0,
            style=discord.ButtonStyle.danger,
        )
    )
    if can_vary:
        for index in range(min(image_count, 5)):
            label = (
                t(locale, VARY_LABEL)
                if image_count == 1
                else t(locale, VARY_N_LABEL, number=index + 1)
            )
            view.add_item(_button(label, VARY_ID.format(job=job_id, index=index), "🔀", row=1))
    return view


def _button(
    label: str,
    custom_id: str,
    emoji: str,
    *,
    row: int,
    style: discord.ButtonStyle = discord.ButtonStyle.secondary,
) -> discord.ui.Button[discord.ui.View]:
    return discord.ui.Button(label=label, custom_id=custom_id, emoji=emoji, row=row, style=style)


def reroll_view(job_id: int, locale: str = "en") -> discord.ui.View:
    """Re-roll alone: for a job whose images are gone, to make new ones with its settings."""
    view = ButtonsOnly()
    view.add_item(_button(t(locale, REROLL_LABEL), REROLL_ID.format(job=job_id), "🔁", row=0))
    return view


def failure_view(job_id: int, *, has_prompt: bool, locale: str = "en") -> discord.ui.View:
    """Try again with the same settings, and (with a prompt) Change prompt; both persistent."""
    view = ButtonsOnly()
    view.add_item(
        _button(
            t(locale, TRY_AGAIN_LABEL),
            RETRY_ID.format(job=job_id),
            "🔁",
            row=0,
            style=discord.ButtonStyle.primary,
        )
    )
    if has_prompt:
        view.add_item(
            _button(t(locale, CHANGE_PROMPT_LABEL), REPROMPT_ID.format(job=job_id), "✏️", row=0)
        )
    return view


def delete_confirm_view(job_id: int, message_id: int, locale: str = "en") -> discord.ui.View:
    """Yes, delete / Keep, under the private question Delete asks."""
    view = ButtonsOnly()
    yes = DELETE_YES_ID.format(job=job_id, message=message_id)
    danger = discord.ButtonStyle.danger
    view.add_item(_button(t(locale, "Yes, delete"), yes, "🗑️", row=0, style=danger))
    view.add_item(_button(t(locale, "Keep"), KEEP_ID.format(job=job_id), "↩️", row=0))
    return view


def cancel_view(job_id: int, locale: str = "en") -> discord.ui.View:
    """The Cancel button shown while a job is queued."""
    view = ButtonsOnly()
    view.add_item(_button(t(locale, CANCEL_LABEL), CANCEL_ID.format(job=job_id), "✖️", row=0))
    return view
