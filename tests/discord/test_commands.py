"""The informational commands answer, privately, from the journal."""

from __future__ import annotations

import re

import pytest

from tests.discord.conftest import World, job_id_of


async def test_help_history_show_and_stats(world: World) -> None:
    help_ = await world.alice.slash(world.channel, "help")
    assert help_.ephemeral
    assert "--seed" in help_.response.content and "tiny" in help_.response.content

    empty = await world.alice.slash(world.channel, "history")
    assert empty.ephemeral and empty.response.content == "You haven't made any videos yet."

    stats = await world.alice.slash(world.channel, "stats")
    assert stats.ephemeral and stats.response.content.startswith("0 renders")

    result = await world.alice.slash(world.channel, "video", prompt="a lighthouse at dusk", frames=2, seed=42)
    job_id = job_id_of(result.response)
    await world.wait_for_clip(job_id)

    history = await world.alice.slash(world.channel, "history")
    assert history.ephemeral
    assert history.response.content == f"job {job_id} [delivered] a lighthouse at dusk (seed 42)"
    # Somebody else's history is their own.
    other = await world.bob.slash(world.channel, "history")
    assert other.response.content == "You haven't made any videos yet."

    show = await world.bob.slash(world.channel, "show", job=job_id)
    assert show.ephemeral
    text = show.response.content
    assert text.startswith(f"Job {job_id} [delivered]")
    assert "Prompt: a lighthouse at dusk" in text and "seed 42" in text and "2 frames" in text
    assert re.search(r"rendered in \d+\.\d s", text), text

    missing = await world.alice.slash(world.channel, "show", job=job_id + 100)
    assert missing.ephemeral and missing.response.content == f"There is no job {job_id + 100} here."

    stats = await world.alice.slash(world.channel, "stats")
    assert re.fullmatch(r"1 renders, median render time \d+\.\d s, 0 in queue\.", stats.response.content)


@pytest.mark.promptreel(in_process_worker=False)  # no worker: jobs stay in the queue
async def test_queue_lists_waiting_jobs(world: World) -> None:
    empty = await world.alice.slash(world.channel, "queue")
    assert empty.ephemeral and empty.response.content == "The queue is empty."

    mine = job_id_of((await world.alice.slash(world.channel, "video", prompt="a corgi")).response)
    theirs = job_id_of((await world.bob.slash(world.channel, "video", prompt="a cat")).response)

    queue = await world.alice.slash(world.channel, "queue")
    assert queue.ephemeral
    assert queue.response.content.splitlines() == [
        f"1. job {mine} (yours): waiting",
        f"2. job {theirs}: waiting",
    ]
    stats = await world.bob.slash(world.channel, "stats")
    assert stats.response.content == "0 renders, median render time n/a, 2 in queue."
