"""/verify: is this video what it says, and did this bot make it?

The attachment's declared size is checked before anything is downloaded, and the download is
checked again against the same limit. Reading the credentials, decoding the frames for a
fingerprint and hashing all run on a thread; the fingerprint look-up runs on the journal's.
The answer is private: whoever asks may be checking a clip someone else posted.

No `from __future__ import annotations` here: discord.py reads the option types from the
annotations.
"""

import asyncio
import tempfile
from pathlib import Path
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord.client import PromptreelBot
from bot.discord.language import texts
from engine.credentials import Verdict, inspect
from engine.credentials.fingerprint import MATCH_DISTANCE


def _inspect_upload(data: bytes, trust_path: Path | None) -> tuple[Verdict, list[int] | None]:
    """Blocking: written to a private temporary file, checked, and removed."""
    trust = trust_path.read_text(encoding="utf-8", errors="replace") if trust_path else None
    with tempfile.TemporaryDirectory(prefix="promptreel-verify-") as folder:
        path = Path(folder) / "upload.mp4"
        path.write_bytes(data)
        return inspect(path, trust)


class Verify(commands.Cog):
    def __init__(self, bot: PromptreelBot) -> None:
        self.bot = bot
        self.core = bot.core

    @app_commands.command(
        name="verify", description="Check a video's content credentials, and whether this bot made it"
    )
    @app_commands.describe(video="The video file to check")
    async def verify(self, interaction: discord.Interaction[Any], video: discord.Attachment) -> None:
        limit = self.bot.settings.verify_max_bytes
        if video.size > limit:
            await self.bot.send_ephemeral(interaction, texts.verify_too_large(limit))
            return
        # Downloading and decoding can take longer than the 3 s an answer may wait.
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            data = await video.read()
        except discord.HTTPException:
            await interaction.edit_original_response(content=texts.VERIFY_UNREADABLE)
            return
        if len(data) > limit:  # the CDN sent more than Discord said the file holds
            await interaction.edit_original_response(content=texts.verify_too_large(limit))
            return
        trust = self.bot.settings.resolved_c2pa_trust
        verdict, hashes = await asyncio.to_thread(_inspect_upload, data, trust)
        matches = await self.core.db.find_prints(hashes, MATCH_DISTANCE) if hashes else []
        job_id = matches[0][0] if matches else None
        await interaction.edit_original_response(content=texts.verify_answer(verdict, job_id))
