"""The render farm end to end: a real Redis, real worker processes, the real journal and bot."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from engine.journal import JobState, Journal
from engine.presets import get_preset
from engine.request import build_request
from tests.farm.bots import farm_bot, wait_until
from tests.helpers import LogWatch, decode_video


def _journal(settings: Any) -> Journal:
    return Journal(settings.resolved_db_path)


def _jobs_done(redis_server: Any) -> dict[str, int]:
    """What each worker says it finished, from the pool record it keeps in Redis."""
    seen = redis_server.client().hgetall("promptreel:seen")
    return {name.decode(): json.loads(info)["jobs_done"] for name, info in seen.items()}


def _rendering(redis_server: Any, job_id: int, attempt: int) -> dict[str, Any] | None:
    raw = redis_server.client().get(f"promptreel:run:{job_id}:{attempt}")
    return json.loads(raw) if raw else None


async def test_jobs_spread_over_two_workers_and_each_is_delivered_once(
    make_settings, start_worker, redis_server
) -> None:
    start_worker("w1")
    start_worker("w2")
    settings = make_settings()
    async with farm_bot(settings) as bot:
        jobs = {await bot.submit(user, steps=8, seed=i) for i, user in enumerate(["alice", "bob"] * 3)}
        await bot.wait_for(jobs)
        delivered = Counter(bot.finished())
    assert delivered == Counter(dict.fromkeys(jobs, 1))
    journal = _journal(settings)
    try:
        rows = [journal.get(j) for j in jobs]
        assert all(r is not None and r.state == JobState.DELIVERED for r in rows)
        frames, _ = decode_video(Path(rows[0].clip_path))
        assert frames.shape == (2, 16, 16, 3)
    finally:
        journal.close()
    done = _jobs_done(redis_server)
    assert set(done) == {"w1", "w2"} and min(done.values()) >= 1 and sum(done.values()) == len(jobs)


async def test_a_killed_worker_loses_its_job_to_the_other_and_its_attempt_never_completes(
    make_settings, start_worker, redis_server
) -> None:
    workers = {"w1": start_worker("w1"), "w2": start_worker("w2")}
    settings = make_settings()
    async with farm_bot(settings) as bot:
        # Long enough (about 5 s) that the worker is still rendering when it is killed.
        job = await bot.submit(steps=10, frames=32, size=128)
        first = await asyncio.to_thread(
            wait_until,
            lambda: (r := _rendering(redis_server, job, 1)) and r["step"] and r,
            within=60,
            what="the first attempt rendering",
        )
        victim = workers[first["name"]]
        victim.kill()
        await bot.wait_for({job}, within=120)
        with LogWatch("engine.farm.dispatch") as watch:
            # The dead attempt's result, arriving late (a worker that was only cut off, say).
            clip = base64.b64encode(b"not a clip").decode()
            late = {
                "job": job,
                "attempt": 1,
                "worker": victim.name,
                "status": "done",
                "clip": clip,
                "seconds": 1,
            }
            redis_server.client().rpush("promptreel:results", json.dumps(late))
            assert await asyncio.to_thread(watch.wait_for, lambda w: bool(w.lines(containing="refused")), 30)
        assert bot.finished() == [job]
    journal = _journal(settings)
    try:
        row = journal.get(job)
        assert row is not None and row.state == JobState.DELIVERED and row.attempts == 2
        assert row.clip_path is not None and row.clip_path.endswith(f"job-{job}-a2.mp4")
        assert not (settings.resolved_clips_dir / f"job-{job}-a1.mp4").exists()
        assert journal.complete(job, "farm", 1, "elsewhere.mp4", 1.0) is False
    finally:
        journal.close()
    survivor = ({"w1", "w2"} - {victim.name}).pop()
    assert _jobs_done(redis_server)[survivor] == 1


async def test_cancel_mid_render_stops_the_remote_render(make_settings, start_worker, redis_server) -> None:
    start_worker("w1")
    async with farm_bot(make_settings()) as bot:
        job = await bot.submit(steps=10, frames=32, size=128)
        await asyncio.to_thread(
            wait_until,
            lambda: (r := _rendering(redis_server, job, 1)) and r["step"],
            within=60,
            what="the render to start",
        )
        began = time.monotonic()
        await bot.console.handle(f"alice: /cancel {job}")
        await bot.wait_for({job}, event="cancelled", within=30)
        took = time.monotonic() - began
        assert bot.finished() == []
    # The bot passes the flag on within a round; the worker reads it between two steps.
    assert took < 10
    assert _jobs_done(redis_server)["w1"] == 0


async def test_redis_restarted_mid_queue_every_job_is_delivered_once_and_no_try_is_spent(
    make_settings, start_worker, redis_server
) -> None:
    """Redis forgetting what it carried is nobody's fault: the attempts are sent again under
    their own numbers, so a job is not pushed towards `dead` by the owner's Redis restarts."""
    start_worker("w1")
    start_worker("w2")
    settings = make_settings()
    async with farm_bot(settings) as bot:
        jobs = {
            await bot.submit(user, steps=10, seed=i, frames=8, size=64)
            for i, user in enumerate(["alice", "bob"] * 3)
        }
        await asyncio.to_thread(
            wait_until,
            lambda: any(_rendering(redis_server, j, 1) for j in jobs),
            within=60,
            what="a job rendering",
        )
        await asyncio.to_thread(redis_server.restart)
        await bot.wait_for(jobs, within=180)
        delivered = Counter(bot.finished())
    assert delivered == Counter(dict.fromkeys(jobs, 1))
    journal = _journal(settings)
    try:
        attempts = {j: journal.get(j).attempts for j in jobs}
    finally:
        journal.close()
    assert attempts == dict.fromkeys(jobs, 1)


