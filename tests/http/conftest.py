"""Fixtures for the owner's HTTP server: a running core with its real server on loopback, and a
real headless Chromium (Debian's `chromium`, installed here when the machine lacks it).

`start_bot(**settings)` starts the real `Core` with the console adapter and `bot.http.attach`,
on port 0, and returns a `Bot` (core, console, server URL); it is closed at teardown.
`chromium` is the browser's path; `browse.dom(url)` / `browse.screenshot(url, path)` run it
headless with a fresh profile each time. Screenshots go to `ARTEFACTS` (gitignored).
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.config import Settings
from bot.console import Console, ConsoleAdapter
from bot.core import Core
from bot.http import HttpServer, attach
from tests.helpers import REPO, isolated_settings

# Test artefacts a person may want to look at (the dashboard's phone screenshot); gitignored.
ARTEFACTS = REPO / "test-artefacts"

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]


@pytest.fixture
def make_settings(tmp_path: Path, tiny_models_dir: Path) -> Callable[..., Settings]:
    """Bot settings rooted in this test's tmp_path, the HTTP server on a free loopback port."""

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "data_dir": tmp_path / "data",
            "models_dir": tiny_models_dir,
            "offline": False,
            "in_process_worker": False,
            "http_port": 0,
            "rate_burst": 50,
            "rate_per_minute": 60.0,
            "max_waiting_per_user": 50,
        }
        return isolated_settings(Settings, **{**values, **overrides})

    return make


@pytest.fixture(scope="session")
def renderer(tiny_models_dir: Path) -> Any:
    """One warm tiny Renderer for the tests that render a clip on a worker of their own."""
    from engine.render import Renderer

    return Renderer(isolated_settings(Settings, models_dir=tiny_models_dir, offline=False), "tiny")


@dataclass
class Bot:
    core: Core
    console: Console
    out: io.StringIO
    server: HttpServer

    @property
    def url(self) -> str:
        return self.server.url

    async def say(self, line: str) -> None:
        await self.console.handle(line)


StartBot = Callable[..., Awaitable[Bot]]


@pytest.fixture
async def start_bot(make_settings: Callable[..., Settings]) -> AsyncIterator[StartBot]:
    cores: list[Core] = []

    async def start(adapter: ConsoleAdapter | None = None, **overrides: Any) -> Bot:
        out = io.StringIO()
        adapter = adapter or ConsoleAdapter(out, as_json=True)
        core = Core(make_settings(**overrides), adapter)
        server = attach(core)
        assert server is not None
        cores.append(core)
        await core.start()
        return Bot(core, Console(core, adapter, mods={"mod"}), out, server)

    yield start
    for core in cores:
        await core.close()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A client that keeps no cookies unless a test hands them over itself."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as session:
        yield session


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's chromium, installed with apt-get when this machine does not have it yet."""
    found = shutil.which("chromium")
    if found is None:
        subprocess.run(["apt-get", "update"], check=False, capture_output=True, timeout=600)
        subprocess.run(
            ["apt-get", "install", "-y", "--no-install-recommends", "chromium"],
            check=True,
            capture_output=True,
            timeout=1200,
        )
        found = shutil.which("chromium")
    assert found is not None, "apt-get installed chromium, yet it is not on PATH"
    return found


class Browser:
    def __init__(self, binary: str) -> None:
        self.binary = binary

    def _run(self, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
        with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
            command = [self.binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args]
            return subprocess.run(command, capture_output=True, text=True, timeout=timeout)

    def dom(self, url: str, *, budget_ms: int = 3000, width: int = 390, height: int = 844) -> str:
        """The page's DOM after its scripts ran (`--dump-dom`), at a phone's window size."""
        proc = self._run(
            f"--window-size={width},{height}", f"--virtual-time-budget={budget_ms}", "--dump-dom", url
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        return proc.stdout

    def screenshot(self, url: str, path: Path, *, width: int = 390, height: int = 844) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        proc = self._run(
            f"--window-size={width},{height}", "--virtual-time-budget=3000", f"--screenshot={path}", url
        )
        assert proc.returncode == 0 and path.is_file(), proc.stderr[-2000:]
        return path


@pytest.fixture(scope="session")
def browse(chromium: str) -> Browser:
    return Browser(chromium)
