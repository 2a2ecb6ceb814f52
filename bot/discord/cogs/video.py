"""Making videos: /video, mentions and DMs, and what the job buttons and the remix modal do.

Every way of asking for a clip ends in `queue_from` (interactions) or `on_message` (messages),
which register the reply before the core queues the job. The cog is the client's `job_actions`
while it is loaded: `bot.discord.components` hands every click and modal submission to it.

No `from __future__ import annotations` here: discord.py reads /video's option types from the
annotations, and their ranges are built at run time from the presets the bot serves.
"""

import re
from collections.abc import Awaitable, Callable
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.core import Answer
from bot.discord.client import PromptreelBot, with_note
from bot.discord.components import RemixModal, job_id_of, status_view
from bot.discord.language import texts
from bot.i18n import texts as core_texts
from engine.image import MAX_BYTES as MAX_IMAGE_BYTES
from engine.presets import PRESETS, get_preset
from engine.request import MAX_SEED, MIN_FPS, longest_seconds

ASPECTS = ["1:1", "16:9", "9:16", "4:3", "3:4", "21:9"]
# A user mention. Snowflakes have at most 20 digits: a longer run is text, and is never handed to
# int(), which is quadratic in the digits and refuses more than 4300 of them.
_MENTION = re.compile(r"<@!?([0-9]{1,20})>")


