"""Prompts in, clips out: /video, @mentions with flags, and DMs, with the real tiny model."""

from __future__ import annotations

import pytest

from engine.journal import JobState
from tests.discord.conftest import World, custom_ids, job_id_of, wait_for_clip

CLIP_BUTTONS = ("reroll", "remix", "info", "delete", "report")


def assert_mp4(data: bytes) -> None:
    # An MP4 starts with a box whose type (bytes 4-8) is `ftyp`.
    assert len(data) > 100, f"{len(data)} bytes is not a video"
    assert data[4:8] == b"ftyp", f"not an MP4: starts with {data[:12]!r}"


def assert_clip_buttons(ids: list[str], job_id: int) -> None:
    assert ids == [f"promptreel:{action}:{job_id}" for action in CLIP_BUTTONS], ids


async def test_slash_video_is_delivered_as_the_interaction_response(world: World) -> None:
    result = await world.alice.slash(world.channel, "video", prompt="a corgi surfing", frames=4, seed=7)

    # Acknowledged at once, publicly, with a status line and a Cancel button.
    assert result.acknowledged and not result.ephemeral
    status = result.response
    assert status is not None and "a corgi surfing" in status.content
    job_id = job_id_of(status)
    assert custom_ids(status) == [f"promptreel:cancel:{job_id}"]

    clip = await world.wait_for_clip(job_id)
    assert clip.via == "interaction"
    # The clip replaced the status message: same message, now with the video and the clip buttons.
    assert clip.message.id == status.id
    assert_mp4(clip.data)
    assert clip.attachment.filename == f"promptreel-{job_id}.mp4"
    assert clip.attachment.size == len(clip.data)
    assert_clip_buttons(clip.button_ids, job_id)
    assert "a corgi surfing" in clip.message.content and "seed 7" in clip.message.content
    request = clip.job.request
    assert (request.prompt, request.frames, request.seed) == ("a corgi surfing", 4, 7)
    assert clip.job.user_id == str(world.alice.id)


async def test_mention_with_flags_gets_a_status_reply_then_the_clip(world: World) -> None:
    bot_mention = world.bot.user.mention
    request = await world.bob.send(world.channel, f"{bot_mention} a corgi --frames 4 --seed 3")

    replies = [m for m in world.channel.history() if m.reference and m.reference.message_id == request.id]
    assert len(replies) == 1, replies
    status = replies[0]
    assert status.author.id == world.bot.user.id
    assert "a corgi" in status.content
    job_id = job_id_of(status)
    assert custom_ids(status) == [f"promptreel:cancel:{job_id}"]

    clip = await world.wait_for_clip(job_id)
    assert clip.via == "channel"
    assert clip.message.reference is not None and clip.message.reference.message_id == request.id
    assert_mp4(clip.data)
    assert_clip_buttons(clip.button_ids, job_id)
    r = clip.job.request
    # The flags became options; the bot's mention and the flags left the prompt.
    assert (r.prompt, r.frames, r.seed) == ("a corgi", 4, 3)
    # The status reply now points at the clip.
    edited = next(m for m in world.channel.history() if m.id == status.id)
    assert "Done" in edited.content


async def test_dm_prompt_gets_a_status_reply_then_the_clip(world: World) -> None:
    dm = world.alice.user.dm_channel
    request = await world.alice.send_dm("a paper boat on a rainy street --frames 3 --seed 11")

    bot_messages = [m for m in dm.history() if m.author.id == world.bot.user.id]
    assert len(bot_messages) == 1, [m.content for m in dm.history()]
    status = bot_messages[0]
    assert status.reference is not None and status.reference.message_id == request.id
    job_id = job_id_of(status)

    clip = await wait_for_clip(world.env, job_id, dm)
    assert_mp4(clip.data)
    assert_clip_buttons(clip.button_ids, job_id)
    assert clip.job.guild_id is None
    assert (clip.job.request.prompt, clip.job.request.frames) == ("a paper boat on a rainy street", 3)


@pytest.mark.promptreel(allow_dms=False)
async def test_dms_are_refused_when_turned_off(world: World) -> None:
    dm = world.alice.user.dm_channel
    await world.alice.send_dm("a paper boat --frames 2")

    last = dm.last_message
    assert last is not None and last.author.id == world.bot.user.id
    assert "turned off" in last.content
    assert not last.components  # no job, so no buttons
    assert await world.bot.core.db.history(str(world.alice.id)) == []

    # Guild prompts still work for the same person.
    result = await world.alice.slash(world.channel, "video", prompt="a boat", frames=2)
    job = await world.wait_for_job(job_id_of(result.response), states={JobState.DELIVERED})
    assert job.user_id == str(world.alice.id)
