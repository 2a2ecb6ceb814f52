"""The Extend button: on clips of presets that can continue a clip, on a row of its own, and it
queues the continuation as the requester's own fair job (the core's promises are in
tests/bot/test_pictures.py)."""

from __future__ import annotations

import pytest

from engine.journal import JobState
from tests.discord.conftest import World, custom_ids, job_id_of

pytestmark = pytest.mark.promptreel(model="tiny-i2v", extra_models=["tiny"])


async def test_extend_appears_where_the_preset_can_continue_and_queues_a_continuation(world: World) -> None:
    started = await world.alice.slash(world.channel, "video", prompt="a lighthouse", frames=9, seed=4)
    clip = await world.wait_for_clip(job_id_of(started.response))
    assert f"promptreel:extend:{clip.job.id}" in custom_ids(clip.message)

    # Another member's click is refused; the requester's queues the next segment.
    other = await world.bob.click(clip.message, label="Extend")
    assert other.ephemeral
    extended = await world.alice.click(clip.message, label="Extend")
    assert extended.acknowledged and not extended.ephemeral
    job = await world.wait_for_job(job_id_of(extended.response), states={JobState.DELIVERED})
    assert job.parent_id == clip.job.id and job.request.extend == clip.job.clip_path


def test_a_text_only_presets_clip_has_no_extend_button() -> None:
    from bot.discord.components import clip_view

    ids = [item.custom_id for item in clip_view(7).children]
    assert ids and not any("extend" in i for i in ids)
    rows = {item.custom_id: item.row for item in clip_view(7, extendable=True).children}
    assert rows["promptreel:extend:7"] == 1  # a row of its own: the first holds five
