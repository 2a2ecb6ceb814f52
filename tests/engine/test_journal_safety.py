"""The journal file itself in trouble, and the owner's ways out, on real SQLite files.

- A journal that needs migrating is backed up first (`VACUUM INTO` a file named with its old
  version); one written by a newer version is refused in one line, and left untouched.
- `python -m engine journal backup PATH` copies a journal consistently while another
  connection keeps writing to it.
- A journal that cannot be written (a read-only mount, a file where its folder should be, a
  full disk) is refused in one line that names it and says what to do.
- `release` gives a claimed job back without counting the attempt (a shutdown's interruption).
- Opening and closing `AsyncJournal` wait off the event loop, even behind another's lock.
"""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils

from engine.journal import AsyncJournal, JobState, Journal, JournalError
from engine.journal.schema import MIGRATIONS
from engine.request import build_request
from tests.helpers import SmallDisk, WriteLock, child_env, read_only_mount


def request(prompt: str = "a fox in the snow") -> Any:
    return build_request(prompt, model="tiny", seed=1, frames=2, steps=1)


def journal_at_version(path: Path, version: int) -> None:
    """A journal as an older Promptreel left it: the first `version` steps, and one job."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None)
    db = sqlite_utils.Database(conn)
    for step in MIGRATIONS[:version]:
        step(db)
    conn.execute(f"PRAGMA user_version = {version}")
    conn.execute(
        "INSERT INTO jobs (created_at, user_id, adapter, state, model, request)"
        " VALUES (1, 'alice', 'console', 'delivered', 'tiny', ?)",
        ('{"prompt": "an old job"}',),
    )
    conn.close()


def version_of(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("PRAGMA user_version").fetchone()[0]
    finally:
        conn.close()


# --- migrations: a backup first, and never a newer file ------------------------------------------


def test_a_journal_is_backed_up_before_it_is_migrated(journal_path: Path) -> None:
    old = len(MIGRATIONS) - 1
    journal_at_version(journal_path, old)
    Journal(journal_path).close()

    backup = journal_path.with_name(f"promptreel.db.v{old}.bak")
    assert backup.is_file(), sorted(p.name for p in journal_path.parent.iterdir())
    assert version_of(backup) == old  # the journal as it was, before the step ran
    assert version_of(journal_path) == len(MIGRATIONS)
    copy = sqlite3.connect(backup)
    assert copy.execute("SELECT user_id, state FROM jobs").fetchall() == [("alice", "delivered")]
    assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    copy.close()

    # A current journal is not backed up again on every start; a fresh one has nothing to keep.
    Journal(journal_path).close()
    assert sorted(p.name for p in journal_path.parent.glob("*.bak")) == [backup.name]
    fresh = journal_path.with_name("fresh.db")
    Journal(fresh).close()
    assert not list(journal_path.parent.glob("fresh.db*.bak"))


def test_a_second_upgrade_from_the_same_version_keeps_the_first_backup(journal_path: Path) -> None:
    old = len(MIGRATIONS) - 1
    journal_at_version(journal_path, old)
    first = journal_path.with_name(f"promptreel.db.v{old}.bak")
    first.write_bytes(b"an earlier backup the owner kept")
    Journal(journal_path).close()
    assert first.read_bytes() == b"an earlier backup the owner kept"
    [second] = [p for p in journal_path.parent.glob(f"promptreel.db.v{old}.*.bak")]
    assert version_of(second) == old


def test_a_journal_from_a_newer_version_is_refused_in_one_line(journal_path: Path, tmp_path: Path) -> None:
    Journal(journal_path).close()
    newer = len(MIGRATIONS) + 1
    conn = sqlite3.connect(journal_path)
    conn.execute(f"PRAGMA user_version = {newer}")
    conn.close()
    before = journal_path.read_bytes()

    with pytest.raises(JournalError) as refused:
        Journal(journal_path)
    message = str(refused.value)
    assert "\n" not in message and str(journal_path) in message
    assert "newer" in message and str(newer) in message and str(len(MIGRATIONS)) in message
    assert journal_path.read_bytes() == before and version_of(journal_path) == newer

    for cmd in (
        [sys.executable, "-m", "bot", "console", "--db", str(journal_path)],
        [sys.executable, "-m", "engine", "worker", "--db", str(journal_path), "--exit-when-idle"],
    ):
        proc = subprocess.run(
            cmd, input="", env=child_env(), cwd=tmp_path, capture_output=True, text=True, timeout=120
        )
        assert proc.returncode == 1, (cmd, proc.stderr)
        assert "Traceback" not in proc.stderr
        assert proc.stderr.strip().splitlines() == [f"error: {message}"], proc.stderr
    assert version_of(journal_path) == newer


# --- a consistent copy while the bot writes -----------------------------------------------------


def test_journal_backup_command_copies_consistently_while_another_connection_writes(
    journal_path: Path, tmp_path: Path
) -> None:
    writer = Journal(journal_path)
    for _ in range(50):
        writer.enqueue(request(), user_id="alice", adapter="console")
    stop = threading.Event()
    written: list[int] = []

    def keep_writing() -> None:
        journal = Journal(journal_path)
        try:
            while not stop.is_set():
                written.append(journal.enqueue(request(), user_id="bob", adapter="console").id)
        finally:
            journal.close()

    thread = threading.Thread(target=keep_writing)
    thread.start()
    target = tmp_path / "backups" / "copy.db"
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "engine", "journal", "backup", str(target), "--db", str(journal_path)],
            env=child_env(), cwd=tmp_path, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    finally:
        stop.set()
        thread.join(timeout=60)
    writer.close()
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(target)
    assert written, "the writer never wrote during the copy"

    copy = sqlite3.connect(target)
    try:
        assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert copy.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        waiting = copy.execute("SELECT COUNT(*) FROM jobs WHERE state IN ('queued', 'running')").fetchone()[0]
        # The trigger-kept count matches the rows: the copy is one moment, not a torn read.
        [kept] = copy.execute("SELECT n FROM job_counts WHERE scope = '*'").fetchone()
        assert kept == waiting and 50 <= waiting <= 50 + len(written)
    finally:
        copy.close()

    again = subprocess.run(
        [sys.executable, "-m", "engine", "journal", "backup", str(target), "--db", str(journal_path)],
        env=child_env(), cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert again.returncode == 1 and "already exists" in again.stderr and "Traceback" not in again.stderr


# --- a journal that cannot be written ---------------------------------------------------------


def test_a_journal_on_a_read_only_mount_is_refused_in_one_line(journal_path: Path) -> None:
    Journal(journal_path).close()
    with read_only_mount(journal_path.parent), pytest.raises(JournalError) as refused:
        Journal(journal_path)
    message = str(refused.value)
    assert "\n" not in message and str(journal_path) in message
    assert "writable" in message and "PROMPTREEL_DB_PATH" in message


def test_a_journal_that_opens_read_only_is_refused_at_once_not_at_its_first_write(journal_path: Path) -> None:
    """Left open elsewhere (its -wal and -shm files there), a journal on a read-only mount still
    opens, read-only, without a word from SQLite: it must be refused then, not at the first job."""
    other = Journal(journal_path)
    try:
        with read_only_mount(journal_path.parent), pytest.raises(JournalError) as refused:
            Journal(journal_path).close()
    finally:
        other.close()
    message = str(refused.value)
    assert "\n" not in message and str(journal_path) in message and "Read-only" in message


def test_a_file_where_the_journal_folder_should_be_is_refused_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "data").write_text("not a folder")
    path = tmp_path / "data" / "promptreel.db"
    with pytest.raises(JournalError) as refused:
        Journal(path)
    message = str(refused.value)
    assert "\n" not in message and str(path) in message and "writable" in message


def test_a_new_journal_on_a_full_disk_is_refused_in_one_line(tmp_path: Path) -> None:
    disk = SmallDisk(tmp_path / "disk", size_kib=1024)
    try:
        disk.fill()
        path = disk.path / "promptreel.db"
        with pytest.raises(JournalError) as refused:
            Journal(path)
        message = str(refused.value)
        assert "\n" not in message and str(path) in message and "Free some space" in message
        disk.free()
        Journal(path).close()  # and it works once there is room
    finally:
        disk.close()


# --- giving a job back ---------------------------------------------------------------------------


def test_release_gives_the_job_back_without_counting_the_attempt(journal: Journal) -> None:
    job = journal.enqueue(request(), user_id="alice", adapter="console")
    [claimed] = journal.claim("w1")
    assert claimed.attempts == 1
    assert not journal.release(job.id, "someone-else", 1)  # fenced like every report
    assert not journal.release(job.id, "w1", 2)
    assert journal.release(job.id, "w1", 1)
    back = journal.get(job.id)
    assert (back.state, back.attempts, back.owner, back.lease_until) == (JobState.QUEUED, 0, None, None)
    assert journal.count_waiting() == 1
    [again] = journal.claim("w2")
    assert (again.id, again.attempts) == (job.id, 1)


# --- opening and closing off the event loop ----------------------------------------------------


async def test_opening_an_async_journal_behind_a_lock_leaves_the_loop_free(tmp_path: Path) -> None:
    path = tmp_path / "fresh.db"
    lock = WriteLock(path, fresh=True)  # another process is still creating the journal
    try:
        opening = asyncio.create_task(AsyncJournal.open(path, busy_timeout=60))
        for _ in range(50):
            await asyncio.sleep(0)
        assert not opening.done()  # the migration waits for the lock; the loop does not
    finally:
        lock.release()
    journal = await asyncio.wait_for(opening, timeout=60)
    try:
        assert await journal.count_waiting() == 0
    finally:
        await journal.close()


async def test_closing_an_async_journal_leaves_the_loop_free_while_a_call_waits(
    journal_path: Path, open_journal: Callable[..., Journal]
) -> None:
    journal = await AsyncJournal.open(journal_path, busy_timeout=60)
    lock = WriteLock(journal_path)
    try:
        pending = asyncio.create_task(journal.enqueue(request(), user_id="alice", adapter="console"))
        await asyncio.sleep(0)
        closing = asyncio.create_task(journal.close())
        for _ in range(50):
            await asyncio.sleep(0)
        assert not closing.done()  # it waits for the call still queued on the journal's thread
    finally:
        lock.release()
    job = await asyncio.wait_for(pending, timeout=60)  # the call went through; close came after
    await asyncio.wait_for(closing, timeout=60)
    assert open_journal().get(job.id).state is JobState.QUEUED
