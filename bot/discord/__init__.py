"""The Discord adapter: a thin layer over `bot.core`.

`app.create_bot` wires `client.PromptreelBot` with one cog per feature (`cogs.video`,
`cogs.info`, `cogs.mod`); `components` holds the buttons and the modal, `adapter` shows
progress and delivers clips, and `texts` holds every sentence the bot writes to users.
"""

from bot.discord.app import create_bot
from bot.discord.client import PromptreelBot

__all__ = ["PromptreelBot", "create_bot"]
