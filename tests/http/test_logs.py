"""Logs: one line per job event with the job's number; JSON lines with PROMPTREEL_LOG_JSON=true.

The console bot runs as an owner runs it (a subprocess, the tiny model rendering in-process)
and its stderr is read back; a job whose worker vanished is followed in-process to its
`failed` line, the way the upkeep finds it once the lease runs out. The console process
also shows the HTTP server following `PROMPTREEL_HTTP_PORT` from the environment.
"""

from __future__ import annotations

import asyncio
import json
import logging
import queue
import re
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from bot.logs import JsonFormatter
from engine.journal import Journal
from tests.helpers import LogWatch, child_env
from tests.http.conftest import StartBot

TINY = "--frames 2 --steps 1 --width 32 --height 32"


def test_json_lines_for_every_job_event(tmp_path: Path, tiny_models_dir: Path) -> None:
    lines = "\n".join(
        [
            f"alice: a cat on a windowsill {TINY}",
            "bob: a slow dog --frames 16 --steps 10 --width 64 --height 64",
            "bob: /cancel 2",
            "carol: a n\u200bude statue",
        ]
    )
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "console", "--json"],
        input=lines + "\n",
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env=child_env(
            PROMPTREEL_DATA_DIR=str(tmp_path / "data"),
            PROMPTREEL_MODELS_DIR=str(tiny_models_dir),
            PROMPTREEL_LOG_JSON="true",
        ),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    records = [json.loads(line) for line in proc.stderr.splitlines() if line.startswith("{")]
    events = [r for r in records if r.get("logger") == "promptreel.jobs"]
    by_job: dict[int, list[str]] = {}
    for record in events:
        assert record["level"] == "INFO" and record["ts"] and f"job {record['job']} " in record["message"]
        by_job.setdefault(record["job"], []).append(record["event"])
    assert by_job == {
        1: ["queued", "started", "done", "delivered"],
        2: ["queued", "cancelled", "delivered"],
        3: ["refused"],
    }
    [refused] = [r for r in events if r["event"] == "refused"]
    assert refused["category"] == "sexual" and refused["preset"] == "tiny"
    [done] = [r for r in events if r["event"] == "done"]
    assert done["render_seconds"] > 0
    # stdout is still the console's own events, one JSON object each.
    said = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [e["job"] for e in said if e["event"] == "delivered"] == [1]


async def test_a_job_whose_worker_vanished_is_logged_as_failed(start_bot: StartBot) -> None:
    with LogWatch("promptreel.jobs", logging.INFO) as logs:
        bot = await start_bot(max_attempts=1, lease_seconds=0.3)
        await bot.say(f"alice: a kite {TINY}")
        other = Journal(bot.core.settings.resolved_db_path, lease_seconds=0.3, max_attempts=1)
        try:
            [claimed] = other.claim("a-worker-that-will-vanish", models=["tiny"])
        finally:
            other.close()
        assert claimed.id == 1
        # Waited for on a thread: the bot's loop, which must notice the lost worker, runs on.
        delivered = await asyncio.to_thread(
            logs.wait_for, lambda w: bool(w.lines(logging.INFO, "job 1 delivered")), 30
        )
        assert delivered
    lines = logs.lines(logging.INFO, "job 1 ")
    assert [line.split()[2] for line in lines] == ["queued", "failed", "delivered"]
    assert "worker lost" in lines[1]
    [failed] = [r for r in logs.records if r.getMessage() == lines[1]]
    as_json = json.loads(JsonFormatter().format(failed))
    assert as_json["job"] == 1 and as_json["event"] == "failed" and as_json["logger"] == "promptreel.jobs"


def test_the_console_bot_serves_http_when_the_port_is_set(tmp_path: Path, tiny_models_dir: Path) -> None:
    """`PROMPTREEL_HTTP_PORT=0` in the environment of `python -m bot console`: it listens (its log
    says where), answers /healthz while the session runs, and stops with it."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "console", "--json"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env=child_env(
            PROMPTREEL_DATA_DIR=str(tmp_path / "data"),
            PROMPTREEL_MODELS_DIR=str(tiny_models_dir),
            PROMPTREEL_HTTP_PORT="0",
            PROMPTREEL_LOG_JSON="true",
        ),
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stderr or []], daemon=True).start()
    try:
        deadline = time.monotonic() + 120
        url = None
        while url is None:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            if line.startswith("{") and json.loads(line)["logger"] == "bot.http.server":
                url = re.search(r"http://127\.0\.0\.1:\d+/", json.loads(line)["message"])
        with urllib.request.urlopen(f"{url.group()}healthz", timeout=10) as response:
            assert response.status == 200 and response.read() == b"alive\n"
        assert proc.stdin is not None
        proc.stdin.close()  # the session ends: the bot finishes, and its server with it
        assert proc.wait(timeout=60) == 0
        with pytest.raises(OSError):
            urllib.request.urlopen(f"{url.group()}healthz", timeout=5)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