class Video(commands.Cog):
    def __init__(self, bot: PromptreelBot) -> None:
        self.bot = bot
        self.core = bot.core

    async def cog_load(self) -> None:
        # Built here, not declared on the class: its ranges depend on the models this bot serves.
        self.bot.tree.add_command(self._video_command())
        self.bot.job_actions = self

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command("video")
        if self.bot.job_actions is self:
            self.bot.job_actions = None

    def _video_command(self) -> app_commands.Command[Any, ..., None]:
        core = self.core
        presets = [PRESETS[name] for name in core.models]
        max_frames = max(p.max_frames for p in presets)
        max_fps = max(p.max_fps for p in presets)
        # Discord ranges cannot depend on another option: this is the longest clip at the lowest
        # fps; a length too long for the fps asked (or the default) is refused with that fps's limit.
        max_seconds = max(longest_seconds(p) for p in presets)
        max_steps = max(p.max_steps for p in presets)
        max_guidance = max(p.max_guidance for p in presets)
        max_prompt = max(p.max_prompt_chars for p in presets)

        @app_commands.command(name="video", description="Turn a prompt into a short video clip")
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
            image="A picture to start from (if this server allows it)",
            loop="End on the picture it starts from",
        )
        @app_commands.choices(aspect=[app_commands.Choice(name=a, value=a) for a in ASPECTS])
        async def video(
            interaction: discord.Interaction[Any],
            prompt: app_commands.Range[str, 1, max_prompt],  # type: ignore[valid-type]
            negative: app_commands.Range[str, 0, max_prompt] | None = None,  # type: ignore[valid-type]
            seconds: app_commands.Range[float, 0.1, max_seconds] | None = None,  # type: ignore[valid-type]
            frames: app_commands.Range[int, 1, max_frames] | None = None,  # type: ignore[valid-type]
            fps: app_commands.Range[int, MIN_FPS, max_fps] | None = None,  # type: ignore[valid-type]
            aspect: str | None = None,
            steps: app_commands.Range[int, 1, max_steps] | None = None,  # type: ignore[valid-type]
            guidance: app_commands.Range[float, 0.0, max_guidance] | None = None,  # type: ignore[valid-type]
            seed: app_commands.Range[int, 0, MAX_SEED] | None = None,  # type: ignore[valid-type]
            model: str | None = None,
            image: discord.Attachment | None = None,
            loop: bool | None = None,
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
                "loop": loop or None,
            }
            picture = None
            if image is not None:
                if image.size > MAX_IMAGE_BYTES:
                    await self.bot.send_ephemeral(interaction, texts.IMAGE_TOO_BIG)
                    return
                # Reading and checking a picture can outlast the 3 s an answer may take.
                await interaction.response.defer(thinking=True)
                picture = await image.read()
            await self.submit_interaction(
                interaction, prompt, {k: v for k, v in options.items() if v is not None}, image=picture
            )

        @video.autocomplete("model")
        async def model_autocomplete(
            _interaction: discord.Interaction[Any], current: str
        ) -> list[app_commands.Choice[str]]:
            return [
                app_commands.Choice(name=f"{name} — {PRESETS[name].title}"[:100], value=name)
                for name in core.models
                if current.lower() in name.lower()
            ][:25]

        return video

    # --- queueing from an interaction ----------------------------------------------------------

    async def submit_interaction(
        self,
        interaction: discord.Interaction[Any],
        prompt: str,
        options: dict[str, Any],
        image: bytes | None = None,
    ) -> None:
        who = await self.bot.interaction_requester(interaction)
        await self.queue_from(
            interaction, lambda reply: self.core.submit(who, prompt, options, reply=reply, image=image)
        )

    async def queue_from(
        self, interaction: discord.Interaction[Any], submit: Callable[[dict[str, Any]], Awaitable[Answer]]
    ) -> None:
        """Queue a job answered by this interaction: /video, re-roll and remix all go through here.

        The reply is registered before the job exists, so a render that finishes before the
        status message is posted waits for it rather than editing a message not yet there.
        """
        adapter = self.bot.adapter
        reply = adapter.reply_for_interaction(interaction)
        try:
            answer = await submit(reply)
        except BaseException:
            adapter.acked(reply["ack"])
            raise
        if answer.event != "queued":
            adapter.acked(reply["ack"])
        await self.bot.answer(interaction, answer)

    # --- mentions and DMs ----------------------------------------------------------------------

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        me = self.bot.user
        if message.author.bot or me is None:
            return
        is_dm = message.guild is None
        if not is_dm and me not in message.mentions:
            return
        my_id = str(me.id)
        text = _MENTION.sub(lambda m: "" if m.group(1) == my_id else m.group(0), message.content).strip()
        who = await self.bot.requester(message.author, message.guild, message.channel.id)
        if is_dm and not await self.core.dms_allowed():
            await message.reply(texts.DMS_OFF, mention_author=False)
            return
        if not text:
            await message.reply(self.core.help_text()[:2000], mention_author=False)
            return
        reply = self.bot.adapter.reply_for_message(message)
        try:
            parent = (
                job_id_of(message.reference.resolved)
                if message.reference and isinstance(message.reference.resolved, discord.Message)
                else None
            )
            if parent is not None:
                answer = await self.core.remix(who, parent, text, reply=reply)
            else:
                try:
                    picture = await _picture_of(message)
                except _TooBig:
                    await message.reply(texts.IMAGE_TOO_BIG, mention_author=False)
                    return
                answer = await self.core.submit_text(who, text, reply=reply, image=picture)
            if answer.event == "queued" and answer.job_id is not None:
                job = await self.core.db.get(answer.job_id)
                status = await message.reply(
                    texts.status_text(job, core_texts.queue_line(answer.position or 0, answer.eta_s or 0.0))
                    + with_note(answer),
                    view=status_view(job.id),
                    mention_author=False,
                )
                await self.core.db.update_reply(job.id, status_message_id=status.id)
            else:
                await message.reply(texts.retry_text(answer)[:2000], mention_author=False)
        finally:
            self.bot.adapter.acked(reply["ack"])

    # --- the job buttons and the remix modal (`components.JobActions`) -------------------------

    async def on_job_button(self, interaction: discord.Interaction[Any], action: str, job_id: int) -> None:
        bot, core = self.bot, self.core
        who = await bot.interaction_requester(interaction)
        banned = await core.refusal_for_banned(who)
        if banned is not None:
            await bot.send_ephemeral(interaction, banned.text)
            return
        job = await core.db.get(job_id)
        if job is None:
            await bot.send_ephemeral(interaction, texts.JOB_GONE)
            return
        if action == "info":
            await bot.send_ephemeral(interaction, (await core.show(who, job_id)).text)
            return
        if action == "report":
            await bot.send_ephemeral(interaction, (await core.report(who, job_id)).text)
            return
        mine = job.user_id == who.user_id
        # A moderator may delete or cancel what belongs to their own server, not another's.
        if not mine and not (who.moderates(job.guild_id) and action in ("delete", "cancel")):
            await bot.send_ephemeral(interaction, texts.NOT_YOURS)
            return
        if action == "reroll":
            await self.queue_from(interaction, lambda reply: core.reroll(who, job_id, reply=reply))
        elif action == "extend":
            await self.queue_from(interaction, lambda reply: core.extend(who, job_id, reply=reply))
        elif action == "remix":
            limit = get_preset(job.request.model).max_prompt_chars
            await interaction.response.send_modal(RemixModal(job_id, job.request.prompt, limit))
        elif action == "cancel":
            await bot.send_ephemeral(interaction, (await core.cancel(who, job_id)).text)
        elif action == "delete":
            if interaction.message is not None:
                await interaction.message.delete()
            await core.db.audit(
                "delete",
                actor_id=who.user_id,
                guild_id=who.guild_id,
                user_id=job.user_id,
                detail=f"job {job_id}",
            )
            await bot.send_ephemeral(interaction, texts.DELETED)

    async def on_remix_submit(self, interaction: discord.Interaction[Any], job_id: int, prompt: str) -> None:
        who = await self.bot.interaction_requester(interaction)
        await self.queue_from(interaction, lambda reply: self.core.remix(who, job_id, prompt, reply=reply))


class _TooBig(Exception):
    pass


async def _picture_of(message: discord.Message) -> bytes | None:
    """The first picture attached to a mention or DM, or None; a too-large one is never read."""
    for attachment in message.attachments:
        if (attachment.content_type or "").startswith("image/"):
            if attachment.size > MAX_IMAGE_BYTES:
                raise _TooBig
            return await attachment.read()
    return None
