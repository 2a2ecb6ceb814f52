"""The render worker a bot runs in its own process: loaded off the loop, rendering on a thread."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

from engine.settings import EngineSettings

EventFn = Callable[[str, int, dict[str, Any]], None]


class InProcessWorker:
    """Owns the worker thread; `on_event(kind, job_id, data)` is called on the event loop."""

    def __init__(self, settings: EngineSettings, on_event: EventFn) -> None:
        self.settings = settings
        self.on_event = on_event
        self.worker: Any = None
        self._thread: threading.Thread | None = None

    async def start(self) -> None:
        """Load the model off the loop, then render on a thread of its own."""
        from engine.worker import Worker

        loop = asyncio.get_running_loop()

        def on_event(kind: str, job_id: int, **data: Any) -> None:
            loop.call_soon_threadsafe(self.on_event, kind, job_id, data)

        def build() -> Worker:
            worker = Worker(self.settings, on_event=on_event)
            worker.renderer  # noqa: B018 - loads the model here, off the loop, before any job
            return worker

        self.worker = await asyncio.to_thread(build)
        self._thread = threading.Thread(target=self.worker.run, name="promptreel-worker", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """A job was queued: claim it now rather than at the next poll."""
        if self.worker is not None:
            self.worker.wake.set()

    async def stop(self) -> None:
        """Let the worker finish the step it is on, then close its journal."""
        if self.worker is None:
            return
        self.worker.stop.set()
        self.worker.wake.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 30)
        await asyncio.to_thread(self.worker.journal.close)
