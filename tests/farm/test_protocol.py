"""What the farm puts on the wire and which Redis it agrees to use."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from engine.farm.protocol import FarmConfigError, check_redis_url, redis_settings
from engine.journal import JobState, Journal
from tests.farm.bots import farm_bot, wait_until
from tests.helpers import child_env


def _row(db: Path, job_id: int) -> Any:
    journal = Journal(db)  # a connection per look, on whichever thread looks
    try:
        return journal.get(job_id)
    finally:
        journal.close()


@pytest.mark.parametrize(
    "url", ["redis://10.0.0.5:6379/0", "redis://gpu.example.org", "rediss://203.0.113.9:6380"]
)
def test_a_redis_off_this_machine_without_a_password_is_refused(url: str) -> None:
    with pytest.raises(FarmConfigError, match="password"):
        check_redis_url(url)


@pytest.mark.parametrize(
    "url",
    ["redis://127.0.0.1:6379/0", "redis://localhost", "redis://[::1]:6379", "redis://:pw@10.0.0.5:6379/0"],
)
def test_loopback_or_a_password_is_accepted(url: str) -> None:
    assert check_redis_url(url) == url


def test_rediss_means_tls() -> None:
    settings = redis_settings("rediss://:secret@gpu.example.org:6380/2")
    assert settings.ssl is True and settings.password == "secret" and settings.database == 2


def test_the_worker_refuses_an_open_redis_in_one_line(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "engine", "worker", "--redis", "redis://10.0.0.5:6379/0"],
        env=child_env(PROMPTREEL_DATA_DIR=str(tmp_path)),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and "password" in proc.stderr and proc.stderr.startswith("error:")


async def test_a_job_goes_to_redis_as_json_under_its_journal_id_and_attempt(
    make_settings, redis_server
) -> None:
    client = redis_server.client()
    # A worker that says it is alive and never takes anything: the job stays in its queue.
    ghost = {"name": "ghost", "preset": "tiny", "jobs_done": 0, "job": None}
    client.set("promptreel:worker:ghost", json.dumps(ghost), ex=600)
    async with farm_bot(make_settings()) as bot:
        job = await bot.submit(steps=3, seed=77)
        raw = await asyncio.to_thread(
            wait_until, lambda: client.get(f"arq:job:job-{job}-a1"), within=90, what="the arq job"
        )
        second = await bot.submit(steps=3, seed=78)  # no free slot: stays in the journal's queue
        # Two renewals of the first job's lease: dispatch rounds ran after the second arrived.
        db = bot.core.settings.resolved_db_path
        for _ in range(2):
            lease = _row(db, job).lease_until
            await asyncio.to_thread(
                wait_until, lambda old=lease: _row(db, job).lease_until > old, within=30, what="a renewal"
            )
        assert _row(db, second).state == JobState.QUEUED
    data = json.loads(raw)  # JSON, never pickle
    [payload] = data["a"]
    assert payload["job"] == job and payload["attempt"] == 1
    assert payload["request"]["seed"] == 77 and payload["request"]["prompt"] == "a paper boat"
    assert client.zrange("promptreel:queue:tiny", 0, -1) == [f"job-{job}-a1".encode()]
    assert not client.exists(f"arq:job:job-{second}-a1")


def test_the_bot_side_of_the_farm_does_not_import_torch(tmp_path: Path) -> None:
    code = "import sys, bot.core, engine.farm.dispatch, engine.farm.protocol\nprint('torch' in sys.modules)"
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env=child_env(),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"


async def test_a_worker_cannot_make_the_bot_move_a_file_from_outside_the_shared_folder(
    make_settings, redis_server, tmp_path: Path
) -> None:
    client = redis_server.client()
    ghost = {"name": "ghost", "preset": "tiny", "jobs_done": 0, "job": None}
    client.set("promptreel:worker:ghost", json.dumps(ghost), ex=600)
    secret = tmp_path / "secret.mp4"
    secret.write_bytes(b"the bot's own file")
    settings = make_settings(farm_shared_dir=tmp_path / "shared")
    async with farm_bot(settings) as bot:
        job = await bot.submit(steps=3)
        await asyncio.to_thread(
            wait_until, lambda: client.exists(f"arq:job:job-{job}-a1"), within=90, what="the arq job"
        )
        forged = {"job": job, "attempt": 1, "worker": "ghost", "status": "done", "clip_path": str(secret)}
        client.rpush("promptreel:results", json.dumps(forged))
        db = settings.resolved_db_path
        # The attempt is failed (the job goes back to the fair queue, to be handed out again).
        row = await asyncio.to_thread(
            wait_until, lambda: (r := _row(db, job)).error and "outside the shared folder" in r.error and r,
            within=90, what="the forged result refused",
        )  # fmt: skip
    assert secret.read_bytes() == b"the bot's own file"
    assert row.state != JobState.RENDERED and row.clip_path is None
    assert not any((settings.resolved_clips_dir).glob(f"job-{job}-*"))


def test_the_bot_refuses_an_open_redis_in_one_line(tmp_path: Path, tiny_models_dir: Path) -> None:
    env = child_env(
        PROMPTREEL_DATA_DIR=str(tmp_path / "data"),
        PROMPTREEL_MODELS_DIR=str(tiny_models_dir),
        PROMPTREEL_RENDER_BACKEND="redis",
        PROMPTREEL_REDIS_URL="redis://10.0.0.5:6379/0",
    )
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "console", "--json"],
        input="alice: a paper boat\n",
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.count("\n") == 1 and "password" in proc.stderr and proc.stderr.startswith("error:")


async def test_a_password_in_the_url_is_what_lets_the_farm_in(make_redis_server) -> None:
    from arq.connections import create_pool
    from redis.exceptions import AuthenticationError, ResponseError

    server = make_redis_server(password="s3cret-long-enough")
    pool = await create_pool(redis_settings(server.url))
    try:
        assert await pool.ping()
    finally:
        await pool.aclose()
    wrong = server.url.replace("s3cret-long-enough", "guess")
    with pytest.raises((AuthenticationError, ResponseError)):
        pool = await create_pool(redis_settings(wrong))
        await pool.ping()
