"""Workers against storage that fails for real: a journal locked by another connection past the
busy timeout, a disk with no byte left (a small tmpfs), a clips folder that cannot be written
(a file standing where it should be, or a read-only mount), and a stop in the middle of a render.

The machine's faults are nobody's prompt's fault: the worker must wait them out with its job's
attempts untouched, log each one once (not once per retry), and carry on when it clears.
In-process workers are steered through `on_event` and watched through their log (`LogWatch`);
the worker processes are polled through their log file and the journal, with deadlines.
"""

from __future__ import annotations

import contextlib
import logging
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.journal import JobState, Journal
from engine.settings import EngineSettings
from engine.worker import Worker
from tests.engine.test_worker import Events, _spawn_worker, _tail, _worker_env, assert_is_mp4, enqueue, start
from tests.helpers import LogWatch, SmallDisk, WriteLock, child_env, read_only_mount

# Short enough that a test sees many retries in a second, long enough to be real waits.
WORKER_SETTINGS = {"busy_timeout_seconds": 0.2, "storage_retry_seconds": 0.2}


def held_at_first_step(job_id: int) -> tuple[threading.Event, threading.Event, Callable[..., None]]:
    """(reached, go_on, callback): the worker's thread waits in `callback` at the job's first step."""
    reached, go_on = threading.Event(), threading.Event()

    def hold(kind: str, seen: int, **info: Any) -> None:
        if kind == "progress" and seen == job_id and not reached.is_set():
            reached.set()
            go_on.wait(timeout=60)

    return reached, go_on, hold


def retries(logs: LogWatch, containing: str) -> int:
    return len(logs.lines(logging.DEBUG, containing, exactly=True))


def join(thread: threading.Thread, timeout: float = 120) -> None:
    thread.join(timeout)
    assert not thread.is_alive(), "the worker never went idle"


# --- the journal locked by another connection ---------------------------------------------------


def test_a_lock_held_past_the_busy_timeout_mid_render_is_waited_out(
    settings: EngineSettings, db: Journal, make_worker: Callable[..., Worker]
) -> None:
    first = enqueue(db, "a lighthouse at dusk", frames=2, steps=4)
    second = enqueue(db, "a lantern", user="bob", frames=2, steps=1)
    reached, go_on, hold = held_at_first_step(first.id)
    events = Events(also=hold)
    with LogWatch("engine.worker") as logs:
        thread = start(make_worker(on_event=events))
        assert reached.wait(timeout=60), "the render never reported progress"
        lock = WriteLock(settings.resolved_db_path)
        try:
            go_on.set()
            # Several writes failed past the busy timeout (progress, then the result): still going.
            assert logs.wait_for(lambda w: retries(w, "cannot be written") >= 3, timeout=60), logs.lines()
            assert thread.is_alive(), "the worker died of the lock"
            held = db.get(first.id)  # readers are never locked out
            assert held.state is JobState.RUNNING and held.attempts == 1
        finally:
            lock.release()
        join(thread)

    for job in (first, second):
        done = db.get(job.id)
        assert done.state is JobState.RENDERED, (done.state, done.error)
        assert done.attempts == 1  # the lock cost no attempt
        assert_is_mp4(done.clip_path)
    began = logs.lines(logging.WARNING, "cannot be written")
    assert len(began) == 1, began  # one line for the whole episode, however many retries
    assert str(settings.resolved_db_path) in began[0] and "locked" in began[0]
    assert len(logs.lines(logging.WARNING, "can be written again")) == 1
    assert events.ids("delayed") == [first.id]  # its result waited: its requester is told, once


