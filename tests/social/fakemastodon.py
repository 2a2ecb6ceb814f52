"""A loopback Mastodon instance for the real Mastodon.py client, from the API docs.

Written from docs.joinmastodon.org (methods/notifications, statuses, media, instance; entities
Status, Account, Notification, MediaAttachment, Context, InstanceV2): what the bot calls, with
the status codes and headers the docs give: POST /api/v2/media answers 202 with `url` null, GET
/api/v1/media/:id 206 while processing and 200 once done; 429 carries X-RateLimit-* headers;
an Idempotency-Key seen before returns the status it made. Faults are switched on by tests.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

BOT_ID = "1"
ENTRY = web.RequestKey("entry", object)


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, Any]
    form: dict[str, Any]
    headers: dict[str, str]
    status: int = 0
    at: float = field(default_factory=time.monotonic)


@dataclass
class Faults:
    # "METHOD /path" -> how many 429s to answer, and the reset seconds ahead they name
    rate_limited: dict[str, tuple[int, float]] = field(default_factory=dict)
    # uploads whose processing fails (the next N), answered 422 on GET /api/v1/media/:id
    failing_media: int = 0
    # polls answered 206 before an upload is processed
    processing_polls: int = 1
    # Hold the next status post that carries media until the event is set: "after" creating
    # the status (the reply is out, its answer is not), or "before" (then answer 503).
    hold_clip_post: asyncio.Event | None = None
    hold_when: str = "after"
    holding: bool = False


class FakeMastodon:
    def __init__(self) -> None:
        self.ids = itertools.count(100)
        self.accounts: dict[str, dict[str, Any]] = {}
        self.statuses: dict[str, dict[str, Any]] = {}
        self.notifications: list[dict[str, Any]] = []
        self.media: dict[str, dict[str, Any]] = {}
        self.idempotency: dict[str, str] = {}
        self.requests: list[Request] = []
        self.faults = Faults()
        self.video_size_limit = 40 * 1024 * 1024
        self.bot = self.account("promptreel", bot_id=BOT_ID)
        self._changed = asyncio.Condition()
        self.url = ""
        self._runner: web.AppRunner | None = None

    # --- test side -------------------------------------------------------------------------------

    def account(self, username: str, *, bot: bool = False, bot_id: str | None = None) -> dict[str, Any]:
        account_id = bot_id or str(next(self.ids))
        acct = {
            "id": account_id,
            "username": username,
            "acct": username,
            "display_name": username.title(),
            "locked": False,
            "bot": bot,
            "group": False,
            "created_at": _now(),
            "note": "",
            "url": f"https://fake.social/@{username}",
            "avatar": "",
            "avatar_static": "",
            "header": "",
            "header_static": "",
            "followers_count": 0,
            "following_count": 0,
            "statuses_count": 0,
            "last_status_at": None,
            "emojis": [],
            "fields": [],
        }
        self.accounts[account_id] = acct
        return acct

    def mention(
        self, author: dict[str, Any], words: str, *, visibility: str = "public", reblog: bool = False
    ) -> dict[str, Any]:
        """`author` posts "@promptreel WORDS" (as HTML, like a server renders it) and the bot is notified."""
        html = (
            '<p><span class="h-card" translate="no"><a href="https://fake.social/@promptreel" '
            'class="u-url mention">@<span>promptreel</span></a></span> '
            f"{words.replace('&', '&amp;').replace('<', '&lt;')}</p>"
        )
        status = self._status(author, html, visibility=visibility)
        if reblog:
            status["reblog"] = dict(status)
        self.notifications.append(
            {"id": str(next(self.ids)), "type": "mention", "created_at": _now(), "account": author,
             "status": status}
        )  # fmt: skip
        return status

    def delete(self, status_id: str) -> None:
        self.statuses.pop(status_id)

    def edit(self, status_id: str, words: str) -> None:
        status = self.statuses[status_id]
        status["content"], status["edited_at"] = f"<p>{words}</p>", _now()

    def replies_to(self, status_id: str) -> list[dict[str, Any]]:
        return [s for s in self.statuses.values() if s["in_reply_to_id"] == status_id]

    async def wait_for(self, check: Callable[[], Any], timeout: float = 60) -> Any:  # noqa: ASYNC109
        """Wait until `check()` is truthy, re-checked after every request the fake answers."""
        async with asyncio.timeout(timeout):
            async with self._changed:
                while not (result := check()):
                    await self._changed.wait()
                return result

    # --- the server ------------------------------------------------------------------------------

    def _status(self, author: dict[str, Any], html: str, **kw: Any) -> dict[str, Any]:
        status = {
            "id": str(next(self.ids)),
            "uri": "",
            "url": None,
            "created_at": _now(),
            "account": author,
            "content": html,
            "visibility": kw.get("visibility", "public"),
            "sensitive": False,
            "spoiler_text": "",
            "media_attachments": kw.get("media", []),
            "mentions": [],
            "tags": [],
            "emojis": [],
            "reblogs_count": 0,
            "favourites_count": 0,
            "replies_count": 0,
            "in_reply_to_id": kw.get("in_reply_to_id"),
            "edited_at": None,
            "in_reply_to_account_id": None,
            "reblog": None,
            "language": "en",
            "text": kw.get("text"),
        }
        self.statuses[status["id"]] = status
        return status

    async def start(self) -> None:
        app = web.Application(middlewares=[self._record])
        r = app.router
        r.add_get("/api/v1/accounts/verify_credentials", lambda q: _json(self.bot))
        r.add_get("/api/v2/instance", self._instance)
        r.add_get("/api/v2/instance/", self._instance)
        r.add_get("/api/v1/notifications", self._notifications)
        r.add_get("/api/v1/statuses/{id}", self._get_status)
        r.add_get("/api/v1/statuses/{id}/context", self._context)
        r.add_post("/api/v1/statuses", self._post_status)
        r.add_post("/api/v2/media", self._post_media)
        r.add_get("/api/v1/media/{id}", self._get_media)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        form: dict[str, Any] = {}
        if request.method == "POST":
            if request.content_type == "application/json":
                form = await request.json()
            else:
                posted = await request.post()
                form = {k: posted.getall(k) if k.endswith("[]") else posted.get(k) for k in posted}
        entry = Request(request.method, request.path, dict(request.query), form, dict(request.headers))
        self.requests.append(entry)
        request[ENTRY] = entry
        try:
            for prefix, (count, reset_s) in list(self.faults.rate_limited.items()):
                if f"{request.method} {request.path}" == prefix and count > 0:
                    self.faults.rate_limited[prefix] = (count - 1, reset_s)
                    reset = datetime.now(UTC) + timedelta(seconds=reset_s)
                    response: web.StreamResponse = web.json_response(
                        {"error": "Too many requests"},
                        status=429,
                        headers={"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "0",
                                 "X-RateLimit-Reset": reset.isoformat()},
                    )  # fmt: skip
                    break
            else:
                response = await handler(request)
            entry.status = response.status
            return response
        finally:
            async with self._changed:
                self._changed.notify_all()

    async def _instance(self, request: web.Request) -> web.Response:
        return _json({
            "domain": "fake.social", "title": "Fake", "version": "4.3.0", "source_url": "", "description": "",
            "usage": {"users": {"active_month": 1}}, "thumbnail": {"url": ""}, "languages": ["en"],
            "configuration": {
                "urls": {"streaming": ""}, "accounts": {"max_featured_tags": 10},
                "statuses": {"max_characters": 500, "max_media_attachments": 4,
                             "characters_reserved_per_url": 23},
                "media_attachments": {
                    "supported_mime_types": ["video/mp4"], "image_size_limit": 16777216,
                    "image_matrix_limit": 33177600, "video_size_limit": self.video_size_limit,
                    "video_frame_rate_limit": 120, "video_matrix_limit": 8294400,
                },
                "polls": {"max_options": 4, "max_characters_per_option": 50, "min_expiration": 300,
                          "max_expiration": 2629746},
                "translation": {"enabled": False},
            },
            "registrations": {"enabled": False, "approval_required": False, "message": None},
            "contact": {"email": "", "account": None}, "rules": [],
        })  # fmt: skip

    async def _notifications(self, request: web.Request) -> web.Response:
        types = request.query.getall("types[]", []) or request.query.getall("types", [])
        since, min_id = request.query.get("since_id"), request.query.get("min_id")
        limit = min(int(request.query.get("limit", 40)), 80)
        after = since or min_id
        found = [
            n for n in self.notifications
            if (not types or n["type"] in types) and (after is None or int(n["id"]) > int(after))
        ]  # fmt: skip
        # Both answer newest first; since_id gives the newest `limit` (a gap behind them),
        # min_id the `limit` right after the id, which is how a reader pages forward.
        page = found[:limit] if min_id is not None else found[-limit:]
        return _json(list(reversed(page)))

    async def _get_status(self, request: web.Request) -> web.Response:
        status = self.statuses.get(request.match_info["id"])
        return _json(status) if status else _json({"error": "Record not found"}, 404)

    async def _context(self, request: web.Request) -> web.Response:
        root = request.match_info["id"]
        if root not in self.statuses:
            return _json({"error": "Record not found"}, 404)
        descendants, frontier = [], [root]
        while frontier:
            children = [s for s in self.statuses.values() if s["in_reply_to_id"] in frontier]
            descendants += children
            frontier = [s["id"] for s in children]
        return _json({"ancestors": [], "descendants": descendants})

    async def _post_status(self, request: web.Request) -> web.Response:
        form = request[ENTRY].form
        key = request.headers.get("Idempotency-Key")
        if key and key in self.idempotency:
            return _json(self.statuses[self.idempotency[key]])
        parent = form.get("in_reply_to_id")
        if parent is not None and parent not in self.statuses:
            return _json({"error": "Validation failed: replied-to status does not exist"}, 422)
        media_ids = form.get("media_ids[]") or form.get("media_ids") or []
        media = []
        for media_id in media_ids:
            item = self.media.get(media_id)
            if item is None or item["url"] is None:
                return _json({"error": "Validation failed: media not processed"}, 422)
            media.append(_public(item))
        hold, self.faults.hold_clip_post = (
            (self.faults.hold_clip_post if media else None),
            (None if media else self.faults.hold_clip_post),
        )
        if hold is not None and self.faults.hold_when == "before":
            await self._hold(hold)
            return _json({"error": "Service unavailable"}, 503)
        status = self._status(
            self.bot, f"<p>{form.get('status', '')}</p>", visibility=form.get("visibility", "public"),
            in_reply_to_id=parent, media=media, text=form.get("status", ""),
        )  # fmt: skip
        if key:
            self.idempotency[key] = status["id"]
        if hold is not None:
            await self._hold(hold)
        return _json(status)

    async def _hold(self, event: asyncio.Event) -> None:
        self.faults.holding = True
        async with self._changed:
            self._changed.notify_all()
        await event.wait()

    async def _post_media(self, request: web.Request) -> web.Response:
        posted = await request.post()
        upload = posted.get("file")
        data = upload.file.read() if hasattr(upload, "file") else b""
        failing = self.faults.failing_media > 0
        self.faults.failing_media -= int(failing)
        item = {
            "id": str(next(self.ids)), "type": "video", "url": None, "preview_url": "",
            "remote_url": None, "meta": {}, "description": posted.get("description"), "blurhash": None,
            "_data": data, "_polls": self.faults.processing_polls, "_fails": failing,
        }  # fmt: skip
        self.media[item["id"]] = item
        return _json(_public(item), 202)

    async def _get_media(self, request: web.Request) -> web.Response:
        item = self.media.get(request.match_info["id"])
        if item is None:
            return _json({"error": "Record not found"}, 404)
        if item["_polls"] > 0:
            item["_polls"] -= 1
            return _json(_public(item), 206)
        if item["_fails"]:
            return _json({"error": "Error processing thumbnail for uploaded media"}, 422)
        item["url"] = f"https://fake.social/media/{item['id']}.mp4"
        return _json(_public(item))


def _public(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if not k.startswith("_")}


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status)
