"""The owner's dashboard: who may see it, its clips route, and the page in a real Chromium.

Chromium runs headless on its own thread (`asyncio.to_thread`) so the bot's event loop, which
serves the page, keeps running meanwhile. The phone-sized screenshot is left in
`test-artefacts/dashboard-phone.png` at the checkout's root for a person to look at.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import time
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from engine.journal import JobState, Journal
from engine.presets import get_preset
from engine.request import build_request
from engine.worker import Worker
from tests.helpers import decode_video
from tests.http.conftest import ARTEFACTS, Bot, Browser, StartBot

TOKEN = "correct horse battery staple"
TINY = "--frames 2 --steps 1 --width 32 --height 32"


async def _status(http: aiohttp.ClientSession, url: str, **kw: Any) -> int:
    async with http.get(url, allow_redirects=False, **kw) as response:
        await response.read()
        return response.status


async def wait_delivered(bot: Bot, job_id: int, within: float = 60) -> None:
    deadline = time.monotonic() + within
    while (job := await bot.core.db.get(job_id)) is None or job.state != JobState.DELIVERED:
        assert time.monotonic() < deadline, f"job {job_id} still {job and job.state}"
        await bot.core.dispatcher.changed(within=0.5)


async def render_one(bot: Bot, renderer: Any) -> None:
    """One claim by a real worker on a thread; the rest of the queue stays queued."""
    worker = Worker(bot.core.settings, renderer=renderer, name="dashboard-test-worker")
    try:
        assert await asyncio.to_thread(worker.run_once)
    finally:
        worker.journal.close()


# --- who may see it ---------------------------------------------------------------------------------


async def test_the_token_is_required_and_checked(start_bot: StartBot, http: aiohttp.ClientSession) -> None:
    bot = await start_bot(dashboard_token=TOKEN)
    url = bot.url
    assert await _status(http, f"{url}/") == 401
    assert await _status(http, f"{url}/?token=not-it") == 401
    assert await _status(http, f"{url}/?token={TOKEN[:-1]}") == 401
    assert await _status(http, f"{url}/", headers={"Authorization": "Bearer not-it"}) == 401
    assert await _status(http, f"{url}/", cookies={"promptreel_dashboard": "forged"}) == 401
    assert await _status(http, f"{url}/clips/1.mp4") == 401
    async with http.get(f"{url}/", headers={"Authorization": f"Bearer {TOKEN}"}) as response:
        assert response.status == 200 and '<section id="queue"' in await response.text()
    # Signing in with ?token= leaves a cookie and takes the token out of the address.
    async with http.get(f"{url}/?token={TOKEN}", allow_redirects=False) as response:
        assert response.status == 303 and response.headers["Location"] == "/"
        cookie = response.cookies["promptreel_dashboard"]
    assert cookie["httponly"] and cookie["samesite"] == "Strict" and TOKEN not in cookie.value
    assert await _status(http, f"{url}/", cookies={"promptreel_dashboard": cookie.value}) == 200
    # Health and metrics say nothing a member typed: open to whatever may reach the port.
    assert await _status(http, f"{url}/metrics") == 200


def _own_address() -> str | None:
    """This machine's address on a network other than loopback, if it has one (no packet sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))
        except OSError:
            return None
        address = probe.getsockname()[0]
    return None if address.startswith("127.") or address == "0.0.0.0" else address


async def test_without_a_token_only_loopback_sees_it(
    start_bot: StartBot, http: aiohttp.ClientSession
) -> None:
    address = _own_address()
    if address is None:
        pytest.skip("this machine has no address besides loopback")
    bot = await start_bot(http_host="0.0.0.0")
    assert await _status(http, f"http://127.0.0.1:{bot.server.port}/") == 200
    assert await _status(http, f"http://{address}:{bot.server.port}/") == 403
    assert await _status(http, f"http://{address}:{bot.server.port}/clips/1.mp4") == 403
    assert await _status(http, f"http://{address}:{bot.server.port}/healthz") == 200


# --- clips ------------------------------------------------------------------------------------------


