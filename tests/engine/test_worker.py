"""Workers against a real journal file and the real tiny model: rendering, recovery after a
restart or a SIGKILL, poison jobs, cancellation, and a stale worker losing its job.

In-process tests steer the worker through its `on_event` callback (which runs on the worker's
thread, so holding it holds the render at a known step); only the SIGKILL test, where another
process is involved, polls the database, always with a deadline.
"""

from __future__ import annotations

import dataclasses
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from engine.journal import Job, JobState, Journal
from engine.request import RenderRequest, build_request
from engine.settings import EngineSettings
from engine.worker import Worker
from tests.helpers import child_env, run_until_idle


class Events:
    """Records a worker's on_event calls; `also` runs on the worker thread after recording."""

    def __init__(self, also: Callable[..., None] | None = None) -> None:
        self.items: list[tuple[str, int, dict[str, Any]]] = []
        self.also = also

    def __call__(self, kind: str, job_id: int, **info: Any) -> None:
        self.items.append((kind, job_id, info))
        if self.also is not None:
            self.also(kind, job_id, **info)

    def ids(self, kind: str) -> list[int]:
        return [job_id for k, job_id, _ in self.items if k == kind]


def request(prompt: str, **options: Any) -> RenderRequest:
    options.setdefault("seed", 7)
    return build_request(prompt, model="tiny", **options)


def enqueue(journal: Journal, prompt: str, user: str = "alice", **options: Any) -> Job:
    return journal.enqueue(request(prompt, **options), user_id=user, adapter="discord")


def clips_of(settings: EngineSettings, job_id: int) -> list[str]:
    """Every file in the clips folder belonging to a job, hidden partial files included."""
    folder = settings.resolved_clips_dir
    if not folder.exists():
        return []
    return sorted(p.name for p in folder.iterdir() if f"job-{job_id}-" in p.name)


def assert_is_mp4(path: str | Path) -> None:
    data = Path(path).read_bytes()
    assert len(data) > 100 and data[4:8] == b"ftyp", f"{path} is not an MP4"


def start(worker: Worker) -> threading.Thread:
    thread = threading.Thread(target=worker.run, kwargs={"exit_when_idle": True}, daemon=True)
    thread.start()
    return thread


# --- (a) rendering --------------------------------------------------------------------------------


def test_worker_renders_queued_jobs_to_clips(settings: EngineSettings, db: Journal, make_worker: Any) -> None:
    first = enqueue(db, "a corgi surfing", user="alice", frames=8, steps=2)
    second = enqueue(db, "a heron in the rain", user="bob", frames=4, steps=3)
    events = Events()
    worker = make_worker(renderer=None, on_event=events)  # loads the saved tiny model itself
    run_until_idle(worker)

    for job in (first, second):
        done = db.get(job.id)
        assert done.state is JobState.RENDERED, (done.state, done.error)
        assert done.attempts == 1 and done.owner is None
        expected = settings.data_dir / "clips" / f"job-{job.id}-a1.mp4"
        assert done.clip_path == str(expected)
        assert_is_mp4(expected)
        assert clips_of(settings, job.id) == [expected.name]
        assert done.render_seconds > 0 and done.delivery == "pending"
        assert done.progress_step == done.progress_total == job.request.steps
    assert events.ids("claimed") == [first.id, second.id]
    assert events.ids("finished") == [first.id, second.id]
    steps = [info["step"] for kind, job_id, info in events.items if kind == "progress" and job_id == first.id]
    assert steps == [1, 2]
    speed = db.conn.execute("SELECT sec_per_cost, samples FROM speeds WHERE model = 'tiny'").fetchone()
    assert speed["samples"] == 2 and speed["sec_per_cost"] > 0
    assert db.conn.execute("SELECT model FROM workers WHERE name = 'w-test'").fetchone()[0] == "tiny"


# --- (b) restart: a lost worker's job is taken over, nothing is lost or rendered twice ------------


def test_restart_recovers_an_expired_lease(settings: EngineSettings, db: Journal, make_worker: Any) -> None:
    jobs = [enqueue(db, f"prompt {n}", user=f"user{n}", frames=2, steps=1) for n in range(4)]
    # A worker that claimed a job an hour ago and then vanished: its lease is long over.
    ghost = Journal(settings.resolved_db_path, lease_seconds=30, clock=lambda: time.time() - 3600)
    [lost] = ghost.claim("ghost-worker")
    assert lost.id == jobs[0].id and lost.attempts == 1

    events = Events()
    run_until_idle(make_worker(on_event=events))

    assert events.ids("requeued") == [lost.id]
    assert sorted(events.ids("claimed")) == [j.id for j in jobs]  # each claimed once by this worker
    for job in jobs:
        done = db.get(job.id)
        assert done.state is JobState.RENDERED, (done.state, done.error)
        assert done.attempts == (2 if job.id == lost.id else 1)
        assert clips_of(settings, job.id) == [Path(done.clip_path).name]
        assert_is_mp4(done.clip_path)
    assert db.stats()["states"] == {"rendered": 4}

    before = db.get(lost.id)
    assert not ghost.complete(lost.id, "ghost-worker", 1, "/clips/ghost.mp4", 1.0)
    assert db.get(lost.id) == before
    ghost.close()


