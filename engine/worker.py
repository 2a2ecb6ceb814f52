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
from typing import Any, TypeVar

from engine.journal import Job, Journal, is_lock_fault, is_storage_fault
from engine.patience import Patience, Stopping
from engine.preview import Previews
from engine.previewfiles import PreviewFiles
from engine.settings import EngineSettings
from engine.storage import Episodes, check_writable, fix_for, storage_trouble

log = logging.getLogger(__name__)

EventFn = Callable[..., None]
T = TypeVar("T")


class LeaseLost(Exception):
    """Another attempt owns the job now; this worker must drop it without reporting."""


def default_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Worker:
    """Claims, renders and stores jobs until `stop` is set.

    Storage faults (the journal locked past the busy timeout or full, the clips folder not
    writable) never end the worker: it waits with growing pauses (`storage_retry_seconds` at
    most), logs each fault once when it starts and once when it ends, and carries on. Setting
    `stop` interrupts a render between two steps and gives its job back to the queue.

    Events (`on_event(kind, job_id, **info)`, on the worker's thread): claimed, progress,
    finished, requeued, released (given back unfinished by a stop), delayed (storage holds a
    rendered job up; `reason` says why, for the owner).
    """

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
        self.on_event = on_event or (lambda *a, **k: None)
        self.idle_poll = idle_poll
        self.stop = threading.Event()
        self.wake = threading.Event()
        self.faults = Episodes(longest_wait=settings.storage_retry_seconds, logger=log)
        self.patience = Patience(self.faults, self.stop, settings.resolved_db_path)
        self._renderer = renderer
        self._detector: Any = None
        self._detector_loaded = False
        self.journal = journal or self._open_journal()
        # Live previews: when they are due, and whether this machine can afford them (measured
        # on the first one, then kept for this worker's life); their files under the clips folder.
        self.previews = Previews.from_settings(settings)
        self.preview_files = PreviewFiles(settings.resolved_clips_dir)
        from engine.credentials import load_signing

        # Read and tried once at start-up (after the journal, whose faults come first); None,
        # said once in the log, means clips go out unsigned.
        self.signing = load_signing(settings)

    def _connect(self) -> Journal:
        s = self.settings
        return Journal(
            s.resolved_db_path,
            lease_seconds=s.lease_seconds,
            max_attempts=s.max_attempts,
            busy_timeout=s.busy_timeout_seconds,
        )

    def _open_journal(self) -> Journal:
        """Open the journal, waiting while another process holds its lock (a migration, say).

        A journal that cannot be used at all raises `JournalError` at once: that needs the owner.
        """
        while True:
            try:
                journal = self._connect()
            except Exception as exc:
                if not is_lock_fault(exc):
                    raise
                if self.stop.wait(self.patience.failed(exc)):
                    raise Stopping() from exc
                continue
            self.patience.worked()
            return journal

    def check_folders(self) -> None:
        """Before the first job: the clips folder must take files (`FolderUnwritable` if not)."""
        check_writable(self.settings.resolved_clips_dir)

    @property
    def renderer(self) -> Any:
        """Loaded on first use, then kept warm for every job this worker renders."""
        if self._renderer is None:
            from engine.render import Renderer

            self._renderer = Renderer(self.settings, self.preset)
        return self._renderer

    @property
    def detector(self) -> Any:
        """The output check's detector, loaded with the renderer; None when the check is off
        (by setting, or because the detector cannot be loaded: then clips go out unchecked)."""
        if not self._detector_loaded:
            from engine.outputcheck import load_detector

            self._detector = load_detector() if self.settings.output_check else None
            self._detector_loaded = True
        return self._detector

    # --- storage faults --------------------------------------------------------------------------

    def _must(self, write: Callable[[], T], *, holding: tuple[Job, int] | None = None) -> T:
        """A journal write that has to happen (see `Patience.must`). `holding`: the job (and
        attempt) that waits on this write, whose requester hears of the delay once."""
        if holding is None:
            return self.patience.must(write)
        job, attempt = holding
        told = lambda exc: self._delayed(job, attempt, f"the journal cannot be written ({exc})")  # noqa: E731
        return self.patience.must(write, on_first_fault=told)

    def _delayed(self, job: Job, attempt: int, why: str) -> None:
        """Storage holds up a rendered job: say so in the journal if it can, and to in-process listeners."""
        try:
            self.journal.note_delay(job.id, self.name, attempt, why)
        except Exception as exc:
            if not is_storage_fault(exc):
                raise
        self.on_event("delayed", job.id, reason=why)

    # --- the loop ----------------------------------------------------------------------------

    def run(self, *, exit_when_idle: bool = False) -> None:
        self.renderer  # load before the first claim, so a job never waits for a model load  # noqa: B018
        self.detector  # noqa: B018 - likewise; warns once here if the output check cannot run
        self.patience.may(lambda: self.journal.heartbeat(self.name, self.preset.name), None)
        self._sweep_previews()
        heartbeat = threading.Thread(target=self._heartbeat_loop, name="promptreel-heartbeat", daemon=True)
        heartbeat.start()
        try:
            while not self.stop.is_set():
                try:
                    worked = self.run_once()
                    idle = not worked and exit_when_idle and not self._anything_waiting()
                except Stopping:
                    return
                except Exception as exc:
                    if not is_storage_fault(exc):
                        raise
                    self.stop.wait(self.patience.failed(exc))
                    continue
                self.patience.worked()
                if idle:
                    return
                if not worked:
                    self.wake.wait(self.idle_poll)
                    self.wake.clear()
        finally:
            self.stop.set()
            heartbeat.join(timeout=5)

    def _sweep_previews(self) -> None:
        """Delete preview files no running job owns (left by a worker that died mid-render)."""
        running = self.patience.may(lambda: self.journal.running(), None, writes=False)
        if running is not None:
            self.preview_files.sweep({(j.id, j.attempts) for j in running})

    def _anything_waiting(self) -> bool:
        return self.journal.count_waiting(model=self.preset.name) > 0

    def _heartbeat_loop(self) -> None:
        """Renew leases and requeue jobs of dead workers, on a connection of its own.

        It must outlive every fault: if it stopped, this worker's jobs would be taken from it.
        """
        journal: Journal | None = None
        interval = max(0.05, self.settings.lease_seconds / 3)
        try:
            while not self.stop.wait(interval):
                try:
                    if journal is None:
                        journal = self._connect()
                    journal.heartbeat(self.name, self.preset.name)
                    for job_id, state in journal.requeue_expired():
                        log.warning("job %s: worker lease expired, now %s", job_id, state)
                        self.on_event("requeued", job_id, state=str(state))
                except Exception as exc:
                    if is_storage_fault(exc):
                        self.patience.failed(exc)
                    else:  # a bug: its traceback once per episode; leases must still be renewed
                        self.faults.failed("heartbeat", f"worker heartbeat failed ({exc!r})", exc_info=exc)
                    continue
                self.patience.worked()
                self.faults.worked("heartbeat", "worker heartbeat works")
        finally:
            if journal is not None:
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
        """Render, store and report one batch; its live previews' files go when it ends, however."""
        try:
            self._process(jobs)
        finally:
            for job in jobs:
                self.preview_files.done(job.id)

    def _process(self, jobs: list[Job]) -> None:
        from engine.render import Cancelled

        attempts = {j.id: j.attempts for j in jobs}
        last_write = 0.0
        began = time.monotonic()

        def write_progress(job: Job, step: int, total: int) -> bool:
            return self.journal.progress(job.id, self.name, attempts[job.id], step, total)

        def on_progress(step: int, total: int) -> None:
            nonlocal last_write
            now = time.monotonic()
            if step == total or now - last_write >= self.settings.progress_interval_seconds:
                last_write = now
                for job in jobs:
                    # A progress write the journal cannot take is skipped: the render goes on.
                    if not self.patience.may(lambda j=job: write_progress(j, step, total), True):
                        raise LeaseLost(job.id)
            for job in jobs:
                self.on_event("progress", job.id, step=step, total=total)

        def should_cancel() -> bool:
            # A stop interrupts the render between two steps, as a cancel does.
            if self.stop.is_set():
                return True
            return self.patience.may(
                lambda: all(self.journal.cancel_requested(j.id) for j in jobs), False, writes=False
            )

        def on_preview(step: int, _total: int, images: list[Any]) -> None:
            files = self.preview_files
            for job, image in zip(jobs, images, strict=True):
                path = files.write(job.id, attempts[job.id], step, image)
                if path is None:
                    continue
                # Fenced like progress; skipped, never waited for, while the journal fails.
                if self.patience.may(
                    lambda j=job, p=path: self.journal.preview(j.id, self.name, attempts[j.id], str(p), step),
                    False,
                ):
                    files.shown(job.id, path)
                else:
                    files.discard(path)

        try:
            results = self.renderer.render(
                [j.request for j in jobs],
                on_progress=on_progress,
                should_cancel=should_cancel,
                previews=self.previews,
                on_preview=on_preview,
            )
        except Cancelled:
            for job in jobs:
                self._stopped(job, attempts[job.id])
            return
        except LeaseLost as lost:
            log.warning("job %s: lease lost mid-render; dropping the batch", lost.args[0])
            return
        except Exception as exc:  # a poison job must not take the worker down with it
            log.exception("render failed for jobs %s", [j.id for j in jobs])
            for job in jobs:
                self._fail(job, attempts[job.id], exc)
                self.on_event("finished", job.id)
            return

        for job, result in zip(jobs, results, strict=True):
            if self._store(job, attempts[job.id], result):
                self.on_event("finished", job.id)
        # What a job costs besides its steps (encoding, storing the clip) makes every ETA of a
        # short clip too early unless it is counted too.
        overhead = max(0.0, time.monotonic() - began - results[0].seconds) / len(jobs)
        per_job = results[0].seconds_per_frame_step / len(results)
        self.patience.may(lambda: self.journal.record_speed(self.preset.name, per_job, overhead), None)

    def _stopped(self, job: Job, attempt: int) -> None:
        """The render stopped early: cancelled by its requester, or interrupted by a shutdown."""
        if self._cancelled(job, attempt):
            self.on_event("finished", job.id)
            return
        # Interrupted by this machine's shutdown: nobody's fault, so the attempt is not counted.
        self._release(job, attempt)

    def _release(self, job: Job, attempt: int) -> None:
        try:
            released = self.journal.release(job.id, self.name, attempt)
        except Exception as exc:
            if not is_storage_fault(exc):
                raise
            log.warning("job %s: could not give it back to the queue (%s); it is retried once its lease ends",
                        job.id, exc)  # fmt: skip
            return
        if released:
            log.info("job %s: interrupted by a stop, back in the queue (attempt not counted)", job.id)
            self.on_event("released", job.id)

    def _fail(self, job: Job, attempt: int, exc: BaseException) -> None:
        """The job's own fault: back to the queue while attempts remain, else dead."""
        self._must(lambda: self.journal.fail(job.id, self.name, attempt, _reason(exc), retry=True))

    def _cancelled(self, job: Job, attempt: int) -> bool:
        """If its requester cancelled the job, record it as cancelled and say so."""
        if not self.patience.may(lambda: self.journal.cancel_requested(job.id), False, writes=False):
            return False
        self._must(lambda: self.journal.finish_cancelled(job.id, self.name, attempt))
        return True

    def _store(self, job: Job, attempt: int, result: Any) -> bool:
        """Encode and record the clip; False if the job went back to the queue unfinished."""
        from engine.finish import fingerprint, sign, write_clip
        from engine.outputcheck import clip_score

        if self._cancelled(job, attempt):
            return True
        # Scored from the frames in memory; the journal decides `held` when it records the clip.
        score = clip_score(self.detector, result.frames, self.settings.output_check_frames, job.id)
        clips = self.settings.resolved_clips_dir
        # One file name per attempt: a stale worker can never overwrite the clip of a newer one.
        path = clips / f"job-{job.id}-a{attempt}.mp4"
        told = False
        mark = self._wants_mark(job)
        while True:
            try:
                write_clip(result.frames, path, job.request, mark=mark, private=job.guild_id is None)
                sign(path, self.signing, job.request, self.settings.bot_name)
                break
            except Exception as exc:
                trouble = (str(exc), None) if is_storage_fault(exc) else storage_trouble(exc, clips)
                if trouble is None:  # the job's own fault: it uses up an attempt
                    log.exception("encoding job %s failed", job.id)
                    self._fail(job, attempt, exc)
                    return True
                why, code = trouble
            # The machine's fault: the job waits with its frames in memory, attempts untouched.
            problem = f"clips folder {clips} cannot take clips ({why}). {fix_for(clips, code)}"
            wait = self.faults.failed("clips", problem)
            if not told:
                told = True
                self._delayed(job, attempt, f"the clips folder cannot take the clip ({why})")
            if self.stop.wait(wait):
                self._release(job, attempt)
                return False
            if self._cancelled(job, attempt):
                return True
        if told:
            self.faults.worked("clips", f"clips folder {clips} takes clips")
        hashes = fingerprint(path)

        def complete() -> bool:
            # The fingerprint commits with the result: one write to wait for, one delay to tell.
            with self.journal.atomic():
                if hashes is not None:
                    self.journal.record_print(job.id, hashes)
                return self.journal.complete(
                    job.id,
                    self.name,
                    attempt,
                    str(path),
                    result.seconds,
                    check_score=score,
                    default_threshold=self.settings.output_check_threshold,
                )

        try:
            done = self._must(complete, holding=(job, attempt))
        except Stopping:
            log.warning(
                "job %s: stopped before its clip %s could be recorded; it is retried later", job.id, path
            )
            raise
        if not done:
            log.warning("job %s: finished after losing the lease; discarding clip", job.id)
            path.unlink(missing_ok=True)
        return True

    def _wants_mark(self, job: Job) -> bool:
        """Whether the job's server asked for the visible label (`/mod mark on`); a settings
        read that fails leaves the clip unmarked rather than the job stuck."""
        try:
            return bool(self.journal.server_settings(job.guild_id).get("visible_mark"))
        except Exception:
            log.warning("job %s: server settings unreadable; no visible mark", job.id, exc_info=True)
            return False


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
    # A journal or clips folder that cannot be written ends here with one line (see __main__).
    worker = Worker(settings, name=name, model=model)
    worker.check_folders()
    signal.signal(signal.SIGTERM, lambda *_: worker.stop.set())
    log.info("worker %s rendering %s from %s", worker.name, worker.preset.name, settings.resolved_db_path)
    worker.run(exit_when_idle=exit_when_idle)
    return 0
