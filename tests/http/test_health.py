"""/healthz and /readyz on the real server, started and stopped with a real core.

Readiness is checked against the real causes: a worker's heartbeat in the journal (the
in-process one, or one written the way a worker process writes it), a journal another
connection holds locked, and a surface that says it is not connected.
"""

from __future__ import annotations

import asyncio
import io
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from bot.console import ConsoleAdapter
from bot.core import Core
from bot.http import attach
from engine.journal import Journal
from tests.helpers import WriteLock
from tests.http.conftest import StartBot


def _heartbeat(db: Path, preset: str) -> None:
    """What a worker process writes while it lives."""
    journal = Journal(db)
    try:
        journal.heartbeat("worker-process:1", preset)
    finally:
        journal.close()


async def _get(http: aiohttp.ClientSession, url: str) -> tuple[int, str]:
    async with http.get(url) as response:
        return response.status, await response.text()


async def _until(http: aiohttp.ClientSession, url: str, status: int, within: float = 60) -> str:
    """Poll `url` until it answers `status` (a worker's first heartbeat comes after start())."""
    deadline = time.monotonic() + within
    while True:
        got, text = await _get(http, url)
        if got == status:
            return text
        assert time.monotonic() < deadline, f"{url} still answers {got}: {text}"
        await asyncio.sleep(0.1)


async def test_alive_and_ready_with_the_in_process_worker(
    start_bot: StartBot, http: aiohttp.ClientSession
) -> None:
    bot = await start_bot(in_process_worker=True)
    assert bot.server.host == "127.0.0.1" and bot.server.port not in (None, 0)
    assert await _get(http, f"{bot.url}/healthz") == (200, "alive\n")
    assert await _until(http, f"{bot.url}/readyz", 200) == "ready\n"


async def test_not_ready_without_a_worker_for_each_preset_until_one_heartbeats(
    start_bot: StartBot, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    bot = await start_bot(extra_models=["wan2.1-1.3b"])
    status, text = await _get(http, f"{bot.url}/readyz")
    assert status == 503
    failing = text.splitlines()
    assert len(failing) == 2 and all("worker" in line for line in failing)
    assert any("tiny" in line for line in failing) and any("wan2.1-1.3b" in line for line in failing)
    # A worker process on another machine heartbeats through the journal.
    other = Journal(bot.core.settings.resolved_db_path)
    try:
        other.heartbeat("gpu-box:42", "tiny")
        status, text = await _get(http, f"{bot.url}/readyz")
        assert status == 503 and text.splitlines() == [line for line in failing if "wan2.1-1.3b" in line]
        other.heartbeat("gpu-box:43", "wan2.1-1.3b")
        assert await _get(http, f"{bot.url}/readyz") == (200, "ready\n")
    finally:
        other.close()


async def test_a_locked_journal_is_not_ready_and_is_named(
    start_bot: StartBot, http: aiohttp.ClientSession
) -> None:
    bot = await start_bot(busy_timeout_seconds=0.3)
    _heartbeat(bot.core.settings.resolved_db_path, "tiny")
    assert (await _get(http, f"{bot.url}/readyz"))[0] == 200
    with WriteLock(bot.core.settings.resolved_db_path):
        status, text = await _get(http, f"{bot.url}/readyz")
        assert status == 503 and text.startswith("journal:") and "locked" in text
        assert await _get(http, f"{bot.url}/healthz") == (200, "alive\n")
    assert (await _get(http, f"{bot.url}/readyz"))[0] == 200


class Unplugged(ConsoleAdapter):
    """A surface that can lose its connection, as Discord's gateway does."""

    online = True

    def connected(self) -> bool:
        return self.online


async def test_a_disconnected_surface_is_not_ready(start_bot: StartBot, http: aiohttp.ClientSession) -> None:
    adapter = Unplugged(io.StringIO(), as_json=True)
    bot = await start_bot(adapter=adapter)
    _heartbeat(bot.core.settings.resolved_db_path, "tiny")
    assert (await _get(http, f"{bot.url}/readyz"))[0] == 200
    adapter.online = False
    assert await _get(http, f"{bot.url}/readyz") == (503, "surface: console is not connected\n")


async def test_off_without_a_port_and_gone_after_close(make_settings, http: aiohttp.ClientSession) -> None:
    assert attach(Core(make_settings(http_port=None), ConsoleAdapter(io.StringIO(), as_json=True))) is None
    core = Core(make_settings(), ConsoleAdapter(io.StringIO(), as_json=True))
    server = attach(core)
    assert server is not None
    await core.start()
    url = server.url
    assert (await _get(http, f"{url}/healthz"))[0] == 200
    await core.close()
    with pytest.raises(aiohttp.ClientConnectionError):
        await _get(http, f"{url}/healthz")


async def test_readyz_answers_promptly_while_the_journal_waits_for_a_lock(
    start_bot: StartBot, http: aiohttp.ClientSession
) -> None:
    """A write waits up to the busy timeout (10 s here) for the lock: /readyz does not."""
    bot = await start_bot(busy_timeout_seconds=10)
    _heartbeat(bot.core.settings.resolved_db_path, "tiny")
    with WriteLock(bot.core.settings.resolved_db_path):
        for _ in range(2):  # the second finds the first probe still waiting, and waits on it
            began = time.monotonic()
            status, text = await _get(http, f"{bot.url}/readyz")
            assert status == 503 and text.startswith("journal:") and "locked" in text
            assert time.monotonic() - began < 5
    assert await _until(http, f"{bot.url}/readyz", 200) == "ready\n"


@dataclass
class FarmWorker:
    name: str
    preset: str
    last_seen: float
    backend: str = "farm"


async def test_workers_of_another_backend_count_for_readiness(
    start_bot: StartBot, http: aiohttp.ClientSession
) -> None:
    """A backend the journal does not know of (a Redis farm, say) reports through `worker_sources`."""
    bot = await start_bot()
    assert (await _get(http, f"{bot.url}/readyz"))[0] == 503
    seen: list[FarmWorker] = []

    async def farm(since: float) -> list[FarmWorker]:
        return [w for w in seen if w.last_seen >= since]

    bot.core.worker_sources.append(farm)
    seen.append(FarmWorker("gpu-7", "tiny", time.time() - 3 * bot.core.settings.lease_seconds))
    assert (await _get(http, f"{bot.url}/readyz"))[0] == 503  # seen too long ago
    seen.append(FarmWorker("gpu-8", "tiny", time.time()))
    assert await _get(http, f"{bot.url}/readyz") == (200, "ready\n")