async def test_a_restarted_bot_finds_the_jobs_it_left_in_redis(
    make_settings, start_worker, redis_server
) -> None:
    start_worker("w1")
    start_worker("w2")
    settings = make_settings()
    async with farm_bot(settings) as first:
        jobs = {
            await first.submit(user, steps=10, seed=i, frames=8, size=64)
            for i, user in enumerate(["alice", "bob"] * 3)
        }
        await asyncio.to_thread(
            wait_until,
            lambda: sum(bool(_rendering(redis_server, j, 1)) for j in jobs) == 2,
            within=60,
            what="both workers rendering",
        )
        before = first.finished()
    async with farm_bot(settings) as second:
        await second.wait_for(jobs - set(before), within=180)
        after = second.finished()
    assert Counter(before + after) == Counter(dict.fromkeys(jobs, 1))


async def test_a_worker_never_takes_a_job_of_a_preset_it_cannot_render(
    make_settings, start_worker, redis_server
) -> None:
    start_worker("w1")
    settings = make_settings(extra_models=["wan2.1-1.3b"])
    async with farm_bot(settings) as bot:
        journal = _journal(settings)
        try:
            wan = build_request("a paper boat", model=get_preset("wan2.1-1.3b"), frames=5, seed=1)
            other = journal.enqueue(wan, user_id="carol", user_name="carol", adapter="console")
        finally:
            journal.close()
        tiny = await bot.submit(steps=4)
        await bot.wait_for({tiny})
        journal = _journal(settings)
        try:
            row = journal.get(other.id)
        finally:
            journal.close()
    assert row is not None and row.state == JobState.QUEUED and row.attempts == 0
    assert redis_server.client().zcard("promptreel:queue:wan2.1-1.3b") == 0
    assert _jobs_done(redis_server) == {"w1": 1}


async def test_owners_see_the_pool_by_preset_and_stats_count_the_live_workers(
    make_settings, start_worker, redis_server
) -> None:
    start_worker("w1")
    async with farm_bot(make_settings()) as bot:
        job = await bot.submit(steps=2)
        await bot.wait_for({job})
        w2 = await asyncio.to_thread(start_worker, "w2")
        w2.kill()
        refused = await bot.answer("mod: /mod workers")
        assert refused["event"] == "refused" and refused["reason"] == "not_owner"

        async def pool_text() -> str:
            async with asyncio.timeout(30):  # until w2's liveness key ran out
                while "gone" not in (text := (await bot.answer("boss: /mod workers"))["text"]):
                    await bot.core.dispatcher.changed(within=0.2)
                return text

        lines = sorted((await pool_text()).splitlines())
        stats = await bot.answer("alice: /stats")
    assert lines[0] == "tiny: w1, 1 done, idle"
    assert lines[1].startswith("tiny: w2, 0 done, gone, last seen")
    assert "Workers: tiny 1 (0 rendering)." in stats["text"]


async def test_farm_clips_get_the_output_check_the_mark_and_credentials_like_local_ones(
    make_settings, start_worker, redis_server
) -> None:
    """The safety and provenance promises hold whichever backend renders: a remote worker scores
    the frames it rendered, the bot's journal holds the clip by its server's threshold (0 here:
    every clip, the honest way to force it), the bot signs the returned file with keys that
    never leave its machine, and records its fingerprint."""
    from engine.credentials import make_authority
    from engine.credentials.fingerprint import fingerprint_file
    from engine.credentials.verify import check_credentials

    start_worker("w1")
    settings = make_settings(output_check_threshold=0.0)
    authority = await asyncio.to_thread(make_authority, settings.credentials_dir)
    async with farm_bot(settings) as bot:
        assert "label" in (await bot.answer("mod: /mod mark on"))["text"]
        job_id = await bot.submit(steps=2, size=96, seed=9)
        await bot.wait_for({job_id}, event="held")
        await bot.answer("mod: /mod mark off")
        plain_id = await bot.submit(steps=2, size=96, seed=9)  # the same render, unlabelled
        await bot.wait_for({plain_id}, event="held")
    journal = _journal(settings)
    try:
        row, plain = journal.get(job_id), journal.get(plain_id)
        prints = journal.find_prints(fingerprint_file(Path(row.clip_path)), 8)
    finally:
        journal.close()
    assert row.state == JobState.HELD and row.check_score is not None
    a, _ = decode_video(Path(row.clip_path))
    b, _ = decode_video(Path(plain.clip_path))
    diff = np.abs(a.astype(int) - b).mean(axis=(0, 3))  # per pixel, over frames and channels
    height, width = diff.shape
    # The label the remote worker burned sits bottom right; the rest of the clip is the same.
    assert diff[height * 3 // 4 :, width // 2 :].mean() > 20 and diff[: height // 2, : width // 2].mean() < 3
    trust = await asyncio.to_thread(authority.ca.read_text)
    verdict = await asyncio.to_thread(check_credentials, Path(row.clip_path), trust)
    assert verdict.kind == "trusted", verdict
    assert prints and prints[0][0] == job_id
