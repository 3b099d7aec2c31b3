"""Command names and descriptions in every member's Discord language, from the catalogs.

discord.py wraps every command, group, option and choice string in ``locale_str`` by itself
(``auto_locale_strings``, on by default), and asks the tree's translator for each of them in
every locale when the commands are synced. So no decorator names its translation: the English
text is the id, and where it goes (a name, a menu name, a description, a choice) its msgctxt.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import discord
from discord import app_commands
from discord.app_commands import TranslationContextLocation as Where
from discord.ext import commands

from bot import i18n
from bot.i18n_catalogs import CommandString

_NAMES = {Where.command_name, Where.group_name, Where.parameter_name}
_DESCRIPTIONS = {
    Where.command_description,
    Where.group_description,
    Where.parameter_description,
}


def message_context(context: app_commands.TranslationContext[Any, Any]) -> str | None:
    """The msgctxt of a command string: which of Discord's rules its translation must keep."""
    where = context.location
    if where is Where.command_name and isinstance(context.data, app_commands.ContextMenu):
        return i18n.MENU_NAME
    if where in _NAMES:
        return i18n.COMMAND_NAME
    if where in _DESCRIPTIONS:
        return i18n.COMMAND_DESCRIPTION
    if where is Where.choice_name:
        return i18n.COMMAND_CHOICE
    return None


class CommandTranslator(app_commands.Translator):
    """Reads each command string from the catalog of the locale Discord asks for.

    English locales and anything a catalog lacks answer None: Discord then shows the English.
    """

    async def translate(
        self,
        string: app_commands.locale_str,
        locale: discord.Locale,
        context: app_commands.TranslationContext[Any, Any],
    ) -> str | None:
        where = message_context(context)
        return None if where is None else i18n.translate(locale.value, string.message, where)


class _Collector(app_commands.Translator):
    """Notes every string discord.py would have translated, with its msgctxt."""

    def __init__(self) -> None:
        self.found: dict[CommandString, None] = {}

    async def translate(
        self,
        string: app_commands.locale_str,
        locale: discord.Locale,
        context: app_commands.TranslationContext[Any, Any],
    ) -> str | None:
        where = message_context(context)
        if where is not None:
            self.found[(where, string.message)] = None
        return None


async def command_strings(tree: app_commands.CommandTree[Any]) -> list[CommandString]:
    """Every (msgctxt, English text) the command picker shows, walked as a sync walks them."""
    collector = _Collector()
    for command in tree.get_commands():
        await command.get_translated_payload(tree, collector)
    return list(collector.found)


async def load_commands(extensions: Sequence[str]) -> list[CommandString]:
    """The command strings of the cogs in ``extensions``, loaded into a bot that never connects.

    For the translators' tools only: the cogs keep a reference to the services at load time
    without using them, so a stand-in that answers anything serves.
    """
    from unittest import mock

    bot = commands.Bot(command_prefix=commands.when_mentioned, intents=discord.Intents.none())
    bot.services = mock.MagicMock()  # type: ignore[attr-defined]
    try:
        for extension in extensions:
            await bot.load_extension(extension)
        return await command_strings(bot.tree)
    finally:
        await bot.close()
