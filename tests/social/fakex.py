"""A loopback X API v2 for the X adapter, from X's API v2 reference.

GET /2/users/me, GET /2/users/:id/mentions (since_id, max_results, pagination_token; newest
first, `includes.users`, `meta.next_token`), GET /2/tweets/:id (a missing post answers 200 with
`errors`), GET /2/tweets/search/recent (conversation_id: and from: only), POST /2/tweets, and
the chunked media upload (initialize / append / finalize, GET ?command=STATUS with
processing_info). Every request's OAuth 1.0a signature is checked (RFC 5849, written here from
the RFC, not imported from the bot); a 429 carries x-rate-limit-* headers.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from aiohttp import web

BOT_ID = "1000"
KEYS = {"consumer_key": "ck", "consumer_secret": "cs", "token": "tk", "token_secret": "ts"}


def _pct(value: str) -> str:
    return quote(value, safe="-._~")


@dataclass
class Faults:
    rate_limited: dict[str, tuple[int, float]] = field(default_factory=dict)  # "METHOD /path"
    processing_polls: int = 1


class FakeX:
    def __init__(self) -> None:
        self.ids = itertools.count(1_900_000_000_000_000_000)
        self.users: dict[str, dict[str, Any]] = {
            BOT_ID: {"id": BOT_ID, "username": "promptreel", "name": "P"}
        }
        self.tweets: dict[str, dict[str, Any]] = {}
        self.media: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str, int]] = []
        self.bad_signatures = 0
        self.faults = Faults()
        self._changed = asyncio.Condition()
        self.url = ""
        self._runner: web.AppRunner | None = None

    def user(self, username: str) -> dict[str, Any]:
        user = {"id": str(next(self.ids)), "username": username, "name": username.title()}
        self.users[user["id"]] = user
        return user

    def mention(self, author: dict[str, Any], words: str, *, retweet: bool = False) -> dict[str, Any]:
        tweet_id = str(next(self.ids))
        tweet = {"id": tweet_id, "text": f"@promptreel {words}", "author_id": author["id"],
                 "conversation_id": tweet_id, "created_at": "2026-12-01T00:00:00.000Z",
                 "_mentions": [BOT_ID]}  # fmt: skip
        if retweet:
            tweet["referenced_tweets"] = [{"type": "retweeted", "id": "1"}]
        self.tweets[tweet_id] = tweet
        return tweet

    def replies_to(self, tweet_id: str) -> list[dict[str, Any]]:
        return [t for t in self.tweets.values() if t.get("_reply_to") == tweet_id]

    async def wait_for(self, check: Callable[[], Any], timeout: float = 60) -> Any:  # noqa: ASYNC109
        async with asyncio.timeout(timeout):
            async with self._changed:
                while not (result := check()):
                    await self._changed.wait()
                return result

    async def start(self) -> None:
        app = web.Application(middlewares=[self._guard], client_max_size=64 * 1024 * 1024)
        r = app.router
        r.add_get("/2/users/me", lambda q: _ok({"data": self.users[BOT_ID]}))
        r.add_get("/2/users/{id}/mentions", self._mentions)
        r.add_get("/2/tweets/search/recent", self._search)
        r.add_get("/2/tweets/{id}", self._get)
        r.add_post("/2/tweets", self._post)
        r.add_post("/2/media/upload/initialize", self._init)
        r.add_post("/2/media/upload/{id}/append", self._append)
        r.add_post("/2/media/upload/{id}/finalize", self._finalize)
        r.add_get("/2/media/upload", self._status)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def _signed(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        if not header.startswith("OAuth "):
            return False
        oauth = {}
        for part in header[6:].split(","):
            key, _, value = part.strip().partition("=")
            oauth[key] = value.strip('"').replace("%3D", "=").replace("%2B", "+").replace("%2F", "/")
        given = oauth.pop("oauth_signature", "")
        if (
            oauth.get("oauth_consumer_key") != KEYS["consumer_key"]
            or oauth.get("oauth_token") != KEYS["token"]
        ):
            return False
        params = {**dict(request.query), **oauth}
        normal = "&".join(f"{k}={v}" for k, v in sorted((_pct(k), _pct(v)) for k, v in params.items()))
        url = f"{request.scheme}://{request.host}{request.path}"
        base = f"{request.method}&{_pct(url)}&{_pct(normal)}"
        key = f"{_pct(KEYS['consumer_secret'])}&{_pct(KEYS['token_secret'])}"
        want = base64.b64encode(hmac.new(key.encode(), base.encode(), hashlib.sha1).digest()).decode()
        return hmac.compare_digest(want, given)

    @web.middleware
    async def _guard(self, request: web.Request, handler: Any) -> web.StreamResponse:
        route = f"{request.method} {request.path}"
        status = 0
        try:
            if not self._signed(request):
                self.bad_signatures += 1
                response: web.StreamResponse = _ok({"title": "Unauthorized", "status": 401}, 401)
            elif self.faults.rate_limited.get(route, (0, 0.0))[0] > 0:
                count, reset_s = self.faults.rate_limited[route]
                self.faults.rate_limited[route] = (count - 1, reset_s)
                response = _ok({"title": "Too Many Requests", "status": 429}, 429, {
                    "x-rate-limit-limit": "100", "x-rate-limit-remaining": "0",
                    "x-rate-limit-reset": str(int(time.time() + reset_s + 0.999))})  # fmt: skip
            else:
                response = await handler(request)
            status = response.status
            return response
        finally:
            self.requests.append((request.method, request.path, status))
            async with self._changed:
                self._changed.notify_all()

    def _public(self, tweet: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in tweet.items() if not k.startswith("_")}

    async def _mentions(self, request: web.Request) -> web.Response:
        q = request.query
        since = int(q.get("since_id", 0))
        found = [t for t in self.tweets.values() if BOT_ID in t.get("_mentions", []) and int(t["id"]) > since]
        found.sort(key=lambda t: -int(t["id"]))
        start = int(q.get("pagination_token", 0))
        size = int(q.get("max_results", 10))
        page = found[start : start + size]
        meta: dict[str, Any] = {"result_count": len(page)}
        if page:
            meta |= {"newest_id": page[0]["id"], "oldest_id": page[-1]["id"]}
        if start + size < len(found):
            meta["next_token"] = str(start + size)
        users = [self.users[t["author_id"]] for t in page]
        return _ok({"data": [self._public(t) for t in page], "includes": {"users": users}, "meta": meta}
                   if page else {"meta": meta})  # fmt: skip

    async def _get(self, request: web.Request) -> web.Response:
        tweet = self.tweets.get(request.match_info["id"])
        if tweet is None:
            return _ok(
                {
                    "errors": [
                        {
                            "title": "Not Found Error",
                            "type": "https://api.x.com/2/problems/resource-not-found",
                        }
                    ]
                }
            )
        return _ok({"data": self._public(tweet)})

    async def _search(self, request: web.Request) -> web.Response:
        words = dict(w.split(":", 1) for w in request.query["query"].split())
        found = [self._public(t) for t in self.tweets.values()
                 if t.get("conversation_id") == words.get("conversation_id") and t["author_id"] == BOT_ID
                 and words.get("from") == BOT_ID]  # fmt: skip
        return _ok(
            {"data": found, "meta": {"result_count": len(found)}} if found else {"meta": {"result_count": 0}}
        )

    async def _post(self, request: web.Request) -> web.Response:
        body = await request.json()
        parent = self.tweets.get((body.get("reply") or {}).get("in_reply_to_tweet_id", ""))
        if body.get("reply") and parent is None:
            return _ok({"title": "Invalid Request", "detail": "reply parent not found"}, 400)
        media_ids = (body.get("media") or {}).get("media_ids", [])
        if any(self.media.get(m, {}).get("state") != "succeeded" for m in media_ids):
            return _ok({"title": "Invalid Request", "detail": "media not ready"}, 400)
        tweet_id = str(next(self.ids))
        tweet = {"id": tweet_id, "text": body["text"], "author_id": BOT_ID,
                 "conversation_id": parent["conversation_id"] if parent else tweet_id,
                 "_reply_to": parent["id"] if parent else None, "_media": media_ids,
                 "_made_with_ai": body.get("made_with_ai", False)}  # fmt: skip
        if parent:
            tweet["referenced_tweets"] = [{"type": "replied_to", "id": parent["id"]}]
        self.tweets[tweet_id] = tweet
        return _ok({"data": {"id": tweet_id, "text": body["text"]}}, 201)

    async def _init(self, request: web.Request) -> web.Response:
        body = await request.json()
        if body.get("media_category") != "tweet_video":
            return _ok({"title": "Invalid Request"}, 400)
        media_id = str(next(self.ids))
        self.media[media_id] = {"total": body["total_bytes"], "chunks": {}, "state": "new",
                                "polls": self.faults.processing_polls}  # fmt: skip
        return _ok({"data": {"id": media_id, "media_key": f"7_{media_id}", "expires_after_secs": 86400}})

    async def _append(self, request: web.Request) -> web.Response:
        item = self.media[request.match_info["id"]]
        form = await request.post()
        item["chunks"][int(form["segment_index"])] = form["media"].file.read()  # type: ignore[union-attr]
        return _ok({"data": {"expires_at": 0}})

    async def _finalize(self, request: web.Request) -> web.Response:
        item = self.media[request.match_info["id"]]
        item["data"] = b"".join(item["chunks"][i] for i in sorted(item["chunks"]))
        if len(item["data"]) != item["total"]:
            return _ok({"title": "Invalid Request", "detail": "size mismatch"}, 400)
        item["state"] = "pending"
        info = {"state": "pending", "check_after_secs": 1}
        return _ok({"data": {"id": request.match_info["id"], "processing_info": info}})

    async def _status(self, request: web.Request) -> web.Response:
        item = self.media[request.query["media_id"]]
        if item["polls"] > 0:
            item["polls"] -= 1
            item["state"] = "in_progress"
        else:
            item["state"] = "succeeded"
        info = {"state": item["state"], "check_after_secs": 1, "progress_percent": 100}
        return _ok({"data": {"id": request.query["media_id"], "processing_info": info}})


def _ok(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    import json

    return web.Response(
        text=json.dumps(body), status=status, content_type="application/json", headers=headers
    )
