"""An in-process console session for tests: the real `Console` and `Core` on this test's journal.

`await session.say("alice: a cat")` hands one line to `Console.handle` and returns the events
written since the last call (JSON mode), so a test reads exactly what a script reading the
console would: the line's answer, and any event of a job that ended meanwhile (a moderator's
`/mod clear` cancels jobs, and the dispatcher reports each). `answer_to(line)` returns the one
answer a line must get. The Core runs without a worker thread: jobs are recorded, never
rendered, which is all a test of what the console *answers* needs.
"""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from bot.config import Settings
from bot.console import Console, ConsoleAdapter
from bot.core import Core

ANSWERS = ("queued", "refused", "info")


@dataclass
class Session:
    console: Console
    core: Core
    out: io.StringIO
    as_json: bool
    _read: int = field(default=0)

    async def say(self, line: str) -> list[dict[str, Any]]:
        """The events (JSON mode) one line produced; every line must produce exactly one."""
        await self.console.handle(line)
        return [json.loads(text) for text in self.new_output().splitlines()]

    async def answer_to(self, line: str) -> dict[str, Any]:
        """The answer to one line; failing the test unless there is exactly one."""
        events = await self.say(line)
        answers = [event for event in events if event["event"] in ANSWERS]
        assert len(answers) == 1, (line[:80], events)
        return answers[0]

    def new_output(self) -> str:
        self.console.adapter.flush()  # the console writes from a thread of its own
        text = self.out.getvalue()[self._read :]
        self._read += len(text)
        return text


@asynccontextmanager
async def console_session(settings: Settings, *, as_json: bool = True) -> AsyncIterator[Session]:
    out = io.StringIO()
    adapter = ConsoleAdapter(out, as_json=as_json)
    core = Core(settings, adapter)
    await core.start()
    try:
        yield Session(Console(core, adapter, mods={"mod"}), core, out, as_json)
    finally:
        await core.close()
