"""Workers: claim jobs from the journal, render them with a warm model, store the clips.

The same `Worker` runs inside the bot (on a thread, so the event loop stays free) or as its
own process (`python -m engine worker`); several processes can share one database file.
A heartbeat thread renews the leases while a render runs, so only a worker that really died
(or hung) loses its job to another one.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.journal import Job, Journal
from engine.settings import EngineSettings

log = logging.getLogger(__name__)

EventFn = Callable[..., None]


class LeaseLost(Exception):
    """Another attempt owns the job now; this worker must drop it without reporting."""


def default_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Worker:
    def __init__(
        self,
        settings: EngineSettings,
        *,
        journal: Journal | None = None,
        name: str | None = None,
        model: str | None = None,
        renderer: Any = None,
        on_event: EventFn | None = None,
        idle_poll: float = 0.5,
    ) -> None:
        from engine.presets import get_preset

        self.settings = settings
        self.preset = get_preset(model or settings.model)
        self.name = name or default_name()
        self.journal = journal or self._open_journal()
        self.on_event = on_event or (lambda *a, **k: None)
        self.idle_poll = idle_poll
        self.stop = threading.Event()
        self.wake = threading.Event()
        self._renderer = renderer

    def _open_journal(self) -> Journal:
        s = self.settings
        return Journal(s.resolved_db_path, lease_seconds=s.lease_seconds, max_attempts=s.max_attempts)

    @property
    def renderer(self) -> Any:
        """Loaded on first use, then kept warm for every job this worker renders."""
        if self._renderer is None:
            from engine.render import Renderer

            self._renderer = Renderer(self.settings, self.preset)
        return self._renderer

    # --- the loop ----------------------------------------------------------------------------

    def run(self, *, exit_when_idle: bool = False) -> None:
        self.renderer  # load before the first claim, so a job never waits for a model load  # noqa: B018
        self.journal.heartbeat(self.name, self.preset.name)
        heartbeat = threading.Thread(target=self._heartbeat_loop, name="promptreel-heartbeat", daemon=True)
        heartbeat.start()
        try:
            while not self.stop.is_set():
                if not self.run_once():
                    if exit_when_idle and not self._anything_waiting():
                        return
                    self.wake.wait(self.idle_poll)
                    self.wake.clear()
        finally:
            self.stop.set()
            heartbeat.join(timeout=5)

    def _anything_waiting(self) -> bool:
        return self.journal.count_waiting(model=self.preset.name) > 0

    def _heartbeat_loop(self) -> None:
        """Renew leases and requeue jobs of dead workers, on a connection of its own."""
        journal = self._open_journal()
        interval = max(0.05, self.settings.lease_seconds / 3)
        try:
            while not self.stop.wait(interval):
                journal.heartbeat(self.name, self.preset.name)
                for job_id, state in journal.requeue_expired():
                    log.warning("job %s: worker lease expired, now %s", job_id, state)
                    self.on_event("requeued", job_id, state=str(state))
        finally:
            journal.close()

    def run_once(self) -> bool:
        """Claim and render one batch; False when there was nothing to claim."""
        for job_id, state in self.journal.requeue_expired():
            self.on_event("requeued", job_id, state=str(state))
        jobs = self.journal.claim(self.name, models=[self.preset.name], max_batch=self.settings.max_batch)
        if not jobs:
            return False
        for job in jobs:
            self.on_event("claimed", job.id)
        for batch in _batches(jobs):
            self.process(batch)
        return True

    # --- one batch -----------------------------------------------------------------------------

    def process(self, jobs: list[Job]) -> None:
        from engine.render import Cancelled

        attempts = {j.id: j.attempts for j in jobs}
        last_write = 0.0
        began = time.monotonic()

        def on_progress(step: int, total: int) -> None:
            nonlocal last_write
            now = time.monotonic()
            if step == total or now - last_write >= self.settings.progress_interval_seconds:
                last_write = now
                for job in jobs:
                    if not self.journal.progress(job.id, self.name, attempts[job.id], step, total):
                        raise LeaseLost(job.id)
            for job in jobs:
                self.on_event("progress", job.id, step=step, total=total)

        def should_cancel() -> bool:
            return all(self.journal.cancel_requested(j.id) for j in jobs)

        try:
            results = self.renderer.render(
                [j.request for j in jobs], on_progress=on_progress, should_cancel=should_cancel
            )
        except Cancelled:
            for job in jobs:
                self.journal.finish_cancelled(job.id, self.name, attempts[job.id])
                self.on_event("finished", job.id)
            return
        except LeaseLost as lost:
            log.warning("job %s: lease lost mid-render; dropping the batch", lost.args[0])
            return
        except Exception as exc:  # a poison job must not take the worker down with it
            log.exception("render failed for jobs %s", [j.id for j in jobs])
            for job in jobs:
                self.journal.fail(job.id, self.name, attempts[job.id], _reason(exc), retry=True)
                self.on_event("finished", job.id)
            return

        for job, result in zip(jobs, results, strict=True):
            self._store(job, attempts[job.id], result)
            self.on_event("finished", job.id)
        # What a job costs besides its steps (encoding, storing the clip) makes every ETA of a
        # short clip too early unless it is counted too.
        overhead = max(0.0, time.monotonic() - began - results[0].seconds) / len(jobs)
        per_job = results[0].seconds_per_frame_step / len(results)
        self.journal.record_speed(self.preset.name, per_job, overhead)

    def _store(self, job: Job, attempt: int, result: Any) -> None:
        from engine.encode import encode_clip

        if self.journal.cancel_requested(job.id):
            self.journal.finish_cancelled(job.id, self.name, attempt)
            return
        clips = self.settings.resolved_clips_dir
        # One file name per attempt: a stale worker can never overwrite the clip of a newer one.
        path = clips / f"job-{job.id}-a{attempt}.mp4"
        try:
            encode_clip(result.frames, path, fps=job.request.fps, metadata=job.request.clip_metadata())
        except Exception as exc:
            log.exception("encoding job %s failed", job.id)
            self.journal.fail(job.id, self.name, attempt, _reason(exc), retry=True)
            return
        if not self.journal.complete(job.id, self.name, attempt, str(path), result.seconds):
            log.warning("job %s: finished after losing the lease; discarding clip", job.id)
            path.unlink(missing_ok=True)


def _batches(jobs: list[Job]) -> list[list[Job]]:
    """The claimed jobs as runs that may share one pipeline call, by their requests' keys now.

    The journal batches by the key stored when a job was queued, and a job queued before a
    field joined the key carries the older key: two of them may match and still need calls of
    their own (different fps, say). Rendered as one batch, they would fail as incompatible on
    every attempt until they died.
    """
    batches: list[list[Job]] = []
    for job in jobs:
        if batches and batches[-1][0].request.batch_key() == job.request.batch_key():
            batches[-1].append(job)
        else:
            batches.append([job])
    return batches


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}"[:300]


def run_worker_process(
    *, db: Path | None, model: str | None, name: str | None, exit_when_idle: bool = False
) -> int:
    """`python -m engine worker`: a worker process sharing the bot's database."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = EngineSettings()
    if db is not None:
        settings = settings.model_copy(update={"db_path": db})
    worker = Worker(settings, name=name, model=model)
    signal.signal(signal.SIGTERM, lambda *_: worker.stop.set())
    log.info("worker %s rendering %s from %s", worker.name, worker.preset.name, settings.resolved_db_path)
    worker.run(exit_when_idle=exit_when_idle)
    return 0
