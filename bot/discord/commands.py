"""/video. Its option ranges and choices come from the presets the bot serves.

No `from __future__ import annotations` here: discord.py reads the option types from the
annotations at registration time, and the ranges are built from the presets at run time.
"""

from typing import Any

import discord
from discord import app_commands

from bot.discord.bot import PromptreelBot
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
