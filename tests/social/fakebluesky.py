"""A loopback Bluesky PDS and video service for atproto's real AsyncClient, from the lexicons.

Written from the lexicons (com.atproto.server.createSession/refreshSession/getSession/
getServiceAuth, com.atproto.repo.createRecord/uploadBlob, app.bsky.notification.
listNotifications/updateSeen, app.bsky.feed.getPosts/getPostThread, app.bsky.video.
getUploadLimits/uploadVideo/getJobStatus) and the rate-limit headers Bluesky documents
(ratelimit-limit/remaining/reset, reset in Unix seconds). Notifications page newest first.
Both services answer on one port: point the PDS and the video URL at `fake.url`.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

BOT_HANDLE = "promptreel.test"
BOT_DID = "did:plc:promptreelbot000000000"
PASSWORD = "app-pass-word"


def cid_of(data: bytes, codec: int = 0x55) -> str:
    """A real CIDv1 (sha2-256) in base32: raw (0x55) for blobs, dag-cbor (0x71) for records."""
    raw = bytes([1, codec, 0x12, 0x20]) + hashlib.sha256(data).digest()
    return "b" + base64.b32encode(raw).decode().lower().rstrip("=")


def _jwt(did: str, seconds: int) -> str:
    def part(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    payload = {"scope": "com.atproto.appPass", "sub": did, "iat": int(time.time()),
               "exp": int(time.time()) + seconds, "aud": "did:web:fake"}  # fmt: skip
    return f"{part({'alg': 'ES256K', 'typ': 'at+jwt'})}.{part(payload)}.c2ln"


@dataclass
class Faults:
    # "nsid" -> (how many 429s, seconds ahead the reset names)
    rate_limited: dict[str, tuple[int, float]] = field(default_factory=dict)
    video_service_down: bool = False
    failing_videos: int = 0  # next N uploads end in JOB_STATE_FAILED
    processing_polls: int = 1
    can_upload: bool = True


class FakeBluesky:
    def __init__(self) -> None:
        self.seq = itertools.count(1)
        self.accounts: dict[str, dict[str, Any]] = {}
        self.posts: dict[str, dict[str, Any]] = {}
        self.notifications: list[dict[str, Any]] = []
        self.blobs: dict[str, bytes] = {}
        self.jobs: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str, int]] = []
        self.sessions_created = 0
        self.seen_at: str | None = None
        self.faults = Faults()
        self.bot = self.account(BOT_HANDLE, did=BOT_DID)
        self._changed = asyncio.Condition()
        self._clock = datetime(2026, 12, 1, tzinfo=UTC)
        self.url = ""
        self._runner: web.AppRunner | None = None

    # --- test side -------------------------------------------------------------------------------

    def account(self, handle: str, *, did: str | None = None, bot: bool = False) -> dict[str, Any]:
        did = did or f"did:plc:{hashlib.sha256(handle.encode()).hexdigest()[:24]}"
        labels = [{"src": did, "uri": f"at://{did}/app.bsky.actor.profile/self", "val": "bot",
                   "cts": self._now()}] if bot else []  # fmt: skip
        profile = {
            "did": did,
            "handle": handle,
            "displayName": handle.split(".")[0].title(),
            "labels": labels,
        }
        self.accounts[did] = profile
        return profile

    def _now(self) -> str:
        # Strictly increasing, distinct times: indexedAt orders notifications.
        self._clock = getattr(self, "_clock", datetime(2026, 12, 1, tzinfo=UTC)) + timedelta(milliseconds=1)
        return self._clock.isoformat().replace("+00:00", "Z")

    def mention(self, author: dict[str, Any], words: str, *, reply_to: dict[str, Any] | None = None,
                handle_as: str | None = None, langs: list[str] | None = None) -> dict[str, Any]:  # fmt: skip
        """`author` posts "@promptreel.test WORDS" with a mention facet on the handle's bytes;
        `reply_to` (a post) makes it a reply in that post's thread, notified as reason reply;
        `langs`: the post's language tags (default English, as the app sets them)."""
        handle = handle_as or f"@{BOT_HANDLE}"
        text = f"{handle} {words}"
        facets = [{"$type": "app.bsky.richtext.facet",
                   "index": {"byteStart": 0, "byteEnd": len(handle.encode())},
                   "features": [{"$type": "app.bsky.richtext.facet#mention", "did": BOT_DID}]}]  # fmt: skip
        record: dict[str, Any] = {"$type": "app.bsky.feed.post", "text": text, "createdAt": self._now(),
                                  "facets": facets, "langs": ["en"] if langs is None else langs}  # fmt: skip
        if reply_to is not None:
            root = reply_to["record"].get("reply", {}).get("root") or {
                "uri": reply_to["uri"],
                "cid": reply_to["cid"],
            }
            record["reply"] = {"root": root, "parent": {"uri": reply_to["uri"], "cid": reply_to["cid"]}}
        post = self._create(author["did"], record)
        reason = "reply" if reply_to is not None and reply_to["author"]["did"] == BOT_DID else "mention"
        self.notifications.append({
            "uri": post["uri"], "cid": post["cid"], "author": author, "reason": reason,
            "record": record, "isRead": False, "indexedAt": post["indexedAt"], "labels": [],
        })  # fmt: skip
        return post

    def delete(self, uri: str) -> None:
        self.posts.pop(uri)

    def replies_to(self, uri: str) -> list[dict[str, Any]]:
        return [
            p
            for p in self.posts.values()
            if (p["record"].get("reply") or {}).get("parent", {}).get("uri") == uri
        ]

    async def wait_for(self, check: Callable[[], Any], timeout: float = 60) -> Any:  # noqa: ASYNC109
        async with asyncio.timeout(timeout):
            async with self._changed:
                while not (result := check()):
                    await self._changed.wait()
                return result

    def calls(self, nsid: str) -> list[tuple[str, str, int]]:
        return [r for r in self.requests if r[1] == nsid]

    # --- the server ------------------------------------------------------------------------------

    def _create(self, did: str, record: dict[str, Any]) -> dict[str, Any]:
        rkey = f"3l{next(self.seq):011d}"
        data = json.dumps(record, sort_keys=True).encode()
        post = {"uri": f"at://{did}/app.bsky.feed.post/{rkey}", "cid": cid_of(data + rkey.encode(), 0x71),
                "author": self.accounts[did], "record": record, "indexedAt": self._now(),
                "replyCount": 0, "repostCount": 0, "likeCount": 0, "labels": []}  # fmt: skip
        self.posts[post["uri"]] = post
        return post

    async def start(self) -> None:
        app = web.Application(middlewares=[self._record], client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/xrpc/{nsid}", self._dispatch)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        nsid = request.match_info.get("nsid", request.path)
        status = 0
        try:
            count, reset_s = self.faults.rate_limited.get(nsid, (0, 0.0))
            if count > 0:
                self.faults.rate_limited[nsid] = (count - 1, reset_s)
                reset = str(int(time.time() + reset_s + 0.999))
                response: web.StreamResponse = _error(429, "RateLimitExceeded", "Rate Limit Exceeded", {
                    "ratelimit-limit": "3000", "ratelimit-remaining": "0",
                    "ratelimit-reset": reset, "ratelimit-policy": "3000;w=300",
                })  # fmt: skip
            else:
                response = await handler(request)
            status = response.status
            return response
        finally:
            self.requests.append((request.method, nsid, status))
            async with self._changed:
                self._changed.notify_all()

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        nsid = request.match_info["nsid"]
        handler = getattr(self, "x_" + nsid.replace(".", "_"), None)
        if handler is None:
            return _error(501, "MethodNotImplemented", f"{nsid} is not served")
        if nsid.startswith("app.bsky.video.") and self.faults.video_service_down:
            return _error(501, "MethodNotImplemented", "no video service here")
        if nsid != "com.atproto.server.createSession" and not request.headers.get(
            "Authorization", ""
        ).startswith("Bearer "):
            return _error(401, "AuthMissing", "Authentication Required")
        return await handler(request)

    async def _body(self, request: web.Request) -> dict[str, Any]:
        return await request.json() if request.can_read_body else {}

    def _session(self) -> web.Response:
        return _ok({"accessJwt": _jwt(BOT_DID, 7200), "refreshJwt": _jwt(BOT_DID, 86400),
                    "handle": BOT_HANDLE, "did": BOT_DID, "active": True,
                    "emailConfirmed": True})  # fmt: skip

    async def x_com_atproto_server_createSession(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        if body.get("identifier") != BOT_HANDLE or body.get("password") != PASSWORD:
            return _error(401, "AuthenticationRequired", "Invalid identifier or password")
        self.sessions_created += 1
        return self._session()

    async def x_com_atproto_server_refreshSession(self, request: web.Request) -> web.Response:
        return self._session()

    async def x_com_atproto_server_getSession(self, request: web.Request) -> web.Response:
        return _ok({"handle": BOT_HANDLE, "did": BOT_DID, "active": True, "emailConfirmed": True})

    async def x_com_atproto_server_getServiceAuth(self, request: web.Request) -> web.Response:
        return _ok({"token": _jwt(BOT_DID, 1800)})

    async def x_app_bsky_notification_listNotifications(self, request: web.Request) -> web.Response:
        reasons = request.query.getall("reasons", [])
        limit = int(request.query.get("limit", 50))
        start = int(request.query.get("cursor") or 0)
        found = [n for n in reversed(self.notifications) if not reasons or n["reason"] in reasons]
        page = found[start : start + limit]
        body: dict[str, Any] = {"notifications": page, "seenAt": self.seen_at}
        if start + limit < len(found):
            body["cursor"] = str(start + limit)
        return _ok(body)

    async def x_app_bsky_notification_updateSeen(self, request: web.Request) -> web.Response:
        self.seen_at = (await self._body(request))["seenAt"]
        return web.Response(status=200)

    async def x_com_atproto_repo_createRecord(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        record = body["record"]
        parent = (record.get("reply") or {}).get("parent", {}).get("uri")
        if parent is not None and parent not in self.posts:
            return _error(400, "InvalidRequest", "reply parent not found")
        video = ((record.get("embed") or {}).get("video") or {}).get("ref", {}).get("$link")
        if video is not None and video not in self.blobs:
            return _error(400, "InvalidRequest", "Could not find blob")
        post = self._create(body["repo"], record)
        return _ok({"uri": post["uri"], "cid": post["cid"]})

    async def x_app_bsky_feed_getPosts(self, request: web.Request) -> web.Response:
        uris = request.query.getall("uris", [])
        return _ok({"posts": [_view(self.posts[u]) for u in uris if u in self.posts]})

    async def x_app_bsky_feed_getPostThread(self, request: web.Request) -> web.Response:
        post = self.posts.get(request.query["uri"])
        if post is None:
            return _error(400, "NotFound", "Post not found")
        replies = [{"$type": "app.bsky.feed.defs#threadViewPost", "post": _view(p), "replies": []}
                   for p in self.replies_to(post["uri"])]  # fmt: skip
        return _ok(
            {
                "thread": {
                    "$type": "app.bsky.feed.defs#threadViewPost",
                    "post": _view(post),
                    "replies": replies,
                }
            }
        )

    async def x_com_atproto_repo_uploadBlob(self, request: web.Request) -> web.Response:
        data = await request.read()
        return _ok({"blob": self._blob(data, request.content_type)})

    def _blob(self, data: bytes, mime: str) -> dict[str, Any]:
        cid = cid_of(data)
        self.blobs[cid] = data
        return {"$type": "blob", "ref": {"$link": cid}, "mimeType": mime, "size": len(data)}

    async def x_app_bsky_video_getUploadLimits(self, request: web.Request) -> web.Response:
        return _ok({"canUpload": self.faults.can_upload, "remainingDailyVideos": 25,
                    "remainingDailyBytes": 10_000_000_000, **({} if self.faults.can_upload else
                    {"message": "daily limit reached"})})  # fmt: skip

    async def x_app_bsky_video_uploadVideo(self, request: web.Request) -> web.Response:
        data = await request.read()
        job_id = f"job{next(self.seq)}"
        failing = self.faults.failing_videos > 0
        self.faults.failing_videos -= int(failing)
        self.jobs[job_id] = {"jobId": job_id, "did": request.query.get("did"),
                             "state": "JOB_STATE_CREATED", "_data": data,
                             "_polls": self.faults.processing_polls, "_fails": failing}  # fmt: skip
        return _ok(_public(self.jobs[job_id]))

    async def x_app_bsky_video_getJobStatus(self, request: web.Request) -> web.Response:
        job = self.jobs.get(request.query.get("jobId", ""))
        if job is None:
            return _error(400, "NotFound", "no such job")
        if job["_polls"] > 0:
            job["_polls"] -= 1
            job["state"], job["progress"] = "JOB_STATE_ENCODING", 50
        elif job["_fails"]:
            job["state"], job["error"], job["message"] = "JOB_STATE_FAILED", "encode failed", "Video failed"
        else:
            job["state"], job["progress"] = "JOB_STATE_COMPLETED", 100
            job["blob"] = self._blob(job["_data"], "video/mp4")
        return _ok({"jobStatus": _public(job)})


def _view(post: dict[str, Any]) -> dict[str, Any]:
    return {k: post[k] for k in ("uri", "cid", "author", "record", "indexedAt", "labels")}


def _public(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if not k.startswith("_")}


def _ok(body: Any) -> web.Response:
    return web.Response(text=json.dumps(body), status=200, content_type="application/json")


def _error(status: int, error: str, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(text=json.dumps({"error": error, "message": message}), status=status,
                        content_type="application/json", headers=headers)  # fmt: skip
