"""/video's option ranges, as Discord shows and enforces them, agree with what the engine accepts."""

from __future__ import annotations

from typing import Any

import pytest
import simcord

from engine.request import InvalidRequest, build_request
from tests.discord.conftest import World, job_id_of
from tests.helpers import decode_video


def video_option(world: World, name: str) -> dict[str, Any]:
    """An option of /video as the bot synced it to Discord."""
    commands = world.env.backend.visible_commands(user_id=world.alice.id, channel_id=world.channel.id)
    [video] = [c for c in commands if c["name"] == "video"]
    [option] = [o for o in video["options"] if o["name"] == name]
    return option


async def test_seconds_advertises_the_longest_clip_the_engine_accepts(world: World, tmp_path: Any) -> None:
    longest = video_option(world, "seconds")["max_value"]
    slowest = video_option(world, "fps")["min_value"]
    # The tiny model takes 32 frames at most, and the slowest frame rate /video offers is 1 fps.
    assert (longest, slowest) == (32, 1)

    # Just above the advertised maximum, Discord itself refuses the value.
    with pytest.raises(simcord.OptionError) as refused:
        await world.alice.slash(world.channel, "video", prompt="a slow tide", seconds=longest + 0.01, fps=1)
    assert refused.value.option == "seconds"
    # The engine would refuse it too: there is no longer clip at any frame rate.
    with pytest.raises(InvalidRequest):
        build_request("a slow tide", model="tiny", seconds=longest + 0.01, fps=slowest)

    # At the maximum, the engine queues it and the clip has every frame.
    result = await world.alice.slash(
        world.channel, "video", prompt="a slow tide", seconds=longest, fps=slowest, steps=1, seed=1
    )
    clip = await world.wait_for_clip(job_id_of(result.response))
    assert (clip.job.request.frames, clip.job.request.fps) == (32, 1)
    (tmp_path / "clip.mp4").write_bytes(clip.data)
    assert len(decode_video(tmp_path / "clip.mp4")[0]) == 32


@pytest.mark.promptreel(in_process_worker=False)
async def test_the_longest_clip_at_the_default_rate_is_refused_with_that_rates_limit(world: World) -> None:
    """Discord cannot tie one option's range to another's value; the engine states the limit."""
    result = await world.alice.slash(world.channel, "video", prompt="a slow tide", seconds=32)
    assert result.ephemeral
    # 32 frames at the default 8 fps: 4 seconds.
    assert "4 seconds at 8 fps" in result.response.content
    assert await world.bot.core.db.history(str(world.alice.id)) == []
