"""Held clips on Discord: the requester's status says so, nothing is posted; /mod release posts it once.

The real detector on the tiny model's real frames, forced to flag with a threshold of 0.0.
"""

from __future__ import annotations

import pytest

from engine.journal import JobState
from tests.discord.conftest import World, job_id_of


def attachments(world: World) -> list[int]:
    return [m.id for m in world.channel.history() if m.attachments]


@pytest.mark.promptreel(output_check_threshold=0.0)
async def test_a_held_clip_is_announced_not_posted_and_release_posts_it_once(world: World) -> None:
    result = await world.alice.slash(world.channel, "video", prompt="a corgi surfing", frames=2, seed=5)
    status = result.response
    job_id = job_id_of(status)
    await world.wait_for_job(job_id, states={JobState.HELD})
    shown = next(m for m in world.channel.history() if m.id == status.id)
    assert "moderator" in shown.content and not shown.attachments
    assert attachments(world) == []

    listed = await world.mod.slash(world.channel, "mod held")
    assert listed.ephemeral and f"job {job_id}" in listed.response.content
    released = await world.mod.slash(world.channel, "mod release", job=job_id)
    assert released.ephemeral and f"job {job_id}" in released.response.content
    clip = await world.wait_for_clip(job_id)
    assert clip.data[4:8] == b"ftyp"
    assert attachments(world) == [clip.message.id]  # once

    again = await world.mod.slash(world.channel, "mod release", job=job_id)
    assert "not held" in again.response.content
    await world.wait_for_job(job_id, states={JobState.DELIVERED})
    assert attachments(world) == [clip.message.id]


@pytest.mark.promptreel(output_check_threshold=0.0)
async def test_a_rejected_clip_tells_the_requester_and_is_never_posted(world: World) -> None:
    result = await world.alice.slash(world.channel, "video", prompt="a lantern", frames=2, seed=6)
    job_id = job_id_of(result.response)
    await world.wait_for_job(job_id, states={JobState.HELD})
    rejected = await world.mod.slash(world.channel, "mod reject", job=job_id)
    assert rejected.ephemeral and f"job {job_id}" in rejected.response.content
    await world.wait_for_job(job_id, states={JobState.REJECTED})
    shown = next(m for m in world.channel.history() if m.id == result.response.id)
    assert "decided not to post" in shown.content
    assert attachments(world) == []


async def test_the_threshold_command_answers_moderators(world: World) -> None:
    shown = await world.mod.slash(world.channel, "mod threshold", value=0.25)
    assert shown.ephemeral and "0.25" in shown.response.content
