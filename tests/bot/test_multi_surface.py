"""One Core serving several adapters: routing by surface, isolation of a stuck or failing one,
shared caps and fairness, and surfaces with their own `run` started and supervised by the core.

Real journal, real tiny model rendered by a real worker on a thread; the adapters are recorders.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from bot.core import Core, DeliveryError, Requester
from engine.journal import Job, JobState
from engine.worker import Worker

TINY = {"frames": 2, "steps": 1, "width": 32, "height": 32}


class Recorder:
    """Records deliveries; `mode` makes it hang forever or raise on every delivery."""

    def __init__(self, name: str, mode: str = "ok") -> None:
        self.name = name
        self.mode = mode
        self.delivered: list[Job] = []
        self.tried: list[int] = []
        self.got: asyncio.Event = asyncio.Event()
        self.started = 0

    async def on_progress(self, job: Job, step: int, total: int) -> None:
        if self.mode == "stuck":
            await asyncio.Event().wait()

    async def deliver(self, job: Job) -> dict[str, Any] | None:
        self.tried.append(job.id)
        if self.mode == "stuck":
            await asyncio.Event().wait()
        if self.mode == "raise":
            raise DeliveryError("429 from the network", retry=True, retry_after=3600)
        self.delivered.append(job)
        self.got.set()
        return None


async def render_all(core: Core, renderer: Any) -> None:
    worker = Worker(core.settings, renderer=renderer, name="test-worker")
    try:
        while await asyncio.to_thread(worker.run_once):
            pass
    finally:
        worker.journal.close()


async def wait_until(core: Core, check: Callable[[], Any]) -> None:
    """Until `check()` holds, re-checked whenever a delivery ends (or every 50 ms), for 30 s."""
    async with asyncio.timeout(30):
        while not await check():
            await core.dispatchers["good"].changed(within=0.05)


def who(surface: str, name: str) -> Requester:
    return Requester(f"{surface}:{name}", name, surface, None, surface=surface)


async def test_jobs_are_delivered_by_their_own_surface_and_a_stuck_or_failing_one_holds_nobody(
    make_settings: Callable[..., Any], renderer: Any
) -> None:
    good, stuck, failing = Recorder("good"), Recorder("stuck", "stuck"), Recorder("failing", "raise")
    core = Core(make_settings(), stuck, also=[failing, good])
    await core.start()
    core.dispatchers["stuck"].stop_grace = 0.1  # its send never ends: close() must not wait on it
    try:
        held = await core.submit(who("stuck", "ann"), "a lighthouse", TINY)
        refused = await core.submit(who("failing", "ann"), "a windmill", TINY)
        first = await core.submit(who("good", "ann"), "a paper boat", TINY)
        second = await core.submit(who("good", "bob"), "a kite", TINY)
        await render_all(core, renderer)
        await wait_until(core, lambda: _true(len(good.delivered) == 2))
        await wait_until(core, lambda: _true(refused.job_id in failing.tried and held.job_id in stuck.tried))
    finally:
        await asyncio.wait_for(core.close(), 30)
    assert sorted(j.id for j in good.delivered) == sorted([first.job_id, second.job_id])
    assert all(j.adapter == "good" for j in good.delivered)
    assert failing.delivered == [] and stuck.delivered == []
    # The failed one waits for the network's reset (an hour), not the usual 2 s backoff.
    journal = await _open(make_settings)
    try:
        job = await journal.get(refused.job_id)
        assert job.delivery == "pending" and job.state == JobState.RENDERED
        assert (await journal.get(held.job_id)).delivery == "sending"
    finally:
        await journal.close()


async def _true(value: bool) -> bool:
    return value


async def _open(make_settings: Callable[..., Any]) -> Any:
    from engine.journal import AsyncJournal

    return await AsyncJournal.open(make_settings().resolved_db_path)


async def test_people_are_told_apart_by_surface_and_caps_count_every_surface(
    make_settings: Callable[..., Any],
) -> None:
    core = Core(make_settings(max_queue=3, max_waiting_per_user=1), Recorder("a"), also=[Recorder("b")])
    await core.start()
    try:
        # The same handle on two networks is two people: each may have one job waiting.
        assert (await core.submit(who("a", "sam"), "a fox", TINY)).event == "queued"
        assert (await core.submit(who("b", "sam"), "a fox", TINY)).event == "queued"
        assert (await core.submit(who("a", "sam"), "a hen", TINY)).reason == "too_many_waiting"
        assert (await core.submit(who("b", "kim"), "an owl", TINY)).event == "queued"
        # The whole queue is one: the fourth job is refused whichever surface it comes from.
        assert (await core.submit(who("a", "lee"), "a cat", TINY)).reason == "busy"
        jobs = await core.db.waiting(limit=10)
        assert sorted((j.adapter, j.user_id) for j in jobs) == [
            ("a", "a:sam"),
            ("b", "b:kim"),
            ("b", "b:sam"),
        ]
    finally:
        await core.close()


async def test_a_post_read_twice_becomes_one_job(make_settings: Callable[..., Any]) -> None:
    core = Core(make_settings(), Recorder("a"))
    await core.start()
    try:
        first = await core.submit(who("a", "sam"), "a fox", TINY, post_id="p1")
        again = await core.submit(who("a", "sam"), "a fox", TINY, post_id="p1")
        other = await core.submit(who("a", "sam"), "a fox", TINY, post_id="p2")
        assert first.event == "queued" and other.event == "queued"
        assert again.event == "duplicate" and again.job_id == first.job_id
        assert len(await core.db.waiting(limit=10)) == 2
    finally:
        await core.close()


class Runner(Recorder):
    """A surface with its own loop: crashes on its first run, then reads until stopped."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.running = asyncio.Event()
        self.stopped = False

    async def run(self, core: Core) -> None:
        self.started += 1
        if self.started == 1:
            raise RuntimeError("network down")
        self.running.set()
        try:
            await asyncio.Event().wait()
        finally:
            self.stopped = True


async def test_a_surface_that_crashes_is_started_again_and_stopped_with_the_core(
    make_settings: Callable[..., Any], renderer: Any
) -> None:
    runner, other = Runner("runner"), Recorder("other")
    core = Core(make_settings(), other, also=[runner])
    await core.start()
    try:
        job = await core.submit(who("other", "ann"), "a tram", TINY)
        await render_all(core, renderer)
        await asyncio.wait_for(other.got.wait(), 30)
        await asyncio.wait_for(runner.running.wait(), 30)
        assert runner.started == 2 and other.delivered[0].id == job.job_id
    finally:
        await core.close()
    assert runner.stopped
