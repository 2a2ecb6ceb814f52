"""Buttons on delivered clips: they outlive the bot, and only the requester may use most of them."""

from __future__ import annotations

import discord

from engine.journal import JobState
from tests.discord.conftest import World, job_id_of


async def make_clip(world: World, prompt: str = "a corgi surfing", seed: int = 5) -> tuple[int, int]:
    """Alice's delivered clip: (job id, clip message id)."""
    result = await world.alice.slash(world.channel, "video", prompt=prompt, frames=3, seed=seed)
    clip = await world.wait_for_clip(job_id_of(result.response))
    return clip.job.id, clip.message.id


def message(world: World, message_id: int) -> discord.Message:
    found = [m for m in world.channel.history() if m.id == message_id]
    assert found, f"message {message_id} is gone"
    return found[0]


async def test_buttons_work_after_a_restart(world: World) -> None:
    job_id, clip_id = await make_clip(world, "a corgi surfing", seed=5)
    old_bot = world.bot
    await world.restart()
    assert world.bot is not old_bot

    # Info on the old clip: an ephemeral description of the job, from the journal.
    info = await world.alice.click(message(world, clip_id), label="Info")
    assert info.ephemeral and info.response is not None
    assert f"Job {job_id}" in info.response.content
    assert "a corgi surfing" in info.response.content and "seed 5" in info.response.content

    # Re-roll: a new job with the same prompt and a new seed, answered with a public status.
    reroll = await world.alice.click(message(world, clip_id), label="Re-roll")
    assert reroll.acknowledged and not reroll.ephemeral
    rerolled = await world.wait_for_job(job_id_of(reroll.response), states={JobState.DELIVERED})
    assert rerolled.id != job_id and rerolled.parent_id == job_id
    assert rerolled.request.prompt == "a corgi surfing"
    assert rerolled.request.seed != 5
    assert rerolled.request.frames == 3  # the other options are kept

    # Remix: a modal with the old prompt; submitting queues the new prompt with the old seed.
    shown = await world.alice.click(message(world, clip_id), label="Remix")
    assert shown.modal is not None and shown.modal["custom_id"] == f"promptreel:remixmodal:{job_id}"
    submitted = await world.alice.submit_modal(shown, {"prompt": "a corgi surfing on the moon"})
    assert submitted.acknowledged and not submitted.ephemeral
    remixed = await world.wait_for_job(job_id_of(submitted.response), states={JobState.DELIVERED})
    assert remixed.parent_id == job_id
    assert remixed.request.prompt == "a corgi surfing on the moon"
    assert remixed.request.seed == 5
    clip = await world.wait_for_clip(remixed.id)
    assert clip.data[4:8] == b"ftyp"


async def test_someone_elses_buttons_answer_not_yours(world: World) -> None:
    job_id, clip_id = await make_clip(world)
    jobs_before = await world.bot.core.db.history(str(world.bob.id))

    for label in ("Re-roll", "Remix", "Delete"):
        result = await world.bob.click(message(world, clip_id), label=label)
        assert result.ephemeral, label
        assert result.modal is None, label
        assert result.response is not None and "not yours" in result.response.content, label

    # Nothing was queued for bob, and the clip is still there.
    assert await world.bot.core.db.history(str(world.bob.id)) == jobs_before
    assert message(world, clip_id).attachments

    # Info is for anyone in the server.
    info = await world.bob.click(message(world, clip_id), label="Info")
    assert info.ephemeral and f"Job {job_id}" in info.response.content

    # The owner may delete it.
    deleted = await world.alice.click(message(world, clip_id), label="Delete")
    assert deleted.ephemeral and deleted.response.content == "Deleted."
    assert clip_id not in [m.id for m in world.channel.history()]
