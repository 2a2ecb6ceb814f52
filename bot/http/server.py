"""The owner's HTTP server, run with the core: health, readiness, metrics and the dashboard.

- `/healthz`: 200 while the process serves HTTP at all (for a supervisor's liveness probe).
- `/readyz`: 200 when the journal takes a write, a worker was seen for every preset offered and
  every surface is connected; otherwise 503 with one line per failing check.
- `/metrics`: Prometheus' text format (`bot.http.metrics`).
- `/`: the dashboard (`bot.http.dashboard`); `/clips/<job>.mp4` its clips. Both need the token
  (`PROMPTREEL_DASHBOARD_TOKEN`, compared in constant time) or, with no token set, a loopback
  client. A clip is looked up by job number in the journal and served only from inside the
  clips folder, so no path from the URL ever reaches the file system.

Bound to loopback unless `PROMPTREEL_HTTP_HOST` says otherwise; port 0 picks a free port
(`HttpServer.port` says which).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import logging
import secrets
from pathlib import Path

from aiohttp import web

from bot.core import Core, Requester
from bot.http import dashboard, texts
from bot.http.metrics import CONTENT_TYPE, Metrics
from bot.http.views import JournalProbe, adapters_of, dashboard_data, metrics_snapshot, readiness
from bot.policy import CATEGORIES
from engine.journal import AsyncJournal

log = logging.getLogger(__name__)

COOKIE = "promptreel_dashboard"
COOKIE_DAYS = 30


def _cookie_value(token: str) -> str:
    """What the cookie holds: derived from the token, so the token itself is not stored in it."""
    return hmac.new(token.encode(), b"promptreel dashboard cookie", hashlib.sha256).hexdigest()


def _same(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def _loopback(remote: str | None) -> bool:
    try:
        return remote is not None and ipaddress.ip_address(remote.split("%")[0]).is_loopback
    except ValueError:
        return False


# Whoever passed the dashboard's token (or sits at the machine) is the bot's owner; the audit
# log names the dashboard as the actor.
DASHBOARD_OWNER = Requester("dashboard", "dashboard", None, None, is_owner=True)


class HttpServer:
    def __init__(self, core: Core) -> None:
        self.core = core
        s = core.settings
        self.host = s.http_host
        self.requested_port = s.http_port or 0
        self.token = s.dashboard_token.get_secret_value().strip() if s.dashboard_token else ""
        self.metrics = Metrics(
            core.models, categories=CATEGORIES, surfaces=[a.name for a in adapters_of(core)]
        )
        self._unsubscribe = core.events.subscribe(self.metrics.on_event)
        self.db: AsyncJournal | None = None
        self.probe: JournalProbe | None = None
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/readyz", self.readyz)
        app.router.add_get("/metrics", self.metrics_page)
        app.router.add_get("/", self.dashboard)
        app.router.add_get(r"/clips/{job_id:\d{1,12}}.mp4", self.clip)
        app.router.add_post(r"/held/{job_id:\d{1,12}}/{action:release|reject}", self.decide)
        return app

    async def start(self) -> None:
        """Open a journal connection of its own, then listen; raises OSError (address in use, say)
        for the owner to see at start-up."""
        s = self.core.settings
        self.db = await AsyncJournal.open(
            s.resolved_db_path,
            checkpoint=False,
            lease_seconds=s.lease_seconds,
            max_attempts=s.max_attempts,
            busy_timeout=s.busy_timeout_seconds,
            delivery_lease_seconds=s.delivery_lease_seconds,
        )
        self.probe = JournalProbe(self.db)
        self._runner = web.AppRunner(self.app(), access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.requested_port)
        try:
            await site.start()
        except BaseException:
            await self.stop()
            raise
        addresses = self._runner.addresses  # the bound port, where 0 asked for any free one
        self.port = addresses[0][1] if addresses else self.requested_port
        log.info("HTTP server on http://%s:%s/ (healthz, readyz, metrics, dashboard)", self.host, self.port)

    async def stop(self) -> None:
        self._unsubscribe()
        self._unsubscribe = _nothing
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self.db is not None:
            await self.db.close()
            self.db = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    # --- health and metrics ---------------------------------------------------------------------

    async def healthz(self, request: web.Request) -> web.Response:
        return web.Response(text=texts.ALIVE + "\n")

    async def readyz(self, request: web.Request) -> web.Response:
        if self.probe is None:
            return web.Response(status=503, text=texts.NOT_STARTED + "\n")
        failing = await readiness(self.core, self.probe)
        if failing:
            return web.Response(status=503, text="\n".join(failing) + "\n")
        return web.Response(text=texts.READY + "\n")

    async def metrics_page(self, request: web.Request) -> web.Response:
        if self.db is not None:
            try:
                self.metrics.update(await metrics_snapshot(self.core, self.db))
            except Exception:  # the counters are still worth a scrape; the gauges keep their last values
                log.warning("metrics: could not read the journal", exc_info=True)
        body = self.metrics.exposition()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})

    # --- the dashboard --------------------------------------------------------------------------

    def _refusal(self, request: web.Request) -> web.Response | None:
        """None when this client may see the dashboard, else the page that says why not."""
        if not self.token:
            if _loopback(request.remote):
                return None
            return _plain(403, texts.LOOPBACK_ONLY)
        header = request.headers.get("Authorization", "")
        if header.lower().startswith("bearer ") and _same(header[7:].strip(), self.token):
            return None
        if _same(request.cookies.get(COOKIE), _cookie_value(self.token)):
            return None
        given = request.query.get("token") or (header[7:].strip() if header else None)
        return _plain(401, texts.TOKEN_WRONG if given else texts.TOKEN_NEEDED)

    async def dashboard(self, request: web.Request) -> web.Response:
        if self.token and "token" in request.query:
            if not _same(request.query["token"], self.token):
                return _plain(401, texts.TOKEN_WRONG)
            # Signed in: the cookie from now on, and the token out of the address bar and history.
            response = web.HTTPSeeOther("/")
            response.set_cookie(COOKIE, _cookie_value(self.token), max_age=COOKIE_DAYS * 86400,
                                httponly=True, samesite="Strict", path="/")  # fmt: skip
            _harden(response)
            return response
        refused = self._refusal(request)
        if refused is not None:
            return refused
        if self.probe is None:
            return _plain(503, texts.NOT_STARTED)
        nonce = secrets.token_urlsafe(16)
        page = dashboard.render_page(await dashboard_data(self.core, self.probe), nonce)
        response = web.Response(text=page, content_type="text/html", charset="utf-8")
        _harden(response, nonce)
        return response

    async def decide(self, request: web.Request) -> web.StreamResponse:
        """Release or reject a held clip: the owner's decision, through the moderators' code."""
        refused = self._refusal(request)
        if refused is not None:
            return refused
        from bot.moderation import Moderation

        job_id, action = int(request.match_info["job_id"]), request.match_info["action"]
        moderation = Moderation(self.core)
        decide = moderation.release if action == "release" else moderation.reject
        answer = await decide(DASHBOARD_OWNER, job_id)
        log.info("dashboard: %s", texts.decided(job_id, answer.text))
        response = web.HTTPSeeOther("/")
        _harden(response)
        return response

    async def clip(self, request: web.Request) -> web.StreamResponse:
        refused = self._refusal(request)
        if refused is not None:
            return refused
        if self.db is None:
            return _plain(503, texts.NOT_STARTED)
        job = await self.db.get(int(request.match_info["job_id"]))
        clip_path = job.clip_path if job is not None else None
        path = await asyncio.to_thread(_inside, self.core.settings.resolved_clips_dir, clip_path)
        if path is None:
            return _plain(404, texts.NO_SUCH_CLIP)
        response = web.FileResponse(path, headers={"Content-Type": "video/mp4"})
        _harden(response)
        return response


def _nothing() -> None:
    pass


def _inside(folder: Path, clip_path: str | None) -> Path | None:
    """The clip's file, if it is a file inside `folder` once every link is resolved."""
    if not clip_path:
        return None
    path, root = Path(clip_path).resolve(), folder.resolve()
    return path if path.is_relative_to(root) and path.is_file() else None


def _plain(status: int, text: str) -> web.Response:
    response = web.Response(status=status, text=text + "\n")
    _harden(response)
    return response


def _harden(response: web.StreamResponse, nonce: str | None = None) -> None:
    """Nothing but the page's own script and style runs; nothing is cached or framed elsewhere."""
    own = f"'nonce-{nonce}'" if nonce else "'none'"
    response.headers["Content-Security-Policy"] = (
        f"default-src 'none'; script-src {own}; style-src {own}; media-src 'self'; img-src 'self';"
        " connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
