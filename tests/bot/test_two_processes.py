"""Exactly once across processes: two real console bots on one journal, one of them stalled.

Process A takes the prompts and renders; nobody reads its output, so its stdout pipe fills
and the replies it is printing stall mid-send. Once some have, process B starts on the same
journal with no input of its own: its worker renders too and its dispatcher delivers what is
owed. A reply being sent by A is live (A keeps renewing its lease while it waits on the pipe),
so B must leave it alone, however long it waits; when everything else has gone out, A is read
(in one run after being frozen with SIGSTOP for a while first). Every job must be delivered
exactly once across both transcripts.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.bot.test_console import console_cmd, console_env

JOBS = 80
LEASE = "2"  # short, so that a stall longer than it would let B take A's replies over
TIMEOUT = 240


def count(db: Path, where: str = "1 = 1") -> int:
    """Jobs matching `where`, read from the journal file as any process could."""
    if not db.exists():
        return 0
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return conn.execute(f"SELECT COUNT(*) FROM jobs WHERE {where}").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.OperationalError:
        return 0  # not created or migrated yet


def wait_until(condition: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)  # polling a condition in another process, bounded by the deadline


def events(out: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


@pytest.mark.parametrize("stall", ["full pipe", "full pipe, then stopped"])
def test_two_bots_on_one_journal_deliver_each_reply_exactly_once(
    stall: str, tiny_models_dir: Path, tmp_path: Path
) -> None:
    db = tmp_path / "data" / "journal.db"
    env = console_env(
        tmp_path / "data",
        tiny_models_dir,
        PROMPTREEL_RATE_BURST="200",
        PROMPTREEL_RATE_PER_MINUTE="600",
        PROMPTREEL_MAX_WAITING_PER_USER="200",
        PROMPTREEL_MAX_WAITING_PER_GUILD="1000",
        PROMPTREEL_DELIVERY_LEASE_SECONDS=LEASE,
    )
    lines = b"".join(
        f"user{n % 6}: a paper lantern number {n} --frames 2 --steps 8 --width 16 --height 16\n".encode()
        for n in range(JOBS)
    )
    a = subprocess.Popen(
        console_cmd(db), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        env=env, cwd=tmp_path, start_new_session=True,
    )  # fmt: skip
    b = None
    try:
        assert a.stdin is not None and a.stdout is not None
        a.stdin.write(lines)
        a.stdin.close()
        # A's pipe is full: some of its replies are stuck being sent.
        wait_until(lambda: count(db) >= JOBS and count(db, "delivery = 'sending'") > 0, TIMEOUT)
        b = subprocess.Popen(
            console_cmd(db), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=env, cwd=tmp_path, start_new_session=True,
        )  # fmt: skip
        b_reader = ThreadPoolExecutor(1).submit(b.communicate, timeout=TIMEOUT)
        # B renders and delivers everything else, while A's stalled replies stay A's.
        wait_until(lambda: count(db, "delivery IS NOT 'sent' AND delivery IS NOT 'sending'") == 0, TIMEOUT)
        if "stopped" in stall:
            os.killpg(a.pid, signal.SIGSTOP)
            time.sleep(float(LEASE) / 2)  # the fault: A frozen mid-send, for less than its lease
            os.killpg(a.pid, signal.SIGCONT)
        a_out = a.stdout.read()  # only now is A read, and its stalled replies go out
        assert a.wait(timeout=TIMEOUT) == 0
        b_out, b_err = b_reader.result(timeout=TIMEOUT)
        assert b.returncode == 0, b_err.decode(errors="replace")[-2000:]
    finally:
        for proc in (a, b):
            if proc is not None and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)

    a_events, b_events = events(a_out), events(b_out)
    assert sum(e["event"] == "queued" for e in a_events) == JOBS
    delivered = Counter(e["job"] for e in a_events + b_events if e["event"] == "delivered")
    assert len(delivered) == JOBS, "every job delivered"
    twice = {job: n for job, n in delivered.items() if n > 1}
    assert twice == {}, f"{len(twice)} replies went out more than once"
    # A's stalled replies stayed A's: B ran beside them the whole time (it started only once some
    # were stuck 'sending', and A was read only when nothing else was owed) and did not take them.
    # Whether B also delivered some depends on how many jobs were left to render when it came up.
    assert any(e["event"] == "delivered" for e in a_events)