# --- (c) SIGKILL mid-render -----------------------------------------------------------------------


def _worker_env(settings: EngineSettings, tiny_models_dir: Path) -> dict[str, str]:
    return child_env(
        PROMPTREEL_DATA_DIR=str(settings.data_dir),
        PROMPTREEL_MODELS_DIR=str(tiny_models_dir),
        PROMPTREEL_LEASE_SECONDS="2",
        PROMPTREEL_PROGRESS_INTERVAL_SECONDS="0",
        PROMPTREEL_DEVICE="cpu",
        PROMPTREEL_OFFLINE="true",
    )


def _spawn_worker(db_path: Path, env: dict[str, str], log: Path, *extra: str) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "engine", "worker", "--db", str(db_path), "--model", "tiny", *extra]
    with log.open("wb") as out:
        # cwd: the test's folder, so a developer's .env cannot configure the worker.
        return subprocess.Popen(cmd, env=env, cwd=log.parent, stdout=out, stderr=subprocess.STDOUT)


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:] if log.exists() else ""


def test_sigkill_mid_render_is_rendered_again_exactly_once(
    settings: EngineSettings, db: Journal, tiny_models_dir: Path, tmp_path: Path
) -> None:
    # Slow enough (10 steps of 32 frames) to be caught mid-render, fast enough to redo.
    job = enqueue(db, "a slow pan over a harbour", frames=32, steps=10, width=64, height=64)
    env = _worker_env(settings, tiny_models_dir)
    db_path = settings.resolved_db_path
    first_log, second_log = tmp_path / "worker1.log", tmp_path / "worker2.log"

    first = _spawn_worker(db_path, env, first_log)
    try:
        deadline = time.monotonic() + 120
        while True:
            now = db.get(job.id)
            if now.state is JobState.RUNNING and (now.progress_step or 0) >= 1:
                break
            assert first.poll() is None, f"worker exited early:\n{_tail(first_log)}"
            assert now.state in (JobState.QUEUED, JobState.RUNNING), (now.state, _tail(first_log))
            assert time.monotonic() < deadline, f"no progress within 120 s:\n{_tail(first_log)}"
            time.sleep(0.01)  # polling interval for another process's writes, not synchronisation
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert first.returncode == -signal.SIGKILL

    killed = db.get(job.id)
    assert killed.state is JobState.RUNNING, f"the render finished before the kill: {killed.state}"
    assert killed.attempts == 1 and 1 <= killed.progress_step < killed.progress_total
    killed_owner = killed.owner
    assert killed_owner == f"{socket.gethostname()}:{first.pid}"
    assert clips_of(settings, job.id) == []

    second = _spawn_worker(db_path, env, second_log, "--exit-when-idle")
    try:
        assert second.wait(timeout=180) == 0, _tail(second_log)
    finally:
        if second.poll() is None:
            second.kill()
            second.wait()

    done = db.get(job.id)
    assert done.state is JobState.RENDERED, (done.state, done.error, _tail(second_log))
    assert done.attempts == 2
    assert done.clip_path == str(settings.resolved_clips_dir / f"job-{job.id}-a2.mp4")
    assert clips_of(settings, job.id) == [f"job-{job.id}-a2.mp4"]
    assert_is_mp4(done.clip_path)

    # The killed worker's identity can no longer finish the job, even if something replays it.
    assert not db.complete(job.id, killed_owner, 1, "/clips/zombie.mp4", 1.0)
    assert not db.progress(job.id, killed_owner, 1, 10, 10)
    assert db.get(job.id) == done


