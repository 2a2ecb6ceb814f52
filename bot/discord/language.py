"""Discord in the member's language: the catalogue of the bot's Discord sentences, the tree that
picks the language of each command, and the translator of the commands themselves.

A member's language is their Discord app's (`Interaction.locale`), else their server's
(`guild_locale`), else the server's `/mod language`, else `PROMPTREEL_LANGUAGE`
(`Core.language_of`). Mentions and DMs carry no locale: they get the server's choice.
"""

from __future__ import annotations

import logging
from types import ModuleType
from typing import Any, Protocol

import discord
from discord import app_commands

from bot import i18n
from bot.config import Settings
from bot.core import Core
from bot.i18n import Catalogue
from bot.locales.fr import commands as fr_commands

log = logging.getLogger(__name__)

# What the Discord bot itself writes (`bot.discord.texts` in English).
texts = Catalogue("bot.discord.texts", fr="bot.locales.fr.discord")
# The slash commands' names and descriptions, keyed by the English the cogs declare them with.
COMMANDS: dict[str, ModuleType] = {"fr": fr_commands}


class Speaker(Protocol):
    """What `speak_to` reads of the bot (`PromptreelBot`)."""

    core: Core
    settings: Settings


_NAMES = (
    app_commands.TranslationContextLocation.command_name,
    app_commands.TranslationContextLocation.group_name,
)


def interaction_locales(interaction: discord.Interaction[Any]) -> tuple[object, ...]:
    """The member's app language, then their server's: what Discord tells of an interaction."""
    return (interaction.locale, interaction.guild_locale)


class CommandTranslator(app_commands.Translator):
    """Every command's name and description (and its options' descriptions) in each language
    with a catalogue; English, and anything not in the catalogue, stays as the cog wrote it."""

    async def translate(
        self,
        string: app_commands.locale_str,
        locale: discord.Locale,
        context: app_commands.TranslationContextTypes,
    ) -> str | None:
        catalogue = COMMANDS.get(i18n.supported(locale) or i18n.ENGLISH)
        if catalogue is None:
            return None
        if context.location in _NAMES:
            # Only top-level commands are renamed; a subcommand's name is the same everywhere.
            parent = getattr(context.data, "parent", None)
            return catalogue.NAMES.get(string.message) if parent is None else None
        if context.location == app_commands.TranslationContextLocation.parameter_name:
            return None
        return catalogue.DESCRIPTIONS.get(string.message)


class LanguageTree(app_commands.CommandTree[Any]):
    """Speaks each member's language for the whole of a command, before its callback runs."""

    async def interaction_check(self, interaction: discord.Interaction[Any], /) -> bool:
        await speak_to(self.client, interaction)
        return True


async def speak_to(bot: Speaker, interaction: discord.Interaction[Any]) -> str:
    """Set the language for the rest of this interaction's task, and say which it is.

    The journal may be unreachable (the server's choice is read there): the member's own
    language, or the bot's, is still better than failing the command over it.
    """
    locales = interaction_locales(interaction)
    guild_id = str(interaction.guild_id) if interaction.guild_id else None
    try:
        language = await bot.core.language_of(guild_id, *locales)
    except Exception:
        log.warning("could not read the server's language; using the member's or the bot's", exc_info=True)
        language = i18n.pick(*locales, bot.settings.language)
    i18n.use(language)
    return language
