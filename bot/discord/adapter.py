"""Showing progress and delivering clips on Discord, within its rules.

- A job's status message is edited at most once every few seconds (Discord throttles edits).
  An edit while it renders carries its latest live preview as the message's one attachment,
  replaced by the next; every final edit (the clip, done, failed, held) removes it.
- A clip is delivered as the interaction's own response while its token is alive (15 min) and
  this process sent it; otherwise, or after a restart, as a channel message replying to the
  request that pings the requester, and only the requester.
- The clip is re-encoded to fit the upload limit of where it goes; a 413 shrinks it further.
  The rendered file is kept: a failed upload never costs a render. A re-encode is signed again
  (content credentials), with room for the manifest left inside the limit.
- A delivery begun before a restart is looked for before it is sent again.
"""

from __future__ import annotations

import asyncio
import io
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import discord

from bot.core import DeliveryError
from bot.discord.components import clip_view, job_id_of, status_view
from bot.discord.language import texts
from bot.i18n import texts as core_texts
from engine.credentials import ClipFacts, Signing, load_signing
from engine.journal import Job, JobState
from engine.presets import get_preset

if TYPE_CHECKING:
    from bot.config import Settings

log = logging.getLogger(__name__)

DM_UPLOAD_LIMIT = 10 * 1024 * 1024
TOKEN_LIFETIME = 15 * 60
# Leave a margin: a token that expires mid-upload fails the whole upload.
TOKEN_MARGIN = 60
ACK_WAIT = 5.0