def test_worker_process_waits_for_a_locked_journal_then_renders(
    settings: EngineSettings, db: Journal, tiny_models_dir: Path, tmp_path: Path
) -> None:
    job = enqueue(db, "a rowing boat", frames=2, steps=1)
    env = _worker_env(settings, tiny_models_dir) | {
        "PROMPTREEL_BUSY_TIMEOUT_SECONDS": "0.2",
        "PROMPTREEL_STORAGE_RETRY_SECONDS": "0.2",
    }
    log_path = tmp_path / "worker.log"
    with WriteLock(settings.resolved_db_path) as lock:
        proc = _spawn_worker(settings.resolved_db_path, env, log_path, "--exit-when-idle")
        try:
            deadline = time.monotonic() + 90
            while "cannot be written" not in _tail(log_path):
                assert proc.poll() is None, f"the worker exited on the lock:\n{_tail(log_path)}"
                assert time.monotonic() < deadline, f"no word of the lock within 90 s:\n{_tail(log_path)}"
                time.sleep(0.01)  # polling interval for another process's log, not synchronisation
            assert proc.poll() is None
            assert db.get(job.id).state is JobState.QUEUED
            lock.release()
            assert proc.wait(timeout=120) == 0, _tail(log_path)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    done = db.get(job.id)
    assert done.state is JobState.RENDERED and done.attempts == 1, (done.state, _tail(log_path))
    text = log_path.read_text()
    assert text.count("cannot be written") == 1, text
    assert "Traceback" not in text


# --- a disk with no byte left ---------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[SmallDisk]:
    disk = SmallDisk(tmp_path / "disk", size_kib=16 * 1024)
    try:
        yield disk
    finally:
        disk.close()


def test_disk_full_mid_render_waits_with_the_clip_then_carries_on(
    small_disk: SmallDisk, make_worker: Callable[..., Worker], make_settings: Callable[..., EngineSettings],
    tiny_models_dir: Path,
) -> None:  # fmt: skip
    settings = make_settings(
        data_dir=small_disk.path / "data", models_dir=tiny_models_dir, progress_interval_seconds=0.0,
        **WORKER_SETTINGS,
    )  # fmt: skip
    db = Journal(settings.resolved_db_path)
    try:
        first = enqueue(db, "a comet over snow", frames=4, steps=3, width=64, height=64)
        second = enqueue(db, "a kite", user="bob", frames=2, steps=1)
        reached, go_on, hold = held_at_first_step(first.id)
        events = Events(also=hold)
        with LogWatch("engine") as logs:
            thread = start(make_worker(settings=settings, on_event=events))
            assert reached.wait(timeout=60)
            small_disk.fill()
            try:
                go_on.set()
                assert logs.wait_for(lambda w: retries(w, "clips folder") >= 3, timeout=60), logs.lines()
                assert thread.is_alive()
                held = db.get(first.id)
                assert held.state is JobState.RUNNING and held.attempts == 1
                assert db.get(second.id).state is JobState.QUEUED
            finally:
                small_disk.free()
            join(thread)
        for job in (first, second):
            done = db.get(job.id)
            assert done.state is JobState.RENDERED, (done.state, done.error)
            assert done.attempts == 1 and done.error is None
            assert_is_mp4(done.clip_path)
        began = logs.lines(logging.WARNING, "cannot take clips")
        assert len(began) == 1, began
        assert "No space left on device" in began[0] and "Free some space" in began[0]
        assert logs.lines(logging.WARNING, "ffmpeg") == []  # ffmpeg's own failures are not repeated
        assert events.ids("delayed") == [first.id]
    finally:
        db.close()


# --- a clips folder that cannot be written ------------------------------------------------------