# --- (d) a poison job -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "broken",
    [{"width": 12, "height": 12}, {"frames": 0}],
    ids=["size-not-multiple-of-8", "zero-frames"],
)
def test_poison_job_dies_after_max_attempts_and_the_worker_goes_on(
    settings: EngineSettings, db: Journal, make_worker: Any, broken: dict[str, int]
) -> None:
    poison_request = dataclasses.replace(request("a glitch", frames=2, steps=1), **broken)
    poison = db.enqueue(poison_request, user_id="alice", adapter="discord")
    normal = enqueue(db, "a calm lake", user="alice", frames=2, steps=1)  # behind it in alice's rounds
    events = Events()
    run_until_idle(make_worker(on_event=events))

    dead = db.get(poison.id)
    assert dead.state is JobState.DEAD
    assert dead.attempts == settings.max_attempts == 3
    assert dead.error and ":" in dead.error  # "ExceptionType: message", for the user and the logs
    assert dead.delivery == "pending" and dead.finished_at is not None
    assert clips_of(settings, poison.id) == []
    assert events.ids("claimed") == [poison.id] * 3 + [normal.id]

    fine = db.get(normal.id)
    assert fine.state is JobState.RENDERED and fine.attempts == 1
    assert_is_mp4(fine.clip_path)


# --- (e) cancel mid-render ----------------------------------------------------------------------------


def test_cancel_mid_render_stops_the_job_and_the_worker_goes_on(
    settings: EngineSettings, db: Journal, make_worker: Any
) -> None:
    target = enqueue(db, "a very long take", user="alice", frames=4, steps=6)
    after = enqueue(db, "the next one", user="bob", frames=2, steps=1)
    at_step = threading.Event()
    cancel_sent = threading.Event()

    def hold_at_first_step(kind: str, job_id: int, **info: Any) -> None:
        if kind == "progress" and job_id == target.id and info["step"] >= 1 and not at_step.is_set():
            at_step.set()
            cancel_sent.wait(timeout=60)  # keep the render at this step until the cancel is in

    events = Events(also=hold_at_first_step)
    thread = start(make_worker(on_event=events))
    try:
        assert at_step.wait(timeout=60), "the render never reported progress"
        asked = db.cancel(target.id, by="moderator")  # from this thread, on another connection
        assert asked.state is JobState.RUNNING and asked.cancel_requested
    finally:
        cancel_sent.set()
    thread.join(timeout=60)
    assert not thread.is_alive()

    cancelled = db.get(target.id)
    assert cancelled.state is JobState.CANCELLED
    assert cancelled.progress_step == 1 < cancelled.progress_total == 6  # stopped, not finished
    assert cancelled.clip_path is None and cancelled.delivery == "pending" and cancelled.owner is None
    assert clips_of(settings, target.id) == []
    assert events.ids("claimed") == [target.id, after.id]

    nxt = db.get(after.id)
    assert nxt.state is JobState.RENDERED and nxt.attempts == 1
    assert_is_mp4(nxt.clip_path)


# --- a stale worker loses its job mid-render --------------------------------------------------------


def test_worker_that_lost_its_lease_drops_the_job_without_writing(
    settings: EngineSettings, db: Journal, make_worker: Any
) -> None:
    target = enqueue(db, "a stalled render", user="alice", frames=4, steps=4)
    after = enqueue(db, "the next one", user="bob", frames=2, steps=1)
    at_step = threading.Event()
    taken_over = threading.Event()
    moved_on = threading.Event()

    def steer(kind: str, job_id: int, **info: Any) -> None:
        if kind == "progress" and job_id == target.id and not at_step.is_set():
            at_step.set()
            taken_over.wait(timeout=60)
        if kind == "claimed" and job_id == after.id:
            moved_on.set()

    events = Events(also=steer)
    thread = start(make_worker(on_event=events))
    # Seen from an hour later, the worker's lease has expired and another worker takes the job.
    usurper = Journal(settings.resolved_db_path, lease_seconds=30, clock=lambda: time.time() + 3600)
    try:
        assert at_step.wait(timeout=60)
        assert dict(usurper.requeue_expired()) == {target.id: JobState.QUEUED}
        [taken] = usurper.claim("usurper")
        assert (taken.id, taken.attempts) == (target.id, 2)
        # What the usurper left, before the stale worker is let go again.
        left = usurper.get(target.id)
    finally:
        taken_over.set()
    try:
        assert moved_on.wait(timeout=60), "the stale worker did not move on to the next job"
        # The stale worker wrote nothing more: the row is exactly as the usurper left it.
        assert db.get(target.id) == left
        assert db.get(target.id).progress_step == 0
        assert usurper.complete(target.id, "usurper", 2, "/clips/usurper.mp4", 1.0)
    finally:
        usurper.close()
    thread.join(timeout=60)
    assert not thread.is_alive()

    assert events.ids("finished") == [after.id]  # the lost job was dropped, not reported
    assert clips_of(settings, target.id) == []
    done = db.get(target.id)
    assert (done.state, done.clip_path, done.attempts) == (JobState.RENDERED, "/clips/usurper.mp4", 2)
    assert db.get(after.id).state is JobState.RENDERED
