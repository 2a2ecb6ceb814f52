"""The bot when its worker or its storage fails, end to end: `Core` with the real in-process
worker, the console adapter writing JSON events, a real journal file and the tiny model.

- A worker thread that dies is started again, and a job whose worker vanished is requeued by
  the bot itself, so nothing waits forever behind a dead worker.
- A clips folder that cannot be written delays a job (one `delayed` event), never fails it.
- A full journal at intake is a polite refusal, with the reason in the log.
- Closing the bot mid-render gives the job back to the queue, attempts untouched.
- Starting behind another process's lock leaves the event loop free.
- Unusable storage at start-up is one `error:` line and exit status 1.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import sqlite3
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from bot.console import Console, ConsoleAdapter
from bot.core import Core, Requester
from engine.journal import JobState, Journal
from engine.worker import Worker
from tests.helpers import LogWatch, SmallDisk, WriteLock, child_env, decode_video, read_only_mount

ALICE = Requester("alice", "alice", "console", "console")
BOB = Requester("bob", "bob", "console", "console")
SMALL = {"frames": 2, "steps": 1, "width": 16, "height": 16}
FAULTS = {"busy_timeout_seconds": 0.2, "storage_retry_seconds": 0.2}


class Transcript(io.StringIO):
    """What a `ConsoleAdapter(as_json=True)` writes, as events, and a way to wait for some."""

    def __init__(self) -> None:
        super().__init__()
        self._written = asyncio.Event()

    def write(self, text: str) -> int:
        self._written.set()
        return super().write(text)

    def events(self, kind: str | None = None, job: int | None = None) -> list[dict[str, Any]]:
        found = [json.loads(line) for line in self.getvalue().splitlines()]
        return [
            e for e in found if (kind is None or e["event"] == kind) and (job is None or e.get("job") == job)
        ]

    async def wait_for(self, kind: str, job: int, within: float = 60) -> dict[str, Any]:
        async with asyncio.timeout(within):
            while not self.events(kind, job):
                self._written.clear()
                await self._written.wait()
        return self.events(kind, job)[0]


@pytest.fixture
async def start_core(make_settings: Callable[..., Settings]) -> AsyncIterator[Callable[..., Any]]:
    """`await start_core(**settings)` -> (core, transcript); closed at teardown."""
    running: list[Core] = []

    async def start(**overrides: Any) -> tuple[Core, Transcript]:
        out = Transcript()
        core = Core(make_settings(**overrides), ConsoleAdapter(out, as_json=True))
        await core.start()
        running.append(core)
        return core, out

    yield start
    for core in reversed(running):
        await core.close()


async def submit(core: Core, who: Requester = ALICE, prompt: str = "a paper lantern", **options: Any) -> int:
    answer = await core.submit(who, prompt, SMALL | options)
    assert answer.event == "queued", answer
    assert answer.job_id is not None
    return answer.job_id


def journal_of(core: Core) -> Journal:
    return Journal(core.settings.resolved_db_path)


async def watch_until(logs: LogWatch, ready: Callable[[LogWatch], bool], within: float = 60) -> None:
    assert await asyncio.to_thread(logs.wait_for, ready, within), logs.lines()


# --- a worker that dies -----------------------------------------------------------------------------


async def test_the_bot_starts_a_worker_thread_that_died_again(start_core: Callable[..., Any]) -> None:
    core, out = await start_core(in_process_worker=True)
    blocker = sqlite3.connect(core.settings.resolved_db_path, isolation_level=None)
    # A fault in the journal that is not the machine's (a constraint): the claim fails, and the
    # worker's thread, which only waits out storage faults, dies of it.
    blocker.execute(
        "CREATE TRIGGER no_claims BEFORE UPDATE OF state ON jobs WHEN NEW.state = 'running'"
        " BEGIN SELECT RAISE(ABORT, 'claims refused by this test'); END"
    )
    try:
        with LogWatch("bot.core.runtime") as logs:
            job_id = await submit(core)
            await watch_until(logs, lambda w: bool(w.lines(logging.ERROR, "thread died")))
            blocker.execute("DROP TRIGGER no_claims")
            delivered = await out.wait_for("delivered", job_id, within=120)
    finally:
        blocker.close()
    assert core.runtime is not None and core.runtime.restarts >= 1
    assert len(logs.lines(logging.WARNING, "starting it again")) >= 1
    frames, _ = decode_video(delivered["path"])
    assert frames.shape == (2, 16, 16, 3)


async def test_the_bot_requeues_a_job_whose_worker_vanished(start_core: Callable[..., Any]) -> None:
    """No worker runs in the bot here, and the ones that claimed the jobs are gone for good."""
    # A short lease for the bot: its upkeep looks for expired leases every lease/3 seconds.
    core, out = await start_core(in_process_worker=False, lease_seconds=0.3, max_attempts=2)
    path = core.settings.resolved_db_path

    def vanished() -> Journal:
        # A worker that claims under a 2 s lease, then vanishes without ever renewing it.
        return Journal(path, lease_seconds=2, max_attempts=2)

    with LogWatch("bot.core.upkeep") as logs:
        spent = await submit(core, ALICE, "a job on its last attempt")
        ghost = vanished()
        [first] = ghost.claim("ghost-a")
        assert ghost.fail(first.id, "ghost-a", 1, "the first try was lost") is JobState.QUEUED
        [last] = ghost.claim("ghost-a")
        assert (first.id, last.id, last.attempts) == (spent, spent, 2)
        ghost.close()
        retried = await submit(core, BOB, "a job with an attempt left")
        ghost = vanished()
        [taken] = ghost.claim("ghost-b")
        assert (taken.id, taken.attempts) == (retried, 1)
        ghost.close()

        failed = await out.wait_for("failed", spent, within=60)  # told, not left waiting
        await watch_until(logs, lambda w: len(w.lines(logging.WARNING, "stopped renewing the lease")) >= 2)
    assert "gave up" in failed["reason"]
    journal = Journal(path, lease_seconds=30)
    try:
        back = journal.get(retried)
        assert back.state is JobState.QUEUED and back.attempts == 1 and back.owner is None
        settings = core.settings.model_copy(update={"lease_seconds": 30.0})
        worker = Worker(settings, name="w-after", journal=journal)
        assert await asyncio.to_thread(worker.run_once)
    finally:
        journal.close()
    await asyncio.wait_for(core.wait_idle(), 60)
    assert [e["job"] for e in out.events("delivered")] == [retried]


# --- a clips folder that cannot be written ------------------------------------------------------


async def test_an_unwritable_clips_folder_delays_the_clip_and_says_so_once(
    start_core: Callable[..., Any],
) -> None:
    core, out = await start_core(in_process_worker=True, **FAULTS)
    clips = core.settings.resolved_clips_dir
    if clips.is_dir():
        clips.rmdir()  # the start-up check made it; now a file stands in its place
    clips.write_text("not a folder")
    with LogWatch("engine.worker") as logs:
        first = await submit(core, ALICE, "a paper crane")
        second = await submit(core, BOB, "a paper boat")
        delayed = await out.wait_for("delayed", first)
        await watch_until(logs, lambda w: len(w.lines(logging.DEBUG, "cannot take clips", exactly=True)) >= 3)
        journal = journal_of(core)
        try:
            held = journal.get(first)
            assert held.state is JobState.RUNNING and held.attempts == 1
        finally:
            journal.close()
        clips.unlink()  # the owner fixes it
        await asyncio.wait_for(core.wait_idle(), 120)

    assert "can't save videos right now" in delayed["text"] and delayed["user"] == "alice"
    assert out.events("failed") == []
    assert [e["job"] for e in out.events("delayed")] == [first]  # one message, for the job it held
    assert sorted(e["job"] for e in out.events("delivered")) == [first, second]
    journal = journal_of(core)
    try:
        assert [journal.get(j).attempts for j in (first, second)] == [1, 1]
    finally:
        journal.close()
    assert len(logs.lines(logging.WARNING, "cannot take clips")) == 1


# --- a full journal at intake ----------------------------------------------------------------------


@pytest.fixture(params=["tmpfs", "max_page_count"])
def fill_journal(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Path, Any, Any]]:
    """(data dir, fill(core), free(core)): a journal with no room left, made two ways.

    tmpfs: the data folder is a small file system, filled to the last byte (needs mount
    rights). max_page_count: SQLite's own cap on the Core's connection, at the pages it has.
    Either way SQLite answers SQLITE_FULL ("database or disk is full") for real.
    """
    if request.param == "tmpfs":
        disk = SmallDisk(tmp_path / "disk", size_kib=8 * 1024)

        async def fill(core: Core) -> None:
            await core.db.checkpoint()  # empty the write-ahead log: the next write needs new room
            disk.fill()

        async def free(core: Core) -> None:
            disk.free()

        try:
            yield disk.path / "data", fill, free
        finally:
            disk.close()
        return

    def cap(core: Core, pages: int | None) -> None:
        conn = core.db.sync.conn
        if pages is None:
            pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages}")

    async def fill_pages(core: Core) -> None:
        await core.db.run(lambda _journal: cap(core, None))

    async def free_pages(core: Core) -> None:
        await core.db.run(lambda _journal: cap(core, 1 << 30))

    yield tmp_path / "data", fill_pages, free_pages


async def test_a_full_journal_at_intake_is_a_polite_refusal_and_a_line_in_the_log(
    fill_journal: tuple[Path, Any, Any], start_core: Callable[..., Any]
) -> None:
    """`fill_journal` first: its disk is unmounted only after the core on it has closed."""
    data_dir, fill, free = fill_journal
    core, _ = await start_core(data_dir=data_dir)
    await submit(core, ALICE, "a first prompt")
    with LogWatch("bot.core") as logs:
        await fill(core)
        answers = [await core.submit(ALICE, f"prompt {n} " + "x" * 400, SMALL) for n in range(30)]
        refused = [a for a in answers if a.event == "refused"]
        assert refused, [a.event for a in answers]
        assert {a.reason for a in refused} == {"unavailable"}
        assert "can't take prompts right now" in refused[0].text
        began = logs.lines(logging.WARNING, "cannot record prompts")
        assert len(began) == 1, began  # once for the episode, not once per prompt
        assert "full" in began[0] and str(core.settings.resolved_db_path) in began[0]
        await free(core)
        assert (await core.submit(ALICE, "after the owner made room", SMALL)).event == "queued"
    assert len(logs.lines(logging.WARNING, "prompts are recorded again")) == 1


# --- the console's catch-all --------------------------------------------------------------------


async def test_a_console_line_that_fails_is_logged_under_the_reference_it_shows(
    start_core: Callable[..., Any],
) -> None:
    core, out = await start_core(**FAULTS)
    job_id = await submit(core)
    console = Console(core, core.adapter, mods=set())  # type: ignore[arg-type]
    with LogWatch("bot.console") as logs, WriteLock(core.settings.resolved_db_path):
        await console.handle(f"alice: /cancel {job_id}")  # the cancel cannot be written
    [answer] = [e for e in out.events("refused") if e["user"] == "alice"]
    [logged] = [r for r in logs.records if r.levelno == logging.ERROR]
    ref = logged.getMessage().rsplit("ref=", 1)[1]
    assert f"ref {ref}" in answer["text"]
    assert logged.exc_info is not None and "locked" in str(logged.exc_info[1])


# --- shutdown mid-render -------------------------------------------------------------------------------


async def test_closing_the_bot_mid_render_gives_the_job_back_to_the_next_bot(
    make_settings: Callable[..., Settings],
) -> None:
    # A long busy timeout: the lock below holds the worker inside a progress write, between two
    # steps, for as long as the test needs, so the render cannot finish before the stop.
    settings = make_settings(in_process_worker=True, progress_interval_seconds=0.0, busy_timeout_seconds=60)
    out = Transcript()
    core = Core(settings, ConsoleAdapter(out, as_json=True))
    await core.start()
    closed = False
    try:
        job_id = await submit(core, ALICE, "a very long take", frames=16, steps=10, width=64, height=64)
        await out.wait_for("progress", job_id)
        lock = WriteLock(settings.resolved_db_path)
        try:
            runtime = core.runtime
            assert runtime is not None
            closing = asyncio.create_task(core.close())
            assert await asyncio.to_thread(runtime.worker.stop.wait, 60), (
                "close never asked the worker to stop"
            )
        finally:
            lock.release()
        await asyncio.wait_for(closing, 120)
        closed = True
    finally:
        if not closed:
            await core.close()

    journal = Journal(settings.resolved_db_path)
    try:
        back = journal.get(job_id)
        assert back.state is JobState.QUEUED  # not cancelled, not dead, not rendered
        assert back.attempts == 0 and back.owner is None and back.error is None
    finally:
        journal.close()
    assert out.events("delivered") == [] and out.events("failed") == []
    steps = [e["step"] for e in out.events("progress", job_id)]
    assert steps and max(steps) < 10

    again = Transcript()
    core = Core(settings, ConsoleAdapter(again, as_json=True))
    await core.start()
    try:
        delivered = await again.wait_for("delivered", job_id, within=120)
    finally:
        await core.close()
    frames, _ = decode_video(delivered["path"])
    assert frames.shape == (16, 64, 64, 3)
    journal = Journal(settings.resolved_db_path)
    try:
        assert journal.get(job_id).attempts == 1
    finally:
        journal.close()


# --- start-up ---------------------------------------------------------------------------------------


async def test_starting_behind_another_process_lock_leaves_the_loop_free(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(**FAULTS)
    settings.resolved_db_path.parent.mkdir(parents=True, exist_ok=True)
    lock = WriteLock(settings.resolved_db_path, fresh=True)  # another process creating the journal
    core = Core(settings, ConsoleAdapter(Transcript(), as_json=True))
    try:
        with LogWatch("bot.core") as logs:
            starting = asyncio.create_task(core.start())
            ticks = 0
            while not logs.lines(logging.WARNING, "locked"):
                await asyncio.sleep(0)  # the loop keeps running while the journal waits
                ticks += 1
                assert ticks < 10_000_000 and not starting.done()
            lock.release()
            await asyncio.wait_for(starting, 60)
        assert (await core.stats()).data["renders"] == 0
        assert len(logs.lines(logging.WARNING, "locked")) == 1
    finally:
        lock.release()
        await core.close()


def _console_run(db: Path, tmp_path: Path, tiny_models_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", "console", "--json", "--db", str(db)],
        input="alice: a heron --frames 2 --steps 1 --width 16 --height 16\n",
        env=child_env(PROMPTREEL_MODELS_DIR=str(tiny_models_dir), PROMPTREEL_DATA_DIR=str(tmp_path / "data")),
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def _one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 1, (proc.returncode, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert proc.stdout == ""
    # Start-up warnings (clips going out unsigned without credentials, say) are log lines of
    # their own; the failure itself is one line.
    lines = [line for line in proc.stderr.strip().splitlines() if " WARNING " not in line]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    return lines[0]


def test_console_with_a_read_only_journal_folder_says_so_in_one_line(
    tmp_path: Path, tiny_models_dir: Path
) -> None:
    db = tmp_path / "ro" / "promptreel.db"
    journal = Journal(db)
    journal.close()
    with read_only_mount(db.parent):
        line = _one_error_line(_console_run(db, tmp_path, tiny_models_dir))
    assert str(db) in line and "writable" in line and "--db" in line


def test_console_with_a_file_where_the_journal_folder_should_be_says_so_in_one_line(
    tmp_path: Path, tiny_models_dir: Path
) -> None:
    (tmp_path / "here").write_text("not a folder")
    db = tmp_path / "here" / "promptreel.db"
    line = _one_error_line(_console_run(db, tmp_path, tiny_models_dir))
    assert str(db) in line and "writable" in line


def test_console_with_an_unwritable_clips_folder_says_so_in_one_line(
    tmp_path: Path, tiny_models_dir: Path
) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "clips").write_text("not a folder")
    line = _one_error_line(_console_run(tmp_path / "data" / "promptreel.db", tmp_path, tiny_models_dir))
    assert str(tmp_path / "data" / "clips") in line and "clips folder" in line


@pytest.fixture(autouse=True)
def _no_stray_threads() -> Iterator[None]:
    """Every worker thread a test started has stopped by its end (a close that waits, for real)."""
    before = {t.ident for t in threading.enumerate()}
    yield
    stray = [t.name for t in threading.enumerate() if t.ident not in before and t.name == "promptreel-worker"]
    assert stray == []
