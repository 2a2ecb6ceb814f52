"""Looking things up: /queue, /history, /show, /help, /stats, and /forget. The answers are the core's.

No `from __future__ import annotations` here, like every module that declares slash commands:
discord.py reads the option types from the annotations.
"""

from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord.client import PromptreelBot


class Info(commands.Cog):
    def __init__(self, bot: PromptreelBot) -> None:
        self.bot = bot
        self.core = bot.core

    @app_commands.command(name="queue", description="What is waiting and rendering right now")
    async def queue(self, interaction: discord.Interaction[Any]) -> None:
        who = await self.bot.interaction_requester(interaction)
        await self.bot.answer(interaction, await self.core.queue(who))

    @app_commands.command(name="history", description="Your recent videos")
    async def history(self, interaction: discord.Interaction[Any]) -> None:
        who = await self.bot.interaction_requester(interaction)
        await self.bot.answer(interaction, await self.core.history(who))

    @app_commands.command(
        name="show", description="Details of a job: prompt, model, seed, steps, render time"
    )
    async def show(self, interaction: discord.Interaction[Any], job: app_commands.Range[int, 1]) -> None:  # type: ignore[valid-type]
        who = await self.bot.interaction_requester(interaction)
        await self.bot.answer(interaction, await self.core.show(who, job))

    @app_commands.command(name="help", description="How to make videos, with every option and limit")
    async def help_(self, interaction: discord.Interaction[Any]) -> None:
        await self.bot.send_ephemeral(interaction, self.core.help_text())

    @app_commands.command(name="forget", description="Delete everything this bot keeps of yours, everywhere")
    @app_commands.describe(confirm="Yes: delete my prompts, videos and history now (it cannot be undone)")
    async def forget(self, interaction: discord.Interaction[Any], confirm: bool = False) -> None:
        who = await self.bot.interaction_requester(interaction)
        await self.bot.send_ephemeral(interaction, (await self.core.forget(who, confirm=confirm)).text)

    @app_commands.command(name="stats", description="Renders so far, median render time, queue length")
    async def stats(self, interaction: discord.Interaction[Any]) -> None:
        await self.bot.answer(interaction, await self.core.stats())