class DiscordAdapter:
    name = "discord"

    def __init__(self, bot: discord.Client, settings: Settings) -> None:
        """`bot` is the client it posts with; `settings` gives the status edit budget."""
        self.bot = bot
        self.settings = settings
        self.session = f"{time.time():.6f}"
        self._acks: dict[str, asyncio.Event] = {}
        self._last_edit: dict[int, float] = {}
        self._delay_shown: set[int] = set()
        # The preview each status message carries now, so an unchanged one is not uploaded again.
        self._preview_shown: dict[int, str] = {}

    def connected(self) -> bool:
        """Logged in with an open gateway socket (what /readyz asks of each surface).

        `is_ready()` alone stays true while the client reconnects after a dropped socket.
        """
        ws = getattr(self.bot, "ws", None)
        socket_open = ws is not None and bool(getattr(ws, "open", True))
        return self.bot.is_ready() and not self.bot.is_closed() and socket_open

    # --- acknowledgements ----------------------------------------------------------------------

    def expect_ack(self, key: str) -> None:
        """Register a reply that is about to be sent, so a fast job waits for it to exist."""
        self._acks[key] = asyncio.Event()

    def acked(self, key: str) -> None:
        event = self._acks.pop(key, None)
        if event is not None:
            event.set()

    async def _wait_ack(self, job: Job) -> None:
        event = self._acks.get(job.reply.get("ack", ""))
        if event is not None:
            try:
                await asyncio.wait_for(event.wait(), ACK_WAIT)
            except TimeoutError:
                log.warning("job %s: the request was never acknowledged", job.id)

    def reply_for_interaction(self, interaction: discord.Interaction[Any]) -> dict[str, Any]:
        key = f"i{interaction.id}"
        self.expect_ack(key)
        return {
            "kind": "interaction",
            "ack": key,
            "session": self.session,
            "application_id": interaction.application_id,
            "token": interaction.token,
            "created": interaction.created_at.timestamp(),
            "channel_id": interaction.channel_id,
            "upload_limit": interaction.filesize_limit,
        }

    def reply_for_message(self, message: discord.Message) -> dict[str, Any]:
        key = f"m{message.id}"
        self.expect_ack(key)
        limit = message.guild.filesize_limit if message.guild else DM_UPLOAD_LIMIT
        return {
            "kind": "message",
            "ack": key,
            "session": self.session,
            "channel_id": message.channel.id,
            "request_message_id": message.id,
            "upload_limit": limit,
        }

    def _token_alive(self, job: Job) -> bool:
        r = job.reply
        return (
            r.get("kind") == "interaction"
            and r.get("session") == self.session
            # Discord's clock, like `created` (the interaction's snowflake time), not the host's.
            and discord.utils.utcnow().timestamp() - float(r.get("created", 0))
            < TOKEN_LIFETIME - TOKEN_MARGIN
        )

    def _webhook(self, job: Job) -> discord.Webhook:
        r = job.reply
        return discord.Webhook.partial(int(r["application_id"]), r["token"], client=self.bot)

    async def _channel(self, job: Job) -> discord.abc.Messageable:
        channel_id = job.reply.get("channel_id") or job.channel_id
        channel = self.bot.get_channel(int(channel_id)) if channel_id else None
        if channel is None and channel_id:
            try:
                channel = await self.bot.fetch_channel(int(channel_id))
            except discord.HTTPException:
                channel = None
        if channel is None:  # a DM we have not seen since the restart
            user = await self.bot.fetch_user(int(job.user_id))
            channel = await user.create_dm()
        assert isinstance(channel, discord.abc.Messageable)
        return channel

    # --- status and progress -------------------------------------------------------------------

    async def edit_status(
        self,
        job: Job,
        content: str,
        *,
        view: discord.ui.View | None = None,
        attachments: list[discord.File] | None = None,
    ) -> None:
        """Edit the job's status message wherever it lives; a missing one is not an error.

        `attachments` replaces the message's attachments (`[]` removes them); None keeps them.
        """
        r = job.reply
        files: dict[str, Any] = {} if attachments is None else {"attachments": attachments}
        try:
            if self._token_alive(job):
                await self._webhook(job).edit_message(
                    r.get("status_message_id") or "@original", content=content, view=view, **files
                )  # type: ignore[arg-type]
            elif r.get("status_message_id"):
                channel = await self._channel(job)
                message = channel.get_partial_message(int(r["status_message_id"]))  # type: ignore[attr-defined]
                await message.edit(content=content, view=view, **files)
        except discord.HTTPException as exc:
            if not _gone(exc):
                raise

    async def on_progress(self, job: Job, step: int, total: int) -> None:
        if job.state != JobState.RUNNING:  # the clip's own edit must be the last word
            return
        if job.id in self._delay_shown:  # a late step must not hide "taking longer than usual"
            return
        await self._wait_ack(job)
        now = time.monotonic()
        if step < total and now - self._last_edit.get(job.id, 0.0) < self.settings.status_edit_seconds:
            return
        self._last_edit[job.id] = now
        line = texts.rendering_line(step, total)
        # The last step's edit comes just before the clip: a preview there would be replaced at once.
        preview = await self._new_preview(job) if step < total else None
        await self.edit_status(
            job,
            texts.status_text(job, line),
            view=status_view(job.id),
            attachments=None if preview is None else [preview],
        )

    async def _new_preview(self, job: Job) -> discord.File | None:
        """The job's live preview as an attachment, if it is one this message does not show yet."""
        path = job.preview_path
        if path is None or self._preview_shown.get(job.id) == path:
            return None
        try:
            data = await asyncio.to_thread(Path(path).read_bytes)
        except OSError:  # replaced or deleted by the worker meanwhile: the next edit brings one
            return None
        self._preview_shown[job.id] = path
        return discord.File(io.BytesIO(data), filename=texts.PREVIEW_FILENAME)

    async def on_delay(self, job: Job, text: str) -> None:
        """The bot's storage holds the rendered video up: the status says so, once (not a failure)."""
        await self._wait_ack(job)
        self._delay_shown.add(job.id)
        self._last_edit[job.id] = time.monotonic()
        await self.edit_status(job, texts.status_text(job, text), view=status_view(job.id))

    async def on_position(self, job: Job, position: int, eta_s: float) -> None:
        """The job moved up the queue: refresh '#N in queue, about M min', within the edit budget."""
        await self._wait_ack(job)
        now = time.monotonic()
        if now - self._last_edit.get(job.id, float("-inf")) < self.settings.status_edit_seconds:
            return
        self._last_edit[job.id] = now
        await self.edit_status(
            job, texts.status_text(job, core_texts.queue_line(position, eta_s)), view=status_view(job.id)
        )

    # --- delivery ------------------------------------------------------------------------------

    async def deliver(self, job: Job) -> dict[str, Any] | None:
        await self._wait_ack(job)
        self._last_edit.pop(job.id, None)
        self._delay_shown.discard(job.id)
        self._preview_shown.pop(job.id, None)
        if job.state not in (JobState.RENDERED, JobState.DELIVERED):
            return await self._notify_end(job)
        # `job` was read before begin_delivery counted this attempt: > 0 means one went before
        # (not counting the tries that told the requester their clip was held for review).
        if job.delivery_attempts > int(job.reply.get("held_notice_attempts", 0)):
            found = await self._already_sent(job)
            if found is not None:
                log.info("job %s: delivery from before the restart had gone out; not sending again", job.id)
                return {"clip_message_id": found}
        limit = int(job.reply.get("upload_limit") or DM_UPLOAD_LIMIT)
        clip = Path(job.clip_path or "")
        # Shrink from what was refused: a clip already under a stale `limit` must still get smaller.
        size = await asyncio.to_thread(lambda: clip.stat().st_size)
        budget = min(int(limit * 0.95), size)
        # Read and tried once per process (the in-process worker already did, at start-up).
        signing = await asyncio.to_thread(load_signing, self.settings)
        facts = ClipFacts.of(job.request, self.settings.bot_name)
        for shrink in (1.0, 0.7, 0.45):
            path = await asyncio.to_thread(fit_clip, clip, int(budget * shrink), signing, facts)
            try:
                return await self._send_clip(job, path)
            except discord.HTTPException as exc:
                if exc.status == 413 or exc.code == 40005:
                    log.warning("job %s: upload too large (%s bytes); shrinking", job.id, path.stat().st_size)
                    continue
                if exc.status == 429 or exc.status >= 500:
                    raise DeliveryError(texts.discord_error(exc.status), retry=True) from exc
                if isinstance(exc, discord.Forbidden):
                    raise DeliveryError(texts.NO_PERMISSION, retry=False) from exc
                # Another client error (a deleted channel, a bad request): trying the same
                # request again would only fail again, six times over.
                raise DeliveryError(texts.discord_error(exc.status), retry=False) from exc
        raise DeliveryError(texts.CLIP_TOO_LARGE, retry=False)

    async def _send_clip(self, job: Job, path: Path) -> dict[str, Any]:
        caption = texts.caption(job)
        file = discord.File(path, filename=f"promptreel-{job.id}.mp4")
        if self._token_alive(job):
            try:
                message = await self._webhook(job).edit_message(
                    job.reply.get("status_message_id") or "@original",  # type: ignore[arg-type]
                    content=caption,
                    attachments=[file],
                    view=clip_view(job.id, extendable=get_preset(job.model).frame_conditions),
                    allowed_mentions=discord.AllowedMentions.none(),
                )
                return {"clip_message_id": message.id, "via": "interaction"}
            except discord.HTTPException as exc:
                if not _gone(exc):
                    raise
                # The token died early or the response was deleted: fall back to the channel.
                file = discord.File(path, filename=f"promptreel-{job.id}.mp4")
        channel = await self._channel(job)
        reference = self._reference(job, channel)
        message = await channel.send(
            content=caption,
            file=file,
            view=clip_view(job.id, extendable=get_preset(job.model).frame_conditions),
            reference=reference,  # type: ignore[arg-type]
            # Discord drops a second message with the same nonce: a retry after a crash mid-send
            # cannot post the clip twice.
            nonce=f"promptreel-{job.id}",
            allowed_mentions=discord.AllowedMentions(
                everyone=False, roles=False, users=[discord.Object(int(job.user_id))], replied_user=True
            ),
        )
        if reference is not None or job.reply.get("status_message_id"):
            await self.edit_status(job, texts.status_text(job, texts.DONE), view=None, attachments=[])
        return {"clip_message_id": message.id, "via": "channel"}

    def _reference(self, job: Job, channel: Any) -> discord.MessageReference | None:
        r = job.reply
        target = r.get("request_message_id") or r.get("status_message_id")
        if not target or not hasattr(channel, "get_partial_message"):
            return None
        return channel.get_partial_message(int(target)).to_reference(fail_if_not_exists=False)

    async def _already_sent(self, job: Job) -> int | None:
        """Look for the clip message a delivery before the restart may have posted."""
        try:
            if self._token_alive(job):
                message = await self._webhook(job).fetch_message("@original")  # type: ignore[arg-type]
                return message.id if message.attachments else None
            channel = await self._channel(job)
            async for message in channel.history(limit=50):  # type: ignore[attr-defined]
                if (
                    message.author.id == self.bot.user.id
                    and job_id_of(message) == job.id
                    and message.attachments
                ):  # type: ignore[union-attr]
                    return message.id
        except discord.HTTPException:
            return None
        return None

    async def undeliverable(self, job: Job, reason: str) -> None:
        line = texts.undeliverable_line(reason, job.id)
        await self.edit_status(job, texts.status_text(job, line), view=None, attachments=[])

    async def _notify_end(self, job: Job) -> dict[str, Any]:
        if job.state == JobState.HELD:
            text = texts.status_text(job, core_texts.held_for_review(job.id))
            await self.edit_status(job, text, view=None, attachments=[])
            # Every try so far was this notice's: a release's clip has not been sent before.
            return {"held_notice_attempts": job.delivery_attempts + 1}
        if job.state == JobState.REJECTED:
            line = core_texts.rejected_after_review(job.id)
        else:
            line = texts.CANCELLED if job.state == JobState.CANCELLED else texts.RENDER_FAILED
        await self.edit_status(job, texts.status_text(job, line), view=None, attachments=[])
        return {}


def _gone(exc: discord.HTTPException) -> bool:
    """The message or the interaction token no longer exists (deleted, expired, unknown)."""
    return exc.status in (401, 404) or exc.code in (10008, 10015, 10062, 50027)


def fit_clip(
    path: Path, max_bytes: int, signing: Signing | None = None, facts: ClipFacts | None = None
) -> Path:
    """The clip as is if it fits, else a smaller re-encode kept next to it for later attempts,
    signed again when there are credentials: the file uploaded is the file signed."""
    from engine.credentials.fit import fit_signed

    return fit_signed(path, max_bytes, signing, facts)
