"""Bluesky's video service (video.bsky.app): upload limits, upload, and the processing job.

Plain aiohttp: the service is not the PDS, and each call carries a service-auth token the
PDS signed for it (`com.atproto.server.getServiceAuth`). A service that cannot be reached, or
that does not serve these methods, is `VideoUnavailable`: the caller falls back to uploadBlob.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Protocol
from urllib.parse import urlparse

import aiohttp

from bot.social.surface import MediaFailed, RateLimited

LIMITS_TTL_S = 60.0
DONE = "JOB_STATE_COMPLETED"
FAILED = "JOB_STATE_FAILED"


class VideoUnavailable(Exception):
    """The video service cannot be used now (unreachable, not served, failing)."""


class Owner(Protocol):
    did: str | None
    settings: Any

    async def service_token(self, aud: str, lxm: str) -> str: ...

    @property
    def pds_did(self) -> str: ...


class VideoService:
    def __init__(self, base_url: str) -> None:
        self.base = base_url.rstrip("/")
        self.did = f"did:web:{urlparse(base_url).hostname}"
        self._http: aiohttp.ClientSession | None = None
        self._limits: tuple[float, dict[str, Any]] | None = None

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=300))
        return self._http

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def _request(self, method: str, nsid: str, token: str, **kw: Any) -> dict[str, Any]:
        url = f"{self.base}/xrpc/{nsid}"
        try:
            async with self._session().request(
                method, url, headers={"Authorization": f"Bearer {token}", **kw.pop("headers", {})}, **kw
            ) as response:
                body = await response.json(content_type=None) if response.content_length != 0 else {}
                if response.status == 429:
                    reset = response.headers.get("ratelimit-reset")
                    wait = float(reset) - time.time() if reset and reset.isdigit() else 60.0
                    raise RateLimited(max(wait, 1.0), "Bluesky video service rate limit")
                if response.status == 409 and isinstance(body, dict) and body.get("jobId"):
                    return body  # already_exists: the job that has it
                if response.status in (404, 501) or response.status >= 500:
                    raise VideoUnavailable(f"{nsid} answered {response.status}")
                if response.status >= 400:
                    raise MediaFailed(
                        f"{nsid}: {body.get('message') or body.get('error') or response.status}"
                    )
                return body if isinstance(body, dict) else {}
        except aiohttp.ClientError as exc:
            raise VideoUnavailable(f"{nsid}: {exc}") from exc
        except ValueError as exc:  # not JSON: not the service we expect
            raise VideoUnavailable(f"{nsid}: {exc}") from exc

    async def limits(self, owner: Owner) -> dict[str, Any]:
        """`getUploadLimits`, kept a minute: asked before every prompt is queued."""
        now = time.monotonic()
        if self._limits is not None and now - self._limits[0] < LIMITS_TTL_S:
            return self._limits[1]
        token = await owner.service_token(self.did, "app.bsky.video.getUploadLimits")
        limits = await self._request("GET", "app.bsky.video.getUploadLimits", token)
        self._limits = (now, limits)
        return limits

    async def upload(self, owner: Owner, data: bytes, name: str) -> dict[str, Any]:
        """Upload and wait for processing; returns the blob ref as JSON. Raises `MediaFailed`
        when the service refuses or fails the clip, `VideoUnavailable` when it cannot be used."""
        limits = await self.limits(owner)
        if not limits.get("canUpload", True):
            raise MediaFailed(limits.get("message") or "the account may not upload videos now")
        remaining = limits.get("remainingDailyBytes")
        if remaining is not None and remaining < len(data):
            raise MediaFailed("the daily video upload budget is spent")
        self._limits = None  # spent some of it
        token = await owner.service_token(owner.pds_did, "com.atproto.repo.uploadBlob")
        status = await self._request(
            "POST",
            "app.bsky.video.uploadVideo",
            token,
            params={"did": owner.did or "", "name": name},
            data=data,
            headers={"Content-Type": "video/mp4"},
        )
        settings = owner.settings
        deadline = time.monotonic() + settings.social_media_wait_seconds
        while True:
            if status.get("blob") and status.get("state") in (DONE, None):
                return dict(status["blob"])
            if status.get("state") == FAILED:
                raise MediaFailed(status.get("message") or status.get("error") or "processing failed")
            if time.monotonic() > deadline:
                raise MediaFailed("still processing after the wait")
            await asyncio.sleep(settings.social_media_poll_seconds)
            answer = await self._request(
                "GET", "app.bsky.video.getJobStatus", token, params={"jobId": status["jobId"]}
            )
            status = answer.get("jobStatus") or {}
