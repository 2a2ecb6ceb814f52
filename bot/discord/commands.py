"""Slash commands. Option ranges and choices come from the presets the bot serves.

No `from __future__ import annotations` here: discord.py reads the option types from the
annotations at registration time, and the ranges are built from the presets at run time.
"""

from typing import Any

import discord
from discord import app_commands

from bot.core import Answer
from bot.discord.bot import PromptreelBot
from bot.moderation import Moderation
from bot.policy import CATEGORIES
from engine.presets import PRESETS
from engine.request import MAX_SEED

ASPECTS = ["1:1", "16:9", "9:16", "4:3", "3:4", "21:9"]


def register(bot: PromptreelBot) -> None:
    tree = bot.tree
    core = bot.core
    presets = [PRESETS[name] for name in core.models]
    max_frames = max(p.max_frames for p in presets)
    max_fps = max(p.max_fps for p in presets)
    max_seconds = max(p.max_frames / 1 for p in presets)
    max_steps = max(p.max_steps for p in presets)
    max_guidance = max(p.max_guidance for p in presets)
    max_prompt = max(p.max_prompt_chars for p in presets)
    if tree.get_command("video") is not None:  # setup_hook may run again on a restarted client
        return

    async def info(interaction: discord.Interaction[Any], answer: Answer) -> None:
        await bot.answer(interaction, answer)

    @tree.command(name="video", description="Turn a prompt into a short video clip")
    @app_commands.describe(
        prompt="What should happen in the video?",
        negative="What to avoid (e.g. blurry, text)",
        seconds="Length in seconds",
        frames="Length in frames (instead of seconds)",
        fps="Frames per second",
        aspect="Shape of the video",
        steps="Denoising steps: more is slower and usually cleaner",
        guidance="How closely to follow the prompt",
        seed="Same seed + same prompt = same video",
        model="Which model renders it",
    )
    @app_commands.choices(aspect=[app_commands.Choice(name=a, value=a) for a in ASPECTS])
    async def video(
        interaction: discord.Interaction[Any],
        prompt: app_commands.Range[str, 1, max_prompt],  # type: ignore[valid-type]
        negative: app_commands.Range[str, 0, max_prompt] | None = None,  # type: ignore[valid-type]
        seconds: app_commands.Range[float, 0.1, max_seconds] | None = None,  # type: ignore[valid-type]
        frames: app_commands.Range[int, 1, max_frames] | None = None,  # type: ignore[valid-type]
        fps: app_commands.Range[int, 1, max_fps] | None = None,  # type: ignore[valid-type]
        aspect: str | None = None,
        steps: app_commands.Range[int, 1, max_steps] | None = None,  # type: ignore[valid-type]
        guidance: app_commands.Range[float, 0.0, max_guidance] | None = None,  # type: ignore[valid-type]
        seed: app_commands.Range[int, 0, MAX_SEED] | None = None,  # type: ignore[valid-type]
        model: str | None = None,
    ) -> None:
        options = {
            "negative_prompt": negative,
            "seconds": seconds,
            "frames": frames,
            "fps": fps,
            "aspect": aspect,
            "steps": steps,
            "guidance": guidance,
            "seed": seed,
            "model": model,
        }
        await bot.submit_interaction(interaction, prompt, {k: v for k, v in options.items() if v is not None})

    @video.autocomplete("model")
    async def model_autocomplete(
        _interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        return [
            app_commands.Choice(name=f"{name} — {PRESETS[name].title}"[:100], value=name)
            for name in core.models
            if current.lower() in name.lower()
        ][:25]

    @tree.command(name="queue", description="What is waiting and rendering right now")
    async def queue(interaction: discord.Interaction[Any]) -> None:
        await info(interaction, await core.queue(await bot.interaction_requester(interaction)))

    @tree.command(name="history", description="Your recent videos")
    async def history(interaction: discord.Interaction[Any]) -> None:
        await info(interaction, await core.history(await bot.interaction_requester(interaction)))

    @tree.command(name="show", description="Details of a job: prompt, model, seed, steps, render time")
    async def show(interaction: discord.Interaction[Any], job: app_commands.Range[int, 1]) -> None:  # type: ignore[valid-type]
        await info(interaction, await core.show(await bot.interaction_requester(interaction), job))

    @tree.command(name="help", description="How to make videos, with every option and limit")
    async def help_(interaction: discord.Interaction[Any]) -> None:
        await bot.send_ephemeral(interaction, core.help_text())

    @tree.command(name="stats", description="Renders so far, median render time, queue length")
    async def stats(interaction: discord.Interaction[Any]) -> None:
        await info(interaction, await core.stats())

    tree.add_command(ModGroup(bot))


class ModGroup(app_commands.Group):
    """Hidden from members without Manage Server; every action is checked again when it runs."""

    def __init__(self, bot: PromptreelBot) -> None:
        super().__init__(
            name="mod",
            description="Moderator tools",
            default_permissions=discord.Permissions(manage_guild=True),
            guild_only=True,
        )
        self.bot = bot
        self.moderation = Moderation(bot.core)

    async def _run(
        self, interaction: discord.Interaction[Any], action: str, *args: Any, **kwargs: Any
    ) -> None:
        who = await self.bot.interaction_requester(interaction)
        answer = await getattr(self.moderation, action)(who, *args, **kwargs)
        await self.bot.send_ephemeral(interaction, answer.text)

    @app_commands.command(description="Stop taking new prompts in this server")
    async def pause(self, interaction: discord.Interaction[Any]) -> None:
        await self._run(interaction, "pause")

    @app_commands.command(description="Take prompts again")
    async def resume(self, interaction: discord.Interaction[Any]) -> None:
        await self._run(interaction, "resume")

    @app_commands.command(description="Cancel every waiting job in this server")
    async def clear(self, interaction: discord.Interaction[Any]) -> None:
        await self._run(interaction, "clear")

    @app_commands.command(description="Cancel any job")
    async def cancel(self, interaction: discord.Interaction[Any], job: app_commands.Range[int, 1]) -> None:  # type: ignore[valid-type]
        await self._run(interaction, "cancel", job)

    @app_commands.command(description="Ban a member from making videos")
    async def ban(
        self,
        interaction: discord.Interaction[Any],
        user: discord.User,
        reason: str = "",
        everywhere: bool = False,
    ) -> None:
        await self._run(interaction, "ban", str(user.id), reason, everywhere=everywhere)

    @app_commands.command(description="Lift a ban")
    async def unban(
        self, interaction: discord.Interaction[Any], user: discord.User, everywhere: bool = False
    ) -> None:
        await self._run(interaction, "unban", str(user.id), everywhere=everywhere)

    @app_commands.command(description="Show or set this server's limits")
    @app_commands.describe(
        rate="Prompts per minute a member regains",
        burst="Prompts a member may send at once",
        per_user="Jobs a member may have waiting",
        per_guild="Jobs this server may have waiting",
    )
    async def limit(
        self,
        interaction: discord.Interaction[Any],
        rate: float | None = None,
        burst: int | None = None,
        per_user: int | None = None,
        per_guild: int | None = None,
    ) -> None:
        values = {"rate": rate, "burst": burst, "per_user": per_user, "per_guild": per_guild}
        await self._run(interaction, "limit", {k: str(v) for k, v in values.items() if v is not None})

    @app_commands.command(description="Blocked words for this server")
    @app_commands.choices(action=[app_commands.Choice(name=a, value=a) for a in ("add", "remove", "list")])
    async def words(self, interaction: discord.Interaction[Any], action: str, words: str = "") -> None:
        await self._run(interaction, "words", action, [w for w in words.replace(",", " ").split() if w])

    @app_commands.command(description="Turn a content category filter on or off")
    @app_commands.choices(name=[app_commands.Choice(name=c, value=c) for c in CATEGORIES])
    async def category(self, interaction: discord.Interaction[Any], name: str, enabled: bool) -> None:
        await self._run(interaction, "category", name, enabled)

    @app_commands.command(description="Recent moderator actions and refusals")
    async def audit(self, interaction: discord.Interaction[Any]) -> None:
        await self._run(interaction, "audit")

    @app_commands.command(description="Allow or refuse prompts sent by DM (bot-wide)")
    async def dms(self, interaction: discord.Interaction[Any], allowed: bool) -> None:
        await self._run(interaction, "dms", allowed)

    @app_commands.command(description="A role whose members count as moderators here")
    async def role(self, interaction: discord.Interaction[Any], role: discord.Role | None = None) -> None:
        await self._run(interaction, "mod_role", role.id if role else None)
