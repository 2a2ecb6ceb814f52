"""Bluesky: notifications (mention, reply) newer than the saved indexedAt, clips as thread replies.

- The session is created once and stored in the journal (`createSession` allows 30 per 5 min):
  a restart imports it, and atproto refreshes it; every refresh is stored again.
- The prompt is the post's text without the bytes of our mention's facet (handles may be
  spelled in any case or form); a reply is read as a prompt only when it mentions us.
- A reply's `ReplyRef` has the mention as parent and the thread's root as root.
- Clips go through the video service (service auth -> `uploadVideo` -> `getJobStatus` until a
  blob), after `getUploadLimits` says the account may upload; where the service cannot be
  reached, `uploadBlob` with an `app.bsky.embed.video` embed instead. The alt text is the prompt.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from atproto import AsyncClient, models
from atproto_client.exceptions import BadRequestError, RateLimitExceededError, RequestErrorBase
from atproto_client.models.blob_ref import BlobRef

from bot.bluesky.video import VideoService, VideoUnavailable
from bot.config import Settings
from bot.i18n import social_texts as texts
from bot.social.mentions import prompt_of, without_byte_ranges
from bot.social.surface import Mention, RateLimited, SocialSurface
from bot.translation import member_prompt
from engine.journal import Job

log = logging.getLogger(__name__)

SESSION_KEY = "bluesky:session"
PAGE = 50
MAX_PAGES = 5
FALLBACK_RETRY_S = 60.0
# The embed lexicon's limit; the video service's own limits are asked for before each upload.
MAX_VIDEO_BYTES = 100 * 1024 * 1024


class BlueskyAdapter(SocialSurface):
    name = "bluesky"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.client = AsyncClient(base_url=settings.bluesky_base_url)
        self.client.on_session_change(self._session_changed)
        self.video = VideoService(settings.bluesky_video_url)
        self.did: str | None = None

    async def _session_changed(self, event: Any, session: Any) -> None:
        if self.core is not None:
            await self.core.db.set_value(SESSION_KEY, self.client.export_session_string())

    async def _call(self, awaitable: Any) -> Any:
        """An atproto call; its 429 becomes `RateLimited` until the `ratelimit-reset` time."""
        try:
            return await awaitable
        except RateLimitExceededError as exc:
            reset = exc.reset_at
            wait = (reset.timestamp() - time.time()) if reset else FALLBACK_RETRY_S
            raise RateLimited(wait if wait > 0 else FALLBACK_RETRY_S, "Bluesky rate limit") from exc

    async def login(self) -> None:
        assert self.core is not None
        stored = await self.core.db.get_value(SESSION_KEY)
        if stored:
            try:
                await self._call(self.client.login(session_string=stored, fetch_bsky_profile=False))
                # One cheap call proves the stored session (atproto refreshes it if it must).
                await self._call(self.client.com.atproto.server.get_session())
                self.did = self.client._session.did  # atproto keeps the DID on its session
                return
            except RateLimited:
                raise
            except RequestErrorBase as exc:
                log.info("bluesky: the stored session no longer works (%s); signing in again", exc)
        password = self.settings.bluesky_app_password
        handle = self.settings.bluesky_handle
        if not handle or password is None:
            raise RuntimeError("PROMPTREEL_BLUESKY_HANDLE and PROMPTREEL_BLUESKY_APP_PASSWORD are not set")
        await self._call(self.client.login(handle, password.get_secret_value(), fetch_bsky_profile=False))
        self.did = self.client._session.did

    async def close(self) -> None:
        await self.video.close()

    # --- reading -----------------------------------------------------------------------------

    async def fetch(self, cursor: str | None) -> list[Mention]:
        """Newest first from the API, paged back to the saved indexedAt; answered oldest first."""
        found: list[Any] = []
        page_cursor = None
        for _ in range(MAX_PAGES):
            page = await self._call(
                self.client.app.bsky.notification.list_notifications(
                    params={"reasons": ["mention", "reply"], "limit": PAGE, "cursor": page_cursor}
                )
            )
            fresh = [n for n in page.notifications if cursor is None or n.indexed_at >= cursor]
            found += fresh
            page_cursor = page.cursor
            if len(fresh) < len(page.notifications) or not page_cursor:
                break
        found.sort(key=lambda n: n.indexed_at)
        self._newest = found[-1].indexed_at if found else None
        return [self._mention(n) for n in found]

    async def mark_seen(self, mentions: list[Mention]) -> None:
        seen = self._newest or datetime.now(UTC).isoformat()
        await self._call(self.client.app.bsky.notification.update_seen({"seen_at": seen}))

    def _mention(self, note: Any) -> Mention:
        record = note.record
        own = [
            (facet.index.byte_start, facet.index.byte_end)
            for facet in getattr(record, "facets", None) or []
            for feature in facet.features
            if getattr(feature, "did", None) == self.did
        ]
        skip = None
        if note.author.did == self.did:
            skip = "own"
        elif any(label.val == "bot" for label in note.author.labels or []):
            skip = "bot"
        elif note.reason == "reply" and not own:
            skip = "not addressed"  # a reply in a thread of ours that does not ask for anything
        parent = {"uri": note.uri, "cid": note.cid}
        reply = getattr(record, "reply", None)
        root = {"uri": reply.root.uri, "cid": reply.root.cid} if reply else parent
        return Mention(
            post_id=note.uri,
            cursor=note.indexed_at,
            author_id=note.author.did,
            handle=note.author.handle,
            text=prompt_of(without_byte_ranges(record.text, own)),
            reply={"post_id": note.uri, "parent": parent, "root": root, "handle": note.author.handle},
            skip=skip,
            # The author's own tag of the post's language(s), first one first.
            language=next(iter(getattr(record, "langs", None) or []), None),
        )

    # --- replying ----------------------------------------------------------------------------

    def _reply_ref(self, reply: dict[str, Any]) -> models.AppBskyFeedPost.ReplyRef:
        return models.AppBskyFeedPost.ReplyRef(
            parent=models.ComAtprotoRepoStrongRef.Main(**reply["parent"]),
            root=models.ComAtprotoRepoStrongRef.Main(**reply["root"]),
        )

    async def _post(self, reply: dict[str, Any], text: str, embed: Any = None) -> str:
        created = await self._call(
            self.client.send_post(
                text, profile_identify=self.did, reply_to=self._reply_ref(reply), embed=embed
            )
        )
        return str(created.uri)

    async def reply_text(self, reply: dict[str, Any], text: str, key: str) -> str:
        return await self._post(reply, text)

    async def exists(self, reply: dict[str, Any]) -> bool:
        found = await self._call(self.client.app.bsky.feed.get_posts({"uris": [reply["post_id"]]}))
        return bool(found.posts)

    async def find_reply(self, reply: dict[str, Any]) -> str | None:
        try:
            thread = await self._call(self.client.get_post_thread(reply["post_id"], depth=1, parent_height=0))
        except BadRequestError:  # NotFound: the post is gone, and our reply with it
            return None
        for child in getattr(thread.thread, "replies", None) or []:
            post = getattr(child, "post", None)
            if post is not None and post.author.did == self.did:
                return str(post.uri)
        return None

    async def max_bytes(self) -> int | None:
        return MAX_VIDEO_BYTES

    async def upload(self, job: Job, path: Path) -> dict[str, Any]:
        data = await asyncio.to_thread(path.read_bytes)
        assert self.did is not None
        try:
            return {"blob": await self.video.upload(self, data, f"promptreel-{job.id}.mp4")}
        except VideoUnavailable as exc:
            log.warning("bluesky: video service unavailable (%s); uploading the clip as a blob", exc)
        uploaded = await self._call(self.client.upload_blob(data))
        return {"blob": uploaded.blob.model_dump(by_alias=True, mode="json"), "via": "uploadBlob"}

    async def service_token(self, aud: str, lxm: str) -> str:
        """A short-lived token for the video service, signed by our PDS."""
        answer = await self._call(
            self.client.com.atproto.server.get_service_auth(
                {"aud": aud, "lxm": lxm, "exp": int(time.time()) + 30 * 60}
            )
        )
        return str(answer.token)

    @property
    def pds_did(self) -> str:
        return f"did:web:{urlparse(self.settings.bluesky_base_url).hostname}"

    async def post_clip(self, job: Job, media: dict[str, Any]) -> str:
        embed = models.AppBskyEmbedVideo.Main(
            video=BlobRef.model_validate(media["blob"]),
            alt=texts.alt_text(member_prompt(job)),
            aspect_ratio=models.AppBskyEmbedDefs.AspectRatio(
                width=job.request.width, height=job.request.height
            ),
        )
        return await self._post(job.reply, texts.clip_reply(member_prompt(job)), embed)

    async def refusal_before_render(self) -> str | None:
        """No render for a clip the account may not upload today (the service's daily limits)."""
        try:
            limits = await self.video.limits(self)
        except VideoUnavailable:
            return None  # uploadBlob is the way then
        return None if limits.get("canUpload", True) else texts.CANNOT_UPLOAD
