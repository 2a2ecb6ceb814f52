"""A real bot on the redis backend for the farm tests: the real `Core` and `Console` (JSON mode)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
from collections.abc import AsyncIterator
from typing import Any

from bot.config import Settings
from bot.console import Console, ConsoleAdapter
from bot.core import Core

PROMPT = "a paper boat --frames {frames} --steps {steps} --width {size} --height {size} --seed {seed}"


class FarmBot:
    def __init__(self, core: Core, console: Console, out: io.StringIO) -> None:
        self.core = core
        self.console = console
        self.out = out

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.out.getvalue().splitlines() if line.strip()]

    async def submit(
        self, user: str = "alice", *, steps: int = 2, seed: int = 1, frames: int = 2, size: int = 16
    ) -> int:
        """Send one prompt; the job id the bot answered with. The tiny model takes up to 10 steps:
        a longer render takes more frames and pixels (32 frames of 128x128: about 0.5 s a step)."""
        before = len(self.events())
        line = PROMPT.format(steps=steps, seed=seed, frames=frames, size=size)
        await self.console.handle(f"{user}: {line}")
        self.console.adapter.flush()
        # Progress and preview lines of jobs already rendering carry a job too: only the answer.
        [answer] = [e for e in self.events()[before:] if e["event"] in ("queued", "refused")]
        assert answer["event"] == "queued", answer
        return int(answer["job"])

    async def answer(self, line: str) -> dict[str, Any]:
        """The one answer a command line gets."""
        before = len(self.events())
        await self.console.handle(line)
        self.console.adapter.flush()
        [answer] = [e for e in self.events()[before:] if e["event"] not in ("progress", "preview")]
        return answer

    def finished(self, event: str = "delivered") -> list[int]:
        return [int(e["job"]) for e in self.events() if e["event"] == event]

    async def wait_for(self, jobs: set[int], *, event: str = "delivered", within: float = 120) -> None:
        """Until every job in `jobs` had its `event`, or `within` seconds (TimeoutError)."""
        async with asyncio.timeout(within):
            while not jobs <= set(self.finished(event)):
                await self.core.dispatcher.changed(within=0.2)


@contextlib.asynccontextmanager
async def farm_bot(settings: Settings) -> AsyncIterator[FarmBot]:
    out = io.StringIO()
    adapter = ConsoleAdapter(out, as_json=True)
    core = Core(settings, adapter)
    await core.start()
    try:
        yield FarmBot(core, Console(core, adapter, mods={"mod"}, owners=frozenset({"boss"})), out)
    finally:
        await core.close()
        adapter.close()


def wait_until(check: Any, *, within: float, what: str) -> Any:
    """Poll another process's writes (Redis, the journal) until `check()` is truthy."""
    import time

    deadline = time.monotonic() + within
    while not (value := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)
    return value