async def test_clips_are_served_by_job_number_and_only_from_the_clips_folder(
    start_bot: StartBot, http: aiohttp.ClientSession, renderer: Any, tmp_path: Path
) -> None:
    bot = await start_bot()
    await bot.say(f"alice: a red kite {TINY}")
    await render_one(bot, renderer)
    await wait_delivered(bot, 1)
    async with http.get(f"{bot.url}/clips/1.mp4") as response:
        assert response.status == 200 and response.headers["Content-Type"] == "video/mp4"
        (tmp_path / "got.mp4").write_bytes(await response.read())
    frames, _ = decode_video(tmp_path / "got.mp4")
    assert frames.shape == (2, 32, 32, 3)
    async with http.get(f"{bot.url}/clips/1.mp4", headers={"Range": "bytes=0-99"}) as response:
        assert response.status == 206 and len(await response.read()) == 100  # players seek

    # A journal row pointing outside the clips folder (directly, or through a link) is not served.
    secret = tmp_path / "secret.mp4"
    secret.write_bytes(b"not for the dashboard")
    link = bot.core.settings.resolved_clips_dir / "job-9-a1.mp4"
    link.symlink_to(secret)
    journal = Journal(bot.core.settings.resolved_db_path)
    try:
        for path in (secret, link):
            job = journal.enqueue(build_request("x", model=get_preset("tiny")), user_id="eve", adapter="x")
            [claimed] = journal.claim("forger", models=["tiny"])
            assert claimed.id == job.id and journal.complete(job.id, "forger", 1, str(path), 0.1)
            assert await _status(http, f"{bot.url}/clips/{job.id}.mp4") == 404
    finally:
        journal.close()
    for probe in ("/clips/99.mp4", "/clips/..%2F..%2Fsecret.mp4", "/clips/1.mp4/../../secret.mp4"):
        assert await _status(http, f"{bot.url}{probe}") == 404


# --- the page in Chromium ---------------------------------------------------------------------------