@contextlib.contextmanager
def file_in_its_place(folder: Path) -> Iterator[None]:
    """A plain file where the folder should be: mkdir and every write in it fail, even for root."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    folder.write_text("not a folder")
    try:
        yield
    finally:
        folder.unlink()


@contextlib.contextmanager
def mounted_read_only(folder: Path) -> Iterator[None]:
    with read_only_mount(folder):
        yield


@pytest.mark.parametrize(
    "unwritable", [file_in_its_place, mounted_read_only], ids=["file-in-its-place", "read-only"]
)
def test_unwritable_clips_folder_delays_jobs_without_using_their_attempts(
    settings: EngineSettings, db: Journal, make_worker: Callable[..., Worker], unwritable: Any
) -> None:
    first = enqueue(db, "a paper crane", frames=2, steps=1)
    second = enqueue(db, "a paper boat", user="bob", frames=2, steps=1)
    clips = settings.resolved_clips_dir
    delayed = threading.Event()
    events = Events(also=lambda kind, *_a, **_k: kind == "delayed" and delayed.set())
    with LogWatch("engine") as logs:
        with unwritable(clips):
            thread = start(make_worker(on_event=events))
            assert delayed.wait(timeout=60), f"no delay reported: {events.items} {logs.lines()}"
            assert logs.wait_for(lambda w: retries(w, "clips folder") >= 3, timeout=60)
            held = db.get(first.id)
            assert held.state is JobState.RUNNING and held.attempts == 1 and held.delay
            assert db.get(second.id).state is JobState.QUEUED and db.get(second.id).attempts == 0
            assert thread.is_alive()
        join(thread)  # the folder works again

    for job in (first, second):
        done = db.get(job.id)
        assert done.state is JobState.RENDERED, (done.state, done.error)
        assert done.attempts == 1 and done.error is None and done.delay is None
        assert Path(done.clip_path).parent == clips
        assert_is_mp4(done.clip_path)
    began = logs.lines(logging.WARNING, "cannot take clips")
    assert len(began) == 1, began
    assert str(clips) in began[0] and "can write to" in began[0]
    assert logs.lines(logging.WARNING, "ffmpeg") == []  # ffmpeg's own failures are not repeated
    assert len(logs.lines(logging.WARNING, "takes clips again")) == 1
    assert [kind for kind, job_id, _ in events.items if job_id == first.id].count("delayed") == 1


# --- a stop in the middle of a render -----------------------------------------------------------


def test_stop_interrupts_a_render_between_steps_and_gives_the_job_back(
    db: Journal, make_worker: Callable[..., Worker]
) -> None:
    job = enqueue(db, "a long tracking shot", frames=2, steps=8)
    reached, go_on, hold = held_at_first_step(job.id)
    events = Events(also=hold)
    worker = make_worker(on_event=events)
    thread = start(worker)
    assert reached.wait(timeout=60)
    worker.stop.set()
    go_on.set()
    join(thread, 60)

    back = db.get(job.id)
    assert back.state is JobState.QUEUED  # not cancelled, not dead, not rendered
    assert back.attempts == 0 and back.owner is None and back.error is None
    steps = [info["step"] for kind, seen, info in events.items if kind == "progress" and seen == job.id]
    assert max(steps) < 8  # stopped between steps, not at the end
    assert events.ids("released") == [job.id]

    again = make_worker(name="w-next")
    join(start(again))
    done = db.get(job.id)
    assert done.state is JobState.RENDERED and done.attempts == 1
    assert_is_mp4(done.clip_path)


# --- unusable storage at a worker process's start --------------------------------------------------


def _worker_run(db_path: Path, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    cmd = [
        sys.executable,
        "-m",
        "engine",
        "worker",
        "--db",
        str(db_path),
        "--model",
        "tiny",
        "--exit-when-idle",
    ]
    return subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=120)


def _one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 1, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, proc.stderr
    return lines[0]


def test_worker_process_with_a_read_only_journal_says_so_in_one_line(
    settings: EngineSettings, db: Journal, tiny_models_dir: Path, tmp_path: Path
) -> None:
    enqueue(db, "a gull", frames=2, steps=1)
    db.close()
    folder = settings.resolved_db_path.parent
    env = _worker_env(settings, tiny_models_dir)
    with read_only_mount(folder):
        proc = _worker_run(settings.resolved_db_path, env, tmp_path)
    line = _one_error_line(proc)
    assert str(settings.resolved_db_path) in line and "writable" in line


def test_worker_process_with_a_file_where_its_data_folder_should_be_says_so_in_one_line(
    tmp_path: Path, tiny_models_dir: Path
) -> None:
    (tmp_path / "data").write_text("not a folder")
    db_path = tmp_path / "data" / "promptreel.db"
    env = child_env(
        PROMPTREEL_MODELS_DIR=str(tiny_models_dir), PROMPTREEL_DEVICE="cpu", PROMPTREEL_OFFLINE="true"
    )
    line = _one_error_line(_worker_run(db_path, env, tmp_path))
    assert str(db_path) in line and "writable" in line


def test_worker_process_with_an_unwritable_clips_folder_says_so_in_one_line(
    settings: EngineSettings, db: Journal, tiny_models_dir: Path, tmp_path: Path
) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    (settings.data_dir / "clips").write_text("not a folder")
    env = _worker_env(settings, tiny_models_dir)
    line = _one_error_line(_worker_run(settings.resolved_db_path, env, tmp_path))
    assert str(settings.data_dir / "clips") in line and "clips folder" in line
