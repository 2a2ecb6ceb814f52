"""`SocialSurface`: mentions in, clips out, over the core, for any network that polls.

The loop reads mentions after the saved cursor, hands each to the core with its post id (the
journal keeps (surface, post id) unique, so a mention read twice is one job) and saves the
cursor only after that job is committed: a crash re-reads, never skips. A reply begun before a
restart is looked for in the post's thread before it is sent again, and an uploaded clip is
recorded before the post that uses it, so a crash in between posts it once, without a second
upload or render. A network's 429 pauses only this surface, until its reset time.

Each network implements the calls marked "per network" below; everything else is shared.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot import i18n
from bot.config import Settings
from bot.core import Answer, Core, DeliveryError, Requester
from bot.i18n import social_texts as texts
from engine.journal import Job, JobState

log = logging.getLogger(__name__)

LONGEST_WAIT_S = 300.0
# The cursor before any mention: below every notification id and every ISO time.
FIRST_CURSOR = "0"


@dataclass(frozen=True)
class Mention:
    """One post that mentions the bot, as every network's adapter reads it."""

    post_id: str
    # Where reading resumes once this mention is taken (a notification id, an indexedAt time).
    cursor: str
    author_id: str
    handle: str
    text: str
    # What replying needs (thread refs, visibility); stored with the job.
    reply: dict[str, Any] = field(default_factory=dict)
    # Why it is ignored: "own" post, a "bot", a "repost"; the cursor still moves past it.
    skip: str | None = None
    # The language the author tagged the post with, where the network has that (Bluesky's `langs`).
    language: str | None = None


class RateLimited(Exception):
    """The network said 429; `retry_after` seconds from its reset header (or our guess)."""

    def __init__(self, retry_after: float, message: str = "rate limited") -> None:
        super().__init__(f"{message}; retry in {retry_after:.0f} s")
        self.retry_after = max(0.0, retry_after)


class MediaFailed(Exception):
    """The network could not process the uploaded clip; a later upload may work."""


