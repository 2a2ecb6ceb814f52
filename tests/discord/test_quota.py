"""Quotas in Discord: `/mod quota`, a member's roles giving more and a higher priority, and the
quota left in `/history`, with the real bot in a simulated Discord (simcord)."""

from __future__ import annotations

from engine.journal import JobState
from tests.discord.conftest import World, job_id_of


async def test_mod_quota_roles_and_history(world: World) -> None:
    # bob has the Fans role: 3 videos a day and priority 5; everyone else 1 a day.
    fans = str(world.fans_role.id)
    await world.restart(quota_roles={fans: 3}, priority_roles={fans: 5})
    set_ = await world.mod.slash(world.channel, "mod quota", member=1)
    assert set_.ephemeral and "each member 1 a day" in set_.response.content

    first = await world.alice.slash(world.channel, "video", prompt="a corgi", frames=2)
    assert not first.ephemeral
    await world.wait_for_job(job_id_of(first.response), states={JobState.DELIVERED})
    second = await world.alice.slash(world.channel, "video", prompt="a corgi", frames=2)
    assert second.ephemeral and "your 1 videos for today" in second.response.content

    bob_first = await world.bob.slash(world.channel, "video", prompt="a boat", frames=2)
    job = await world.wait_for_job(job_id_of(bob_first.response), states={JobState.DELIVERED})
    assert job.priority == 5
    history = await world.bob.slash(world.channel, "history")
    assert "Today: 2 of your 3 videos left" in history.response.content
