"""A loopback fake of the Hugging Face hub's HTTP API, for the real `huggingface_hub` client.

Point the client at it with `HF_ENDPOINT=fake.url`. It serves what `model_info(files_metadata=True)`,
`snapshot_download` and `hf_hub_download` ask for: repo info with per-file sizes
(`/api/models/{repo}[/revision/{rev}]?blobs=true`), the recursive tree
(`/api/models/{repo}/tree/{rev}`), and files (`HEAD`/`GET /{repo}/resolve/{rev}/{path}`) with the
headers the client reads (`X-Repo-Commit`, `ETag`/`X-Linked-Etag`, `X-Linked-Size`) and Range
requests answered with 206. No Xet headers: the client then takes its plain HTTP path.

Faults: `cut_after(path, nbytes)` sends the first `nbytes` of that file's next GET, then drops the
connection (with `then_fail=True`, later requests for that file get 503 until `heal()`).
Every request is in `requests` (method, path, Range header, bytes sent).
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@dataclass
class Served:
    method: str
    path: str
    range: str | None
    sent: int = 0


@dataclass
class FakeHub:
    repos: dict[str, dict[str, bytes]] = field(default_factory=dict)
    requests: list[Served] = field(default_factory=list)
    url: str = ""
    _cuts: dict[str, int] = field(default_factory=dict)
    _failing: set[str] = field(default_factory=set)
    _broken: set[str] = field(default_factory=set)
    _runner: web.AppRunner | None = None

    def add_repo(self, repo: str, files: dict[str, bytes]) -> None:
        self.repos[repo] = files

    def cut_after(self, path: str, nbytes: int, *, then_fail: bool = False) -> None:
        """The file's next GET sends `nbytes` and drops the connection; with `then_fail`, every
        later request for it gets 503 until `heal()` (a download that has to give up)."""
        self._cuts[path] = nbytes
        if then_fail:
            self._failing.add(path)

    def heal(self) -> None:
        self._cuts.clear()
        self._failing.clear()
        self._broken.clear()

    def gets(self, path: str) -> list[Served]:
        """The GETs of one file's content, in order."""
        return [
            r for r in self.requests if r.method == "GET" and r.path.endswith(f"/resolve/{COMMIT}/{path}")
        ]

    # --- the API --------------------------------------------------------------------------------

    def _repo(self, request: web.Request) -> dict[str, bytes]:
        repo = f"{request.match_info['ns']}/{request.match_info['name']}"
        if repo not in self.repos:
            raise web.HTTPNotFound(
                headers={"X-Error-Code": "RepoNotFound"}, text='{"error":"Repository not found"}'
            )
        return self.repos[repo]

    @staticmethod
    def _oid(data: bytes) -> str:
        return hashlib.sha1(data).hexdigest()

    async def _info(self, request: web.Request) -> web.Response:
        self.requests.append(Served("GET", request.path, None))
        files = self._repo(request)
        repo = f"{request.match_info['ns']}/{request.match_info['name']}"
        blobs = request.query.get("blobs") in ("True", "true", "1")
        siblings: list[dict[str, Any]] = []
        for path, data in files.items():
            entry: dict[str, Any] = {"rfilename": path}
            if blobs:
                entry.update(size=len(data), blobId=self._oid(data))
                if path.endswith(".safetensors"):
                    entry["lfs"] = {
                        "sha256": hashlib.sha256(data).hexdigest(),
                        "size": len(data),
                        "pointerSize": 130,
                    }
            siblings.append(entry)
        body = {"_id": "fake", "id": repo, "modelId": repo, "sha": COMMIT, "private": False,
                "siblings": siblings, "tags": [], "downloads": 0, "likes": 0}  # fmt: skip
        return web.json_response(body)

    async def _tree(self, request: web.Request) -> web.Response:
        self.requests.append(Served("GET", request.path, None))
        files = self._repo(request)
        entries: list[dict[str, Any]] = []
        folders = sorted({p.rsplit("/", 1)[0] for p in files if "/" in p})
        entries += [
            {"type": "directory", "oid": self._oid(f.encode()), "size": 0, "path": f} for f in folders
        ]
        for path, data in files.items():
            entry: dict[str, Any] = {"type": "file", "oid": self._oid(data), "size": len(data), "path": path}
            if path.endswith(".safetensors"):
                entry["lfs"] = {
                    "oid": hashlib.sha256(data).hexdigest(),
                    "size": len(data),
                    "pointerSize": 130,
                }
            entries.append(entry)
        return web.json_response(entries)

    async def _resolve(self, request: web.Request) -> web.StreamResponse:
        path = request.match_info["path"]
        served = Served(request.method, request.path, request.headers.get("Range"))
        self.requests.append(served)
        files = self._repo(request)
        if path not in files:
            raise web.HTTPNotFound(
                headers={"X-Error-Code": "EntryNotFound"}, text='{"error":"Entry not found"}'
            )
        if path in self._broken:
            raise web.HTTPServiceUnavailable(text='{"error":"try later"}')
        data = files[path]
        etag = f'"{hashlib.sha256(data).hexdigest()}"'
        headers = {"X-Repo-Commit": COMMIT, "ETag": etag, "X-Linked-Etag": etag,
                   "X-Linked-Size": str(len(data)), "Accept-Ranges": "bytes"}  # fmt: skip
        if request.method == "HEAD":
            return web.Response(status=200, headers={**headers, "Content-Length": str(len(data))})
        start = 0
        if served.range and served.range.startswith("bytes="):
            start = int(served.range[6:].split("-")[0])
        body = data[start:]
        status = 206 if start else 200
        if start:
            headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
        response = web.StreamResponse(status=status, headers={**headers, "Content-Length": str(len(body))})
        await response.prepare(request)
        cut = self._cuts.pop(path, None)
        if cut is not None:
            if path in self._failing:
                self._broken.add(path)
            await response.write(body[:cut])
            served.sent = cut
            assert request.transport is not None
            request.transport.abort()  # the connection dies with the file half sent
            return response
        for i in range(0, len(body), 1 << 20):
            await response.write(body[i : i + (1 << 20)])
        served.sent = len(body)
        await response.write_eof()
        return response

    # --- running it -----------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/api/models/{ns}/{name}", self._info)
        app.router.add_get("/api/models/{ns}/{name}/revision/{rev}", self._info)
        app.router.add_get("/api/models/{ns}/{name}/tree/{rev}", self._tree)
        app.router.add_route("*", "/{ns}/{name}/resolve/{rev}/{path:.+}", self._resolve)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


class ThreadedFakeHub:
    """The fake on an event loop of its own thread, for tests that call the blocking client directly."""

    def __init__(self) -> None:
        self.hub = FakeHub()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def __enter__(self) -> FakeHub:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.hub.start(), self._loop).result(10)
        return self.hub

    def __exit__(self, *_exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.hub.stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
