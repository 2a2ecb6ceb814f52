"""The Discord adapter: a thin layer over `bot.core` (see `bot.discord.bot`)."""

from bot.discord.bot import PromptreelBot, create_bot

__all__ = ["PromptreelBot", "create_bot"]
