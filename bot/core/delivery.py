"""Following jobs after intake: progress to the adapter, and each result delivered exactly once.

Results are found in the journal, not in memory, so a restarted bot picks up where the
old one stopped, and jobs rendered by worker processes are delivered the same way as those
of the in-process worker. Each delivery is begun (under a lease this process renews while the
adapter sends) before the adapter sends and recorded as sent right after, on a journal
connection of the dispatcher's own, so the record never waits behind intake. A reply whose
sender stopped renewing is handed to an adapter again once the lease expired, never while it is
live; the adapter can then check whether the earlier reply went out (see the Discord adapter).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from bot import i18n
from bot.core.events import JobEvent, JobEvents
from bot.i18n import texts
from engine.journal import AsyncJournal, Job, JobState

log = logging.getLogger(__name__)

MAX_DELIVERY_ATTEMPTS = 6
STOP_GRACE_S = 30.0


IdleWait = Callable[[Awaitable[Any]], Awaitable[Any]]


class Adapter(Protocol):
    """What a surface implements so the dispatcher can follow its jobs.

    Optional: `on_position(job, position, eta_s)` to refresh a waiting job's status, and
    `undeliverable(job, reason)` to tell the requester a clip could not be posted.
    """

    name: str

    async def on_progress(self, job: Job, step: int, total: int) -> None:
        """Show a running job's progress; `job.preview_path`, when set, is its latest live preview
        (a small JPEG that may already be gone by the time it is read: then show none)."""
        ...

    async def deliver(self, job: Job) -> dict[str, Any] | None:
        """Send the result of a finished job (clip, failure or cancellation) to its requester."""
        ...


class DeliveryError(Exception):
    """The adapter could not deliver; `retry` says whether trying again later can help.

    `retry_after`: seconds the network asked us to wait (a 429's reset header); the next try
    waits at least that long, and the usual backoff when it is longer.
    """

    def __init__(self, message: str, *, retry: bool = True, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry = retry
        self.retry_after = retry_after


async def _at_most(awaitable: Any, seconds: float) -> None:
    """Await in the calling task for up to `seconds`, so `idle_wait` declares the task that waits.

    (`asyncio.wait_for` runs the awaitable in a child task, so a wait declared inside it left
    the waiting task itself looking busy to a harness such as simcord.)
    """
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await awaitable


def _by_position(item: tuple[Job, Any]) -> int:
    return item[1].position


def job_language(job: Job) -> str | None:
    """The language its requester was answered in (`Requester.language`); None: the bot's."""
    return job.reply.get("lang")


def backoff(attempt: int) -> float:
    return min(300.0, 2.0 * 2 ** max(0, attempt - 1))


class Dispatcher:
    def __init__(
        self,
        db: AsyncJournal,
        adapter: Adapter,
        *,
        idle_wait: IdleWait | None = None,
        poll: float = 0.5,
        events: JobEvents | None = None,
    ) -> None:
        self.db = db
        # Outcomes and deliveries are told here: the one place that sees each once across processes.
        self.events = events or JobEvents()
        self.adapter = adapter
        # Test harnesses (simcord) need to know when the bot is idle on purpose.
        self.idle_wait: IdleWait = idle_wait or (lambda aw: aw)
        self.poll = poll
        # Tries of one reply before giving up (and telling the requester, where possible).
        self.max_attempts = MAX_DELIVERY_ATTEMPTS
        # Seconds `stop()` lets sends in progress finish (a clip upload) before cancelling them.
        self.stop_grace = STOP_GRACE_S
        self._wake = asyncio.Event()
        self._changed = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None
        self._inflight: dict[int, asyncio.Task[None]] = {}
        # (step, preview path) last shown per job attempt: a new preview at the same step is news too.
        self._progress_seen: dict[tuple[int, int], tuple[int, str | None]] = {}
        self._events: asyncio.Queue[tuple[str, int, dict[str, Any]]] = asyncio.Queue()
        # Waiting jobs' status messages are refreshed only when what they say changed: near the
        # head of the queue (exact positions) this often; further back ("about N min") rarely,
        # and at most `far_edits` of them a pass, since every edit spends the channel's budget.
        self.position_refresh = 15.0
        self.far_refresh = 300.0
        self.far_edits = 20
        self._positions_at = float("-inf")
        self._far_at = float("-inf")
        self._shown_line: dict[int, str] = {}
        self._since = float("inf")

    def start(self) -> None:
        self._since = self.db.sync.clock()
        self._task = asyncio.create_task(self._run(), name="promptreel-dispatcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        # Sends in progress may finish; one stuck past the grace is cancelled, its reply left
        # `sending` under a lease that expires, so the next start looks before it sends again.
        inflight = list(self._inflight.values())
        if inflight:
            _, stuck = await asyncio.wait(inflight, timeout=self.stop_grace)
            for task in stuck:
                task.cancel()
            for task in inflight:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    def notify(self, kind: str, job_id: int, data: dict[str, Any] | None = None) -> None:
        """Called on the loop (from the worker thread via call_soon_threadsafe) to wake us at once."""
        self._events.put_nowait((kind, job_id, data or {}))
        self._wake.set()

    def note_position(self, job_id: int, position: int, eta_s: float) -> None:
        """The reply to the request showed this position; refresh only once what it says changes."""
        self._shown_line[job_id] = texts.queue_line(position, eta_s)

    async def changed(self, within: float) -> None:
        """Wait until something was delivered, or `within` seconds pass."""
        async with self._changed:
            await self.idle_wait(_at_most(self._changed.wait(), within))

    async def _signal(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def _run(self) -> None:
        db = self.db
        adapter = self.adapter
        while True:
            try:
                await self._drain_events()
                await self._poll_progress()
                for job in await db.deliverable(adapter.name):
                    if job.id not in self._inflight:
                        self._inflight[job.id] = asyncio.create_task(self._deliver(job))
                await self._refresh_positions()
            except Exception:
                log.exception("dispatcher pass failed")
            await self.idle_wait(_at_most(self._wake.wait(), self.poll))
            self._wake.clear()

    async def _drain_events(self) -> None:
        while not self._events.empty():
            kind, job_id, data = self._events.get_nowait()
            if kind == "progress":
                await self._progress(job_id, data["step"], data["total"])

    async def _progress(self, job_id: int, step: int, total: int, job: Job | None = None) -> None:
        job = job or await self.db.get(job_id)
        # A late progress event must never be shown after the result went out.
        if job is None or job.adapter != self.adapter.name or job.delivery in ("sending", "sent"):
            return
        # Keyed by attempt: a job retried after a lost worker counts its steps from 1 again.
        key = (job.id, job.attempts)
        seen_step, seen_preview = self._progress_seen.get(key, (-1, None))
        if seen_step > step or (seen_step == step and seen_preview == job.preview_path):
            return
        self._progress_seen[key] = (step, job.preview_path)
        try:
            self._shown_line.pop(job_id, None)
            with i18n.speaking(job_language(job)):
                await self.adapter.on_progress(job, step, total)
        except Exception:
            log.exception("progress update for job %s failed", job_id)

    async def _refresh_positions(self) -> None:
        """Tell the adapter when a waiting job moved up the queue (if it shows positions)."""
        show = getattr(self.adapter, "on_position", None)
        now = asyncio.get_running_loop().time()
        if show is None or now - self._positions_at < self.position_refresh:
            return
        self._positions_at = now
        depth: int | None = texts.EXACT_POSITIONS
        if now - self._far_at >= self.far_refresh:
            self._far_at, depth = now, None
        far_edits = 0
        for job, where in sorted(await self.db.positions(self.adapter.name, depth=depth), key=_by_position):
            with i18n.speaking(job_language(job)):
                line = texts.queue_line(where.position, where.eta_s)
            shown = self._shown_line.get(job.id)
            if shown == line or (shown is None and job.created_at >= self._since):
                # Unchanged, or queued by this process, whose reply shows (or is about to show)
                # the position: only jobs from before a restart start out unknown.
                self._shown_line[job.id] = line
                continue
            if where.position > texts.EXACT_POSITIONS:
                if far_edits >= self.far_edits:
                    continue  # left as shown: a later pass gets to it
                far_edits += 1
            self._shown_line[job.id] = line
            try:
                with i18n.speaking(job_language(job)):
                    await show(job, where.position, where.eta_s)
            except Exception:
                log.exception("position update for job %s failed", job.id)

    async def _poll_progress(self) -> None:
        """Progress of jobs rendered by worker processes reaches us only through the journal."""
        # Running jobs only: `waiting()` also parses and fair-orders the whole queue, which on every
        # wake-up (each progress event) kept the journal's thread busy and delayed intake.
        for job in await self.db.running():
            if job.state == JobState.RUNNING and job.progress_step and job.progress_total:
                await self._progress(job.id, job.progress_step, job.progress_total, job)

    async def _deliver(self, job: Job) -> None:
        i18n.use(job_language(job))  # a task of its own: the requester's language throughout
        db = self.db
        try:
            if not await db.begin_delivery(job.id, seen_attempts=job.delivery_attempts):
                return
            if job.delivery_attempts == 0:  # its first answer: what happened to it, said once
                self.events.ended(job)
            keep = asyncio.create_task(self._keep_lease(job.id), name=f"promptreel-lease-{job.id}")
            try:
                updates = await self.adapter.deliver(job)
            except DeliveryError as exc:
                attempts = job.delivery_attempts + 1
                give_up = not exc.retry or attempts >= self.max_attempts
                log.warning("delivery of job %s failed (attempt %s): %s", job.id, attempts, exc)
                wait = max(backoff(attempts), exc.retry_after or 0.0)
                await db.delivery_failed(job.id, str(exc), retry_in=None if give_up else wait)
                self._tell_failed(job, attempts, give_up)
                if give_up:
                    await self._tell_undeliverable(job, str(exc))
                return
            except Exception as exc:
                log.exception("delivery of job %s crashed", job.id)
                attempts = job.delivery_attempts + 1
                retry = None if attempts >= self.max_attempts else backoff(attempts)
                await db.delivery_failed(job.id, f"{type(exc).__name__}: {exc}"[:300], retry_in=retry)
                self._tell_failed(job, attempts, retry is None)
                if retry is None:  # whatever the reason it gave up, the requester hears of it
                    await self._tell_undeliverable(job, texts.DELIVERY_BROKE)
                return
            finally:
                keep.cancel()
            await db.finish_delivery(job.id, **(updates or {}))
            self.events.emit(JobEvent.of("delivered", job, surface=self.adapter.name))
        finally:
            self._inflight.pop(job.id, None)
            self._shown_line.pop(job.id, None)
            for key in [k for k in self._progress_seen if k[0] == job.id]:
                del self._progress_seen[key]
            await self._signal()
            self._wake.set()

    def _tell_failed(self, job: Job, attempts: int, gave_up: bool) -> None:
        kind = "undeliverable" if gave_up else "delivery_retry"
        self.events.emit(JobEvent.of(kind, job, surface=self.adapter.name, attempt=attempts))

    async def _keep_lease(self, job_id: int) -> None:
        """Renew the delivery's lease while the send is in progress (a large upload takes time):
        another process takes a reply over only once its sender has stopped renewing."""
        every = max(0.05, self.db.sync.delivery_lease_seconds / 3)
        while True:
            await self.idle_wait(asyncio.sleep(every))
            if not await self.db.renew_delivery(job_id):
                log.warning("job %s: the delivery's lease was lost mid-send (this process stalled)", job_id)
                return

    async def _tell_undeliverable(self, job: Job, reason: str) -> None:
        """The requester hears that their video exists but could not be posted, where possible."""
        tell = getattr(self.adapter, "undeliverable", None)
        if tell is None:
            return
        try:
            await tell(job, reason)
        except Exception:
            log.warning("could not tell the requester of job %s about the failed delivery", job.id)