class Elements(HTMLParser):
    """Every element of a page as (tag, attributes, text inside it), in document order."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str], list[str]]] = []
        # Each table row's attributes and the text of its cells.
        self.rows: list[tuple[dict[str, str], list[list[str]]]] = []
        self._open: list[list[str]] = []
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        text: list[str] = []
        self.found.append((tag, {k: v or "" for k, v in attrs}, text))
        if tag == "tr":
            self.rows.append((self.found[-1][1], []))
        elif tag == "td" and self.rows:
            self.rows[-1][1].append(text)
        if tag not in ("meta", "link", "br", "img", "input", "source"):
            self._open.append(text)

    def handle_endtag(self, tag: str) -> None:
        if self._open:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        for text in self._open:
            text.append(data)

    def row_cells(self, **attrs: str) -> list[tuple[dict[str, str], list[str]]]:
        return [
            (a, ["".join(c) for c in cells])
            for a, cells in self.rows
            if all(a.get(k.rstrip("_")) == v for k, v in attrs.items())
        ]

    def all(self, tag: str, **attrs: str) -> list[tuple[dict[str, str], str]]:
        return [
            (a, "".join(t))
            for name, a, t in self.found
            if name == tag and all(a.get(k.rstrip("_").replace("_", "-")) == v for k, v in attrs.items())
        ]


HOSTILE = "<script>document.title=location.host</script><img src=x onerror=alert(1)> & a cat"


async def test_the_dashboard_in_chromium(
    start_bot: StartBot, http: aiohttp.ClientSession, renderer: Any, browse: Browser
) -> None:
    bot = await start_bot(dashboard_token=TOKEN)
    await bot.say(f"alice: a red kite over the dunes {TINY}")
    await render_one(bot, renderer)
    await wait_delivered(bot, 1)
    # Alice was served already: the two who were not go before her next job, queued first.
    await bot.say(f"alice: a second kite {TINY}")
    await bot.say(f"bob: {HOSTILE} {TINY}")
    await bot.say(f"carol: a quiet harbour at dawn {TINY}")
    await bot.say("dave: a n\u200bude statue")

    page = await asyncio.to_thread(browse.dom, f"{bot.url}/?token={TOKEN}", budget_ms=15000)
    dom = Elements(page)
    rows = dom.row_cells(class_="job")
    # Fair order: bob (job 3) and carol (4) before alice's second job (2), though it came first.
    assert [(int(a["data-job"]), cells[0], cells[2]) for a, cells in rows] == [
        (3, "1", "bob"),
        (4, "2", "carol"),
        (2, "3", "alice"),
    ]
    assert all(cells[5] for _, cells in rows)  # each with when it should be ready
    [(video, _)] = dom.all("video")
    assert video["src"] == "/clips/1.mp4" and "controls" in video
    assert [text for _, text in dom.all("span", class_="prompt")] == ["a red kite over the dunes"]
    bars = dom.all("rect", class_="bar")
    assert [a["data-category"] for a, _ in bars] == ["sexual"] and bars[0][0]["data-count"] == "1"
    assert dom.all("svg", id="refusals-chart")
    # What bob typed is shown as text: no script of his ran, no element of his exists.
    assert [cells[4] for a, cells in rows if a["data-job"] == "3"] == [HOSTILE]
    assert "<script>document.title" not in page and "&lt;script&gt;document.title" in page
    assert [a.get("src") for a, _ in dom.all("img")] == []
    assert dom.all("title")[0][1] == "Promptreel"  # the page's (the chart's bars have their own)
    assert len(dom.all("script")) == 1
    # The page's own script refreshed it (through the cookie the token left) within the budget.
    [(body, _)] = dom.all("body")
    assert "data-refreshed" in body and "data-refresh-failed" not in body
    assert dom.all("meta", name="viewport")

    shot = await asyncio.to_thread(
        browse.screenshot, f"{bot.url}/?token={TOKEN}", ARTEFACTS / "dashboard-phone.png"
    )
    header = shot.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", header[16:24]) == (390, 844)
    # The whole page at a phone's width, for a person to look over (clips, chart, audit log).
    await asyncio.to_thread(
        browse.screenshot, f"{bot.url}/?token={TOKEN}", ARTEFACTS / "dashboard-phone-full.png", height=2000
    )

    refused = await asyncio.to_thread(browse.dom, f"{bot.url}/?token=guess")
    assert "<section" not in refused and "token" in refused.lower()


# --- held clips ------------------------------------------------------------------------------------


async def test_held_clips_are_listed_and_released_or_rejected_from_the_dashboard(
    start_bot: StartBot, http: aiohttp.ClientSession, renderer: Any
) -> None:
    # A threshold of 0 holds every clip: the held path, forced honestly, with no explicit image.
    bot = await start_bot(dashboard_token=TOKEN, output_check_threshold=0.0)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    for prompt in ("a kept lighthouse", "a rejected lighthouse"):
        await bot.console.handle(f"alice: {prompt} {TINY}")
        await render_one(bot, renderer)
    held = await bot.core.db.run(lambda j: j.held_jobs(None))
    assert [job.request.prompt for job in held] == ["a kept lighthouse", "a rejected lighthouse"]
    kept, rejected = held
    async with http.get(f"{bot.url}/", headers=auth) as response:
        page = await response.text()
    assert f'<tr class="held" data-job="{kept.id}"' in page and f'action="/held/{kept.id}/release"' in page

    # Without the token nothing is decided.
    async with http.post(f"{bot.url}/held/{kept.id}/release", allow_redirects=False) as response:
        assert response.status == 401
    assert (await bot.core.db.get(kept.id)).state == JobState.HELD

    async with http.post(
        f"{bot.url}/held/{kept.id}/release", headers=auth, allow_redirects=False
    ) as response:
        assert response.status == 303
    await wait_delivered(bot, kept.id)
    async with http.post(
        f"{bot.url}/held/{rejected.id}/reject", headers=auth, allow_redirects=False
    ) as response:
        assert response.status == 303
    gone = await bot.core.db.get(rejected.id)
    assert gone.state == JobState.REJECTED
    assert not await asyncio.to_thread(Path(rejected.clip_path).exists)
    log = await bot.core.db.audit_log(None, 10)
    assert {(row["action"], row["actor_id"]) for row in log} >= {
        ("release", "dashboard"),
        ("reject", "dashboard"),
    }
