"""What keeps jobs moving when workers or storage fail, whichever workers serve the queue.

- Expired leases go back to the queue here too, not only in workers: with every worker dead
  (a crashed process, a thread that died), nobody else would, and the job would wait forever.
- A requester whose rendered job is held up by the machine (no room for the clip, a clips
  folder that cannot be written, a locked journal) hears once that there is a delay, not a
  failure: through the adapter's optional `on_delay(job, text)`.

Both run on a timer and when a worker reports (`notify`); a journal that cannot be written
is logged once per episode, and the pass simply runs again later.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from bot import i18n
from bot.core.delivery import Adapter, Dispatcher, IdleWait
from bot.i18n import texts
from engine.journal import AsyncJournal, Job, JobState, is_storage_fault
from engine.storage import Episodes

log = logging.getLogger(__name__)


async def _at_most(awaitable: Any, seconds: float) -> None:
    """Await in the calling task for up to `seconds` (so `idle_wait` declares this task's wait)."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await awaitable


class Upkeep:
    def __init__(
        self,
        db: AsyncJournal,
        adapters: Sequence[Adapter],
        dispatchers: Sequence[Dispatcher],
        *,
        every_s: float,
        idle_wait: IdleWait | None = None,
        retention: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """`idle_wait`: the core's hook declaring idle waits to a test harness (simcord).
        `retention`: deletes what is past the retention period; it decides itself how often."""
        self.db = db
        self.retention = retention
        self.idle_wait: IdleWait = idle_wait or (lambda aw: aw)
        self.adapters = {adapter.name: adapter for adapter in adapters}
        self.dispatchers = list(dispatchers)
        self.every_s = every_s
        self.faults = Episodes(logger=log, then="trying again every round")
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._delayed: set[int] = set()  # reported by the in-process worker, not yet told
        self._told: set[tuple[int, int]] = set()  # (job, attempt) whose requester heard of it

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="promptreel-upkeep")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def notify(self, kind: str, job_id: int, data: dict[str, Any] | None = None) -> None:
        """A worker event, on the loop: a `delayed` job is told about at once."""
        if kind == "delayed":
            self._delayed.add(job_id)
            self._wake.set()

    async def _run(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception as exc:
                if is_storage_fault(exc):
                    self.faults.failed("journal", f"upkeep: the journal cannot be written ({exc})")
                else:  # a bug: its traceback once, then the same pass again on the next round
                    self.faults.failed("pass", f"upkeep pass failed ({exc!r})", exc_info=exc)
            else:
                self.faults.worked("journal", "upkeep: the journal can be written")
                self.faults.worked("pass", "upkeep passes work")
            await self.idle_wait(_at_most(self._wake.wait(), self.every_s))
            self._wake.clear()

    async def run_once(self) -> None:
        """Requeue expired leases, then tell requesters of new delays, then apply retention."""
        await self._tell_delays()
        if self.retention is not None:
            await self.retention()
        for job_id, state in await self.db.requeue_expired():
            log.warning("job %s: its worker stopped renewing the lease; now %s", job_id, state)
            for dispatcher in self.dispatchers:
                dispatcher.notify("requeued", job_id, {"state": str(state)})

    async def _tell_delays(self) -> None:
        jobs: dict[int, Job] = {}
        for name in self.adapters:
            jobs |= {job.id: job for job in await self.db.delayed(name)}
        for job_id in self._delayed - set(jobs):
            job = await self.db.get(job_id)  # the worker may not have been able to note it
            if job is not None and job.adapter in self.adapters:
                jobs[job_id] = job
        self._delayed.clear()
        running = {(j.id, j.attempts) for j in jobs.values() if j.state == JobState.RUNNING}
        for key in sorted(running - self._told):
            # Kept for the process's life: one small entry per delayed job, and never told twice.
            self._told.add(key)
            job = jobs[key[0]]
            tell = getattr(self.adapters[job.adapter], "on_delay", None)
            if tell is not None:
                await self._tell(tell, job)

    async def _tell(self, tell: Any, job: Job) -> None:
        try:
            with i18n.speaking(job.reply.get("lang")):
                await tell(job, texts.STORAGE_DELAY)
        except Exception:
            log.exception("telling the requester of job %s about its delay failed", job.id)
