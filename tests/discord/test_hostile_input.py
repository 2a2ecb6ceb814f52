"""Hostile input through Discord: mention markup built to make the mention pattern work hard."""

from __future__ import annotations

from engine.journal import JobState
from tests.discord.conftest import World, job_id_of


async def test_only_the_bots_own_mentions_leave_the_prompt(world: World) -> None:
    """Both forms of the bot's mention go; digit runs that are no snowflake stay as typed."""
    me = world.bot.user.id
    kept = f"<@{'9' * 25}> <@{me}0> <@!{'1' * 21}> <@{'9' * 300}"
    request = await world.bob.send(world.channel, f"<@{me}> a cat <@!{me}> {kept} --frames 2 --seed 3")
    status = world.channel.last_message
    assert status.reference is not None and status.reference.message_id == request.id
    job = await world.wait_for_job(job_id_of(status), states={JobState.DELIVERED})
    assert job.request.prompt == f"a cat {kept}"
