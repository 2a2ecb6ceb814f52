"""X: mentions since a saved post id, and the clip as a reply marked as made with AI.

Plain aiohttp against API v2 with OAuth 1.0a user tokens: reads page through `next_token`
until every mention after the cursor is in, the clip goes up in chunks (initialize / append /
finalize, then STATUS while `processing_info` says to wait `check_after_secs`), and the reply
carries `reply.in_reply_to_tweet_id`, the media id and `made_with_ai`. Replies never hold a
link: on pay-per-use a post with a URL costs about thirteen times as much.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

import aiohttp

from bot.config import Settings
from bot.i18n import social_texts as texts
from bot.social.surface import MediaFailed, Mention, RateLimited, SocialSurface
from bot.translation import member_prompt
from bot.x.oauth1 import authorization
from engine.journal import Job

log = logging.getLogger(__name__)

CHUNK = 1024 * 1024
MAX_PAGES = 5
FALLBACK_RETRY_S = 60.0
# X takes videos up to 512 MB; the tiny clips are far below, real ones are shrunk to fit.
MAX_VIDEO_BYTES = 512 * 1024 * 1024


class XAdapter(SocialSurface):
    name = "x"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.base = settings.x_base_url.rstrip("/")
        self.me: str | None = None
        self._http: aiohttp.ClientSession | None = None

    def _secret(self, name: str) -> str:
        value = getattr(self.settings, name)
        return value.get_secret_value() if value is not None else ""

    async def _request(
        self, method: str, path: str, *, params: dict[str, str] | None = None, **kw: Any
    ) -> Any:
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=300))
        url = self.base + path
        params = params or {}
        header = authorization(
            method, url, params,
            consumer_key=self._secret("x_api_key"), consumer_secret=self._secret("x_api_secret"),
            token=self._secret("x_access_token"), token_secret=self._secret("x_access_token_secret"),
        )  # fmt: skip
        async with self._http.request(
            method, url, params=params, headers={"Authorization": header}, **kw
        ) as r:
            if r.status == 429:
                reset = r.headers.get("x-rate-limit-reset", "")
                wait = float(reset) - time.time() if reset.isdigit() else FALLBACK_RETRY_S
                raise RateLimited(wait if wait > 0 else FALLBACK_RETRY_S, "X rate limit")
            body = await r.json(content_type=None) if r.content_length != 0 else {}
            if r.status >= 400:
                raise RuntimeError(f"X answered {r.status} to {method} {path}: {body}")
            return body or {}

    async def login(self) -> None:
        self.me = str((await self._request("GET", "/2/users/me"))["data"]["id"])

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def fetch(self, cursor: str | None) -> list[Mention]:
        params = {
            "max_results": "100",
            "expansions": "author_id",
            "tweet.fields": "author_id,conversation_id,referenced_tweets,created_at",
            "user.fields": "username",
        }
        if cursor is not None and cursor != "0":
            params["since_id"] = cursor
        tweets: list[dict[str, Any]] = []
        users: dict[str, str] = {}
        for _ in range(MAX_PAGES):
            page = await self._request("GET", f"/2/users/{self.me}/mentions", params=params)
            tweets += page.get("data") or []
            users |= {u["id"]: u["username"] for u in (page.get("includes") or {}).get("users", [])}
            token = (page.get("meta") or {}).get("next_token")
            if not token or cursor is None:
                break
            params["pagination_token"] = token
        tweets.sort(key=lambda t: int(t["id"]))
        return [self._mention(t, users) for t in tweets]

    def _mention(self, tweet: dict[str, Any], users: dict[str, str]) -> Mention:
        author = str(tweet["author_id"])
        kinds = {ref["type"] for ref in tweet.get("referenced_tweets") or []}
        skip = "own" if author == self.me else "repost" if "retweeted" in kinds else None
        handle = users.get(author, author)
        words = " ".join(w for w in tweet["text"].split() if not w.startswith("@"))
        return Mention(
            post_id=str(tweet["id"]),
            cursor=str(tweet["id"]),
            author_id=author,
            handle=handle,
            text=words,
            reply={
                "post_id": str(tweet["id"]),
                "conversation_id": str(tweet.get("conversation_id", tweet["id"])),
            },
            skip=skip,
        )

    async def _tweet(self, reply: dict[str, Any], text: str, media_id: str | None = None) -> str:
        body: dict[str, Any] = {"text": text, "reply": {"in_reply_to_tweet_id": reply["post_id"]}}
        if media_id is not None:
            body["media"] = {"media_ids": [media_id]}
            body["made_with_ai"] = True
        return str((await self._request("POST", "/2/tweets", json=body))["data"]["id"])

    async def reply_text(self, reply: dict[str, Any], text: str, key: str) -> str:
        return await self._tweet(reply, text)

    async def exists(self, reply: dict[str, Any]) -> bool:
        found = await self._request("GET", f"/2/tweets/{reply['post_id']}")
        return bool(found.get("data"))  # a deleted post answers 200 with `errors` only

    async def find_reply(self, reply: dict[str, Any]) -> str | None:
        params = {
            "query": f"conversation_id:{reply['conversation_id']} from:{self.me}",
            "tweet.fields": "referenced_tweets",
        }
        found = await self._request("GET", "/2/tweets/search/recent", params=params)
        for tweet in found.get("data") or []:
            refs = tweet.get("referenced_tweets") or []
            if any(r["type"] == "replied_to" and str(r["id"]) == reply["post_id"] for r in refs):
                return str(tweet["id"])
        return None

    async def max_bytes(self) -> int | None:
        return MAX_VIDEO_BYTES

    async def upload(self, job: Job, path: Path) -> dict[str, Any]:
        data = await asyncio.to_thread(path.read_bytes)
        init = await self._request("POST", "/2/media/upload/initialize", json={
            "media_category": "tweet_video", "media_type": "video/mp4", "total_bytes": len(data),
        })  # fmt: skip
        media_id = str(init["data"]["id"])
        for index, start in enumerate(range(0, len(data), CHUNK)):
            form = aiohttp.FormData()
            form.add_field("segment_index", str(index))
            form.add_field(
                "media", data[start : start + CHUNK], filename="clip.mp4", content_type="video/mp4"
            )
            await self._request("POST", f"/2/media/upload/{media_id}/append", data=form)
        state = (await self._request("POST", f"/2/media/upload/{media_id}/finalize"))["data"]
        deadline = time.monotonic() + self.settings.social_media_wait_seconds
        while True:
            info = state.get("processing_info") or {"state": "succeeded"}
            if info["state"] == "succeeded":
                return {"id": media_id}
            if info["state"] == "failed":
                raise MediaFailed((info.get("error") or {}).get("message", "processing failed"))
            if time.monotonic() > deadline:
                raise MediaFailed("still processing after the wait")
            wait = min(float(info.get("check_after_secs", 1)), self.settings.social_media_poll_seconds * 50)
            await asyncio.sleep(max(wait, self.settings.social_media_poll_seconds))
            params = {"command": "STATUS", "media_id": media_id}
            state = (await self._request("GET", "/2/media/upload", params=params))["data"]

    async def post_clip(self, job: Job, media: dict[str, Any]) -> str:
        return await self._tweet(job.reply, texts.clip_reply(member_prompt(job)), media["id"])