class SocialSurface:
    name = "social"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.core: Core | None = None
        # Readiness: the last poll reached the network.
        self.connected = False
        self.polls = 0
        self._poke = asyncio.Event()
        self._swept_at = float("-inf")

    # --- per network --------------------------------------------------------------------------

    async def login(self) -> None:
        """Sign in (reusing a stored session where the network rate-limits creating one)."""

    async def fetch(self, cursor: str | None) -> list[Mention]:
        """Mentions after `cursor`, oldest first; with no cursor yet (the first start), the
        newest page only: the account's older history is not answered."""
        raise NotImplementedError

    async def mark_seen(self, mentions: list[Mention]) -> None:
        """Tell the network the mentions were read, where it keeps such a mark."""

    async def reply_text(self, reply: dict[str, Any], text: str, key: str) -> str:
        """Reply to the post with words only; `key` makes a retried reply the same post."""
        raise NotImplementedError

    async def exists(self, reply: dict[str, Any]) -> bool:
        """Is the post still there (not deleted)?"""
        raise NotImplementedError

    async def find_reply(self, reply: dict[str, Any]) -> str | None:
        """Our reply to the post, if one is already in its thread (a send before a restart)."""
        raise NotImplementedError

    async def max_bytes(self) -> int | None:
        """The largest video the network takes."""
        return None

    async def upload(self, job: Job, path: Path) -> dict[str, Any]:
        """Upload the clip and wait until the network processed it; raises `MediaFailed`."""
        raise NotImplementedError

    async def post_clip(self, job: Job, media: dict[str, Any]) -> str:
        """Reply to the post with the processed clip; returns the reply's id."""
        raise NotImplementedError

    async def close(self) -> None:
        """Release the network client."""

    async def refusal_before_render(self) -> str | None:
        """What to reply instead of queueing, when the clip could not be posted anyway."""
        return None

    # --- the loop ----------------------------------------------------------------------------

    def poke(self) -> None:
        """Poll now rather than at the next interval (tests, and a network's push hint)."""
        self._poke.set()

    async def run(self, core: Core) -> None:
        """Read mentions until cancelled; network faults wait and retry, they never end the loop."""
        self.core = core
        wait = self.settings.social_poll_seconds
        logged_in = False
        while True:
            try:
                if not logged_in:
                    await self.login()
                    logged_in = True
                await self.poll_once()
                self.connected = True
                wait = self.settings.social_poll_seconds
            except asyncio.CancelledError:
                raise
            except RateLimited as exc:
                log.warning("%s: %s", self.name, exc)
                wait = max(exc.retry_after, self.settings.social_poll_seconds)
            except Exception as exc:
                self.connected = False
                log.warning("%s: cannot read mentions (%s); trying again in %.0f s", self.name, exc, wait)
                wait = min(max(wait, 1.0) * 2, LONGEST_WAIT_S)
            self.polls += 1
            try:
                async with asyncio.timeout(wait):
                    await self._poke.wait()
            except TimeoutError:
                pass
            self._poke.clear()

    async def poll_once(self) -> None:
        assert self.core is not None
        db = self.core.db
        cursor = await db.cursor(self.name)
        mentions = await self.fetch(cursor)
        if cursor is None and not mentions:
            # Nothing ever mentioned us: from now on read everything after "the beginning", so
            # a burst larger than a page is read from its oldest, not its newest, mention.
            await db.save_cursor(self.name, FIRST_CURSOR)
        for mention in mentions:
            if mention.skip is None:
                await self.take(mention)
            await db.save_cursor(self.name, mention.cursor)  # after its job's commit
        if mentions:
            await self.mark_seen(mentions)
        await self.sweep_deleted()

    def requester(self, mention: Mention, language: str | None = None) -> Requester:
        """The person: their network-stable id, prefixed so they are nobody on another surface;
        the network itself is their "server", so its caps and moderators' settings apply."""
        return Requester(
            f"{self.name}:{mention.author_id}", mention.handle, self.name, None, surface=self.name,
            language=language,
        )  # fmt: skip

    async def take(self, mention: Mention) -> Answer | None:
        """Queue or refuse one mention and answer it, in the post's language where it is tagged
        with one the bot speaks, else the network's `/mod language`, else the bot's."""
        assert self.core is not None
        language = await self.core.language_of(self.name, mention.language)
        with i18n.speaking(language):  # mentions are taken one after another in one task
            return await self._take(mention, language)

    async def _take(self, mention: Mention, language: str) -> Answer | None:
        assert self.core is not None
        refusal = await self.refusal_before_render()
        if refusal is not None:
            if await self.core.db.note_post(self.name, mention.post_id):
                await self._answer(mention, refusal)
            return None
        answer = await self.core.submit_text(
            self.requester(mention, language), mention.text, post_id=mention.post_id, reply=mention.reply
        )
        # Refused before anything was recorded (bad flags): noted, so it is answered once.
        if (
            answer.event == "refused"
            and answer.job_id is None
            and not await self.core.db.note_post(self.name, mention.post_id)
        ):
            return answer
        text: str | None = None
        if answer.event == "refused":
            text = (
                texts.invalid(answer.text)
                if answer.reason == "invalid"
                else texts.refused(answer.reason or "", answer.category, answer.retry_after_s)
            )
        elif answer.event == "queued" and self.settings.social_status_replies:
            text = texts.queued(answer.position or 0, answer.eta_s or 0.0)
        if text is not None:
            await self._answer(mention, text)
        return answer

    async def _answer(self, mention: Mention, text: str) -> None:
        try:
            await self.reply_text(mention.reply, text, key=f"promptreel-{self.name}-{mention.post_id}-0")
        except Exception as exc:  # a job stands, and its clip still comes
            log.warning("%s: could not answer post %s (%s)", self.name, mention.post_id, exc)

    async def sweep_deleted(self) -> None:
        """Drop waiting jobs whose post was deleted: nobody to reply to, no render to spend."""
        assert self.core is not None
        now = asyncio.get_running_loop().time()
        if now - self._swept_at < self.settings.social_deleted_check_seconds:
            return
        self._swept_at = now
        db = self.core.db
        for job in await db.unfinished(self.name):
            if job.state == JobState.QUEUED and not await self.exists(job.reply):
                await db.update_reply(job.id, dropped="deleted")
                await db.cancel(job.id, by=f"{self.name}:deleted")
                log.info("%s: job %s dropped, its post was deleted", self.name, job.id)

    # --- delivery (the core's dispatcher calls these) ------------------------------------------

    async def on_progress(self, job: Job, step: int, total: int) -> None:
        """Networks have no message to edit: the clip is the one reply."""

    async def deliver(self, job: Job) -> dict[str, Any] | None:
        assert self.core is not None
        r = job.reply
        if r.get("dropped"):
            return {}
        try:
            if job.delivery_attempts > 0:
                found = await self.find_reply(r)
                if found is not None:
                    log.info("%s: job %s was already answered (%s)", self.name, job.id, found)
                    return {"reply_id": found, "found_after_restart": True}
            if job.state != JobState.RENDERED:
                text = texts.CANCELLED if job.state == JobState.CANCELLED else texts.FAILED
                return {"reply_id": await self.reply_text(r, text, key=self.key(job))}
            if not await self.exists(r):
                return {"dropped": "deleted"}
            media = r.get("media")
            if not media:
                path = await self._fit(job)
                media = await self.upload(job, path)
                await self.core.db.update_reply(job.id, media=media)  # before the post uses it
            return {"reply_id": await self.post_clip(job, media)}
        except RateLimited as exc:
            raise DeliveryError(str(exc), retry_after=exc.retry_after) from exc
        except MediaFailed as exc:
            raise DeliveryError(f"media processing failed: {exc}") from exc

    async def _fit(self, job: Job) -> Path:
        limit = await self.max_bytes()
        assert job.clip_path is not None
        if limit is None:
            return Path(job.clip_path)
        return await asyncio.to_thread(_fit, Path(job.clip_path), limit)

    def key(self, job: Job) -> str:
        """The job's idempotency key: a retried post with it is the same post."""
        return f"promptreel-{self.name}-{job.id}-{job.reply.get('post_id', '')}"

    async def undeliverable(self, job: Job, reason: str) -> None:
        await self.reply_text(job.reply, texts.undeliverable(reason), key=self.key(job) + "-x")


def _fit(path: Path, max_bytes: int) -> Path:
    """The clip as is if it fits, else a smaller re-encode (the size-targeted encoder)."""
    if path.stat().st_size <= max_bytes:
        return path
    from engine.encode import shrink_to_fit

    return shrink_to_fit(path, max_bytes)
