"""Mastodon: notifications of type mention since a saved id, and the clip as a reply.

Mastodon.py is synchronous (requests), so every call runs on a thread of its own and the loop
never waits on the network. Its rate limiter is set to throw: a 429 becomes `RateLimited` with
the time left to the `X-RateLimit-Reset` header, and only this surface waits. A reply carries
the job's idempotency key, which the server keeps for about an hour, and before a reply is
sent again after a restart the post's context is read for one of ours.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from mastodon import Mastodon, MastodonAPIError, MastodonNotFoundError, MastodonRatelimitError

from bot.config import Settings
from bot.i18n import social_texts as texts
from bot.social.mentions import html_text, prompt_of
from bot.social.surface import MediaFailed, Mention, RateLimited, SocialSurface
from bot.translation import member_prompt
from engine.journal import Job

log = logging.getLogger(__name__)
T = TypeVar("T")

# The oldest API the calls below need (v2 media, idempotency keys, instance v2).
API_VERSION = "4.3.0"
FALLBACK_RETRY_S = 60.0
# Notifications per request (the API's default; at most 80), and requests per poll.
PAGE = 40
MAX_PAGES = 5
# Visibilities kept as they are: a reply to a followers-only or direct post stays that narrow.
NARROW = ("unlisted", "private", "direct")


class MastodonAdapter(SocialSurface):
    name = "mastodon"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        token = settings.mastodon_access_token
        self.api = Mastodon(
            access_token=token.get_secret_value() if token else None,
            api_base_url=settings.mastodon_base_url,
            ratelimit_method="throw",
            mastodon_version=API_VERSION,
            version_check_mode="created",  # trust API_VERSION: no version request, v2 media
            request_timeout=60,
        )
        self.own_id: str | None = None
        self._limit: int | None = None

    async def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """One Mastodon.py call on a thread; its 429 becomes `RateLimited` until the reset."""
        try:
            return await asyncio.to_thread(functools.partial(fn, *args, **kwargs))
        except MastodonRatelimitError as exc:
            reset = self.api.ratelimit_reset
            wait = reset - time.time() if reset else FALLBACK_RETRY_S
            raise RateLimited(wait if wait > 0 else FALLBACK_RETRY_S, "Mastodon rate limit") from exc

    async def login(self) -> None:
        me = await self._call(self.api.account_verify_credentials)
        self.own_id = str(me["id"])
        instance = await self._call(self.api.instance_v2)
        media = (instance.get("configuration") or {}).get("media_attachments") or {}
        self._limit = media.get("video_size_limit")

    async def max_bytes(self) -> int | None:
        return self._limit

    async def fetch(self, cursor: str | None) -> list[Mention]:
        # min_id, not since_id: since_id answers the newest page and leaves a gap behind it when
        # more than a page arrived; min_id answers the page right after the cursor.
        mentions: list[Mention] = []
        for _ in range(MAX_PAGES):
            found = await self._call(self.api.notifications, types=["mention"], min_id=cursor, limit=PAGE)
            mentions += [self._mention(n) for n in reversed(found)]  # each page newest first
            if len(found) < PAGE:
                break
            cursor = mentions[-1].cursor
        return mentions

    def _mention(self, note: Any) -> Mention:
        status, account = note.get("status") or {}, note["account"]
        skip = None
        if str(account["id"]) == self.own_id:
            skip = "own"
        elif account.get("bot"):
            skip = "bot"
        elif not status or status.get("reblog"):
            skip = "repost"
        post_id = str(status.get("id") or note["id"])
        visibility = status.get("visibility") or "unlisted"
        return Mention(
            post_id=post_id,
            cursor=str(note["id"]),
            author_id=str(account["id"]),
            handle=account["acct"],
            text=prompt_of(html_text(status.get("content") or "")),
            reply={
                "post_id": post_id,
                # An edit after the job was queued drops it, as a deletion does.
                "edited_at": str(status.get("edited_at")),
                "acct": account["acct"],
                "visibility": visibility if visibility in NARROW else "unlisted",
            },
            skip=skip,
        )

    def _addressed(self, reply: dict[str, Any], text: str) -> str:
        """Replies name the author, or Mastodon would not notify them."""
        return f"@{reply['acct']} {text}"

    async def reply_text(self, reply: dict[str, Any], text: str, key: str) -> str:
        status = await self._call(
            self.api.status_post,
            self._addressed(reply, text),
            in_reply_to_id=reply["post_id"],
            visibility=reply["visibility"],
            idempotency_key=key,
        )
        return str(status["id"])

    async def exists(self, reply: dict[str, Any]) -> bool:
        """Still there, and as it was when its job was queued (an edited prompt is not the one
        the job renders)."""
        try:
            status = await self._call(self.api.status, reply["post_id"])
        except MastodonNotFoundError:
            return False
        return str(status.get("edited_at")) == reply.get("edited_at", "None")

    async def find_reply(self, reply: dict[str, Any]) -> str | None:
        try:
            context = await self._call(self.api.status_context, reply["post_id"])
        except MastodonNotFoundError:
            return None
        for status in context.get("descendants") or []:
            if str(status["account"]["id"]) == self.own_id and str(status.get("in_reply_to_id")) == str(
                reply["post_id"]
            ):
                return str(status["id"])
        return None

    async def upload(self, job: Job, path: Path) -> dict[str, Any]:
        try:
            media = await self._call(
                self.api.media_post,
                str(path),
                mime_type="video/mp4",
                description=texts.alt_text(member_prompt(job)),
            )
            deadline = time.monotonic() + self.settings.social_media_wait_seconds
            while media.get("url") is None:  # 202 from the upload, then 206 while processing
                if time.monotonic() > deadline:
                    raise MediaFailed("still processing after the wait")
                await asyncio.sleep(self.settings.social_media_poll_seconds)
                media = await self._call(self.api.media, media["id"])
        except MastodonAPIError as exc:  # 422 once processing failed; a 429 is RateLimited already
            raise MediaFailed(str(exc)) from exc
        return {"id": str(media["id"])}

    async def post_clip(self, job: Job, media: dict[str, Any]) -> str:
        r = job.reply
        status = await self._call(
            self.api.status_post,
            self._addressed(r, texts.clip_reply(member_prompt(job))),
            in_reply_to_id=r["post_id"],
            media_ids=[media["id"]],
            visibility=r["visibility"],
            idempotency_key=self.key(job),
        )
        return str(status["id"])
