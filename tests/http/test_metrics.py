"""/metrics: every metric there from the first scrape, and numbers that follow real jobs.

The expected numbers are read from the journal the jobs ran through (states, render seconds)
or are what the test made happen (three prompts, one refusal, one failed send), never taken
from the code that counts them.
"""

from __future__ import annotations

import asyncio
import io
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from bot.console import ConsoleAdapter
from bot.core import DeliveryError
from bot.core.events import JobEvent
from engine.journal import Job, Journal
from tests.http.conftest import StartBot

TINY = "--frames 2 --steps 1 --width 32 --height 32"
STATES = ("queued", "running", "rendered", "delivered", "cancelled", "refused", "failed", "dead")


async def scrape(http: aiohttp.ClientSession, url: str) -> dict[tuple[str, frozenset[Any]], float]:
    async with http.get(f"{url}/metrics") as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = await response.text()
    samples = {}
    for family in text_string_to_metric_families(text):
        assert family.name.startswith("promptreel_"), family.name
        for s in family.samples:
            samples[s.name, frozenset(s.labels.items())] = s.value
    return samples


def value(samples: dict[tuple[str, frozenset[Any]], float], name: str, **labels: str) -> float:
    return samples[name, frozenset(labels.items())]


async def test_every_metric_is_there_from_start_up(start_bot: StartBot, http: aiohttp.ClientSession) -> None:
    bot = await start_bot()
    m = await scrape(http, bot.url)
    for state in STATES:
        assert value(m, "promptreel_jobs", state=state) == 0
    assert value(m, "promptreel_queue_depth", preset="tiny") == 0
    assert value(m, "promptreel_render_seconds_count", preset="tiny") == 0
    assert value(m, "promptreel_render_seconds_bucket", preset="tiny", le="+Inf") == 0
    assert value(m, "promptreel_refusals_total", category="sexual") == 0
    assert value(m, "promptreel_refusals_total", category="rate_limited") == 0
    assert value(m, "promptreel_output_check_flags_total", preset="tiny") == 0
    assert value(m, "promptreel_delivery_retries_total", surface="console") == 0
    assert value(m, "promptreel_workers_seen", preset="tiny") == 0


async def test_queue_depth_and_states_follow_the_journal(
    start_bot: StartBot, http: aiohttp.ClientSession
) -> None:
    bot = await start_bot()  # no worker: the jobs stay queued
    for who in ("alice", "bob", "carol"):
        await bot.say(f"{who}: a lighthouse {TINY}")
    await bot.say("alice: /cancel 1")
    m = await scrape(http, bot.url)
    assert value(m, "promptreel_queue_depth", preset="tiny") == 2
    assert value(m, "promptreel_jobs", state="queued") == 2
    assert value(m, "promptreel_jobs", state="cancelled") == 1


class FirstSendFails(ConsoleAdapter):
    """A surface whose first upload fails the way a network blip does (tried again later)."""

    failed = False

    async def deliver(self, job: Job) -> dict[str, Any] | None:
        if not self.failed:
            self.failed = True
            raise DeliveryError("connection reset", retry=True)
        return await super().deliver(job)


async def test_metrics_move_when_jobs_run(start_bot: StartBot, http: aiohttp.ClientSession) -> None:
    adapter = FirstSendFails(io.StringIO(), as_json=True)
    bot = await start_bot(adapter=adapter, in_process_worker=True)
    before = await scrape(http, bot.url)
    for who in ("alice", "bob", "carol"):
        await bot.say(f"{who}: a paper boat on a pond {TINY}")
    await bot.say("dave: a n\u200bude statue")
    await asyncio.wait_for(bot.core.wait_idle(), 120)

    journal = Journal(bot.core.settings.resolved_db_path)
    try:
        jobs = [journal.get(i) for i in range(1, 5)]
        heartbeats = journal.workers_seen(0)
    finally:
        journal.close()
    delivered = [j for j in jobs if j is not None and j.state == "delivered"]
    assert len(delivered) == 3 and jobs[3] is not None and jobs[3].state == "refused"

    after = await scrape(http, bot.url)
    assert value(before, "promptreel_jobs", state="delivered") == 0
    assert value(after, "promptreel_jobs", state="delivered") == 3
    assert value(after, "promptreel_jobs", state="refused") == 1
    assert value(after, "promptreel_queue_depth", preset="tiny") == 0
    assert value(after, "promptreel_render_seconds_count", preset="tiny") == 3
    rendered = sum(j.render_seconds for j in delivered if j.render_seconds is not None)
    assert abs(value(after, "promptreel_render_seconds_sum", preset="tiny") - rendered) < 0.01
    assert value(after, "promptreel_refusals_total", category="sexual") == 1
    assert value(after, "promptreel_delivery_retries_total", surface="console") == 1
    assert value(after, "promptreel_job_events_total", event="delivered") == 3
    assert value(after, "promptreel_workers_seen", preset="tiny") == len(heartbeats) == 1


async def test_output_check_flags_count_the_events_the_check_emits(
    start_bot: StartBot, http: aiohttp.ClientSession
) -> None:
    """The output check reports through the core's job events; nothing else is needed to count."""
    bot = await start_bot()
    bot.core.events.emit(JobEvent("flagged", 7, "tiny", {"category": "nudity"}))
    bot.core.events.emit(JobEvent("flagged", 8, "tiny", {"category": "gore"}))
    m = await scrape(http, bot.url)
    assert value(m, "promptreel_output_check_flags_total", preset="tiny") == 2
