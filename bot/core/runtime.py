"""Where the bot's jobs render: its own worker thread, or a render farm through Redis.

`make_runtime` picks by `render_backend`: `local` runs `InProcessWorker` (when
`in_process_worker` is on; otherwise separate `python -m engine worker --db` processes share
the journal), `redis` runs `engine.farm.dispatch.FarmRuntime`, which hands jobs to workers on
other machines. Both take `wake()`, `start()` and `stop()`.

The in-process worker is loaded off the loop and renders on a thread.

The bot supervises it: a worker thread that dies (a bug, never a storage fault, which the
worker waits out itself) is logged and started again with the warm model, after a pause that
grows while it keeps dying. Its unfinished job comes back through the lease: the dead thread no
longer renews it, and the bot's upkeep (`bot.core.upkeep`) requeues it once it expires.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from engine.settings import EngineSettings

log = logging.getLogger(__name__)

EventFn = Callable[[str, int, dict[str, Any]], None]
IdleWait = Callable[[Awaitable[Any]], Awaitable[Any]]

# A shutdown waits this long for the worker to finish the step it is on before leaving it.
STOP_WAIT_S = 120.0
# A thread that ran this long before dying starts again at once; quicker deaths wait longer.
HEALTHY_RUN_S = 60.0
LONGEST_RESTART_WAIT_S = 60.0


class Runtime(Protocol):
    """What the core needs of whatever renders its jobs."""

    restarts: int

    async def start(self) -> None: ...

    def wake(self) -> None: ...

    async def stop(self) -> None: ...


def make_runtime(
    settings: EngineSettings, on_event: EventFn, *, idle_wait: IdleWait | None = None
) -> Runtime | None:
    """The runtime `settings` ask for, or None when other processes render from the journal.

    Raises `engine.farm.protocol.FarmConfigError` (one line for the owner) when the redis
    backend is asked for with a URL it must not use; the farm's modules load only then.
    """
    if settings.render_backend == "redis":
        from engine.farm.dispatch import FarmRuntime

        return FarmRuntime(settings, on_event, idle_wait=idle_wait)
    if getattr(settings, "in_process_worker", True):
        return InProcessWorker(settings, on_event, idle_wait=idle_wait)
    return None


class InProcessWorker:
    """Owns the worker thread; `on_event(kind, job_id, data)` is called on the event loop."""

    def __init__(
        self, settings: EngineSettings, on_event: EventFn, *, idle_wait: IdleWait | None = None
    ) -> None:
        """`idle_wait`: the core's hook declaring idle waits to a test harness (simcord)."""
        self.settings = settings
        self.on_event = on_event
        self.idle_wait: IdleWait = idle_wait or (lambda aw: aw)
        self.worker: Any = None
        self.restarts = 0
        self._thread: threading.Thread | None = None
        self._exited: asyncio.Event | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._stopping = False
        self._started_at = 0.0

    async def start(self) -> None:
        """Load the model off the loop, then render on a thread of its own, supervised.

        Raises `FolderUnwritable` if the clips folder cannot take files, `ModelUnavailable` if
        the model cannot be loaded: both need the owner, so the bot does not start.
        """
        self._loop = asyncio.get_running_loop()
        self._exited = asyncio.Event()
        self.worker = await asyncio.to_thread(self._build)
        self._launch()
        self._supervisor = asyncio.create_task(self._supervise(), name="promptreel-worker-supervisor")

    def _build(self, renderer: Any = None) -> Any:
        from engine.worker import Worker

        worker = Worker(self.settings, renderer=renderer, on_event=self._event_from_thread())
        try:
            worker.check_folders()
            worker.renderer  # noqa: B018 - loads the model here, off the loop, before any job
            worker.detector  # noqa: B018 - and the output check's detector (one warning if missing)
        except BaseException:
            worker.journal.close()
            raise
        return worker

    def _event_from_thread(self) -> Callable[..., None]:
        loop = self._loop

        def on_event(kind: str, job_id: int, **data: Any) -> None:
            with contextlib.suppress(RuntimeError):  # the loop closed under a finishing worker
                loop.call_soon_threadsafe(self.on_event, kind, job_id, data)

        return on_event

    def _launch(self) -> None:
        worker, exited, loop = self.worker, self._exited, self._loop
        assert exited is not None

        def run() -> None:
            try:
                worker.run()
            except BaseException:
                log.exception("the render worker thread died")
            finally:
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(exited.set)

        exited.clear()
        self._started_at = time.monotonic()
        self._thread = threading.Thread(target=run, name="promptreel-worker", daemon=True)
        self._thread.start()

    async def _supervise(self) -> None:
        """Start the worker again whenever its thread ends without being asked to."""
        assert self._exited is not None
        quick_deaths = 0
        while True:
            await self.idle_wait(self._exited.wait())
            if self._stopping:
                return
            quick_deaths = 0 if time.monotonic() - self._started_at >= HEALTHY_RUN_S else quick_deaths + 1
            wait = min(LONGEST_RESTART_WAIT_S, 2.0**quick_deaths - 1)
            log.warning("the render worker stopped unexpectedly; starting it again in %.0f s", wait)
            await self.idle_wait(asyncio.sleep(wait))
            if self._stopping:
                return
            old = self.worker
            try:
                self.worker = await asyncio.to_thread(self._build, old.renderer)
            except Exception:
                log.exception("the render worker could not be started again; retrying")
                self._exited.set()
                continue
            await asyncio.to_thread(old.journal.close)
            self.restarts += 1
            self._launch()

    def wake(self) -> None:
        """A job was queued: claim it now rather than at the next poll."""
        if self.worker is not None:
            self.worker.wake.set()

    async def stop(self) -> None:
        """Interrupt the render at its next step, wait for the worker to stop, then close its journal.

        The interrupted job goes back to the queue with its attempt not counted. A worker that
        does not stop within `STOP_WAIT_S` (stuck in a step) is left to end with the process;
        its journal stays open under it rather than being closed mid-write.
        """
        self._stopping = True
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
        if self.worker is None:
            return
        self.worker.stop.set()
        self.worker.wake.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, STOP_WAIT_S)
            if self._thread.is_alive():
                log.warning(
                    "the render worker is still busy after %.0f s; it ends with the process", STOP_WAIT_S
                )
                return
        await asyncio.to_thread(self.worker.journal.close)
