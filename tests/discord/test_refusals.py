"""Refusals: only the asker sees them, and a rate limit says when to try again."""

from __future__ import annotations

import re

import pytest

from tests.discord.conftest import World, job_id_of


def seconds_to_wait(text: str) -> list[int]:
    return [int(n) for n in re.findall(r"try again in (\d+) s", text, flags=re.IGNORECASE)]


@pytest.mark.promptreel(rate_burst=2, rate_per_minute=2.0, max_waiting_per_user=10, in_process_worker=False)
async def test_rate_limit_refusal_is_ephemeral_and_says_when_to_retry(world: World) -> None:
    for n in range(2):
        admitted = await world.alice.slash(world.channel, "video", prompt=f"a corgi {n}")
        assert not admitted.ephemeral and job_id_of(admitted.response)

    refused = await world.alice.slash(world.channel, "video", prompt="a corgi 3")
    assert refused.acknowledged and refused.ephemeral
    text = refused.response.content
    assert "faster than 2 a minute" in text
    # One bucket token comes back every 30 s at 2 a minute; the message says so, once.
    assert seconds_to_wait(text) == [30], text
    # Nobody else sees it.
    assert refused.response.id not in [m.id for m in world.channel.history()]
    assert refused.response.id in [m.id for m in world.channel.history(viewer=world.alice)]

    # By @mention the refusal is a reply (a message can't be ephemeral) with the same advice.
    await world.alice.send(world.channel, f"{world.bot.user.mention} a corgi 4")
    reply = world.channel.last_message
    assert "faster than" in reply.content and seconds_to_wait(reply.content) == [30], reply.content

    # Another member has a bucket of their own.
    other = await world.bob.slash(world.channel, "video", prompt="a corgi")
    assert not other.ephemeral


@pytest.mark.promptreel(in_process_worker=False)
async def test_invalid_requests_are_refused_privately(world: World) -> None:
    wrong_model = await world.alice.slash(world.channel, "video", prompt="a corgi", model="nope")
    assert wrong_model.ephemeral and "isn't available" in wrong_model.response.content

    # Only the mentioned user sees the bad-flag answer in the channel, and it explains the options.
    await world.alice.send(world.channel, f"{world.bot.user.mention} a corgi --sped 3")
    reply = world.channel.last_message
    assert "--sped" in reply.content and "--seed" in reply.content
    assert not reply.components

    assert await world.bot.core.db.history(str(world.alice.id)) == []


@pytest.mark.promptreel(max_waiting_per_user=1, in_process_worker=False)
async def test_too_many_waiting_refusal_says_when_to_retry(world: World) -> None:
    first = await world.alice.slash(world.channel, "video", prompt="a corgi")
    assert not first.ephemeral

    refused = await world.alice.slash(world.channel, "video", prompt="a corgi again")
    assert refused.ephemeral
    text = refused.response.content
    assert "already have 1 videos waiting" in text
    waits = seconds_to_wait(text)
    assert len(waits) == 1 and waits[0] >= 5, text
