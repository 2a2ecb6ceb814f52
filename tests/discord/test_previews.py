"""Live previews in the status message: one attachment, replaced while the clip renders, gone
once the clip arrives. The real bot in simcord, the real tiny model on the bot's worker thread."""

from __future__ import annotations

from typing import Any

import pytest

from tests.discord.conftest import World, bot_requests, job_id_of

PREVIEWS = {"preview_every_steps": 1, "preview_seconds": 0.0, "preview_max_cost": 50.0}
PREVIEW = [{"id": 0, "filename": "preview.jpg"}]  # one new upload: it replaces what was attached


def edits_of(requests: list[Any], path_part: str) -> list[dict[str, Any]]:
    """The JSON bodies of the bot's message edits whose path has `path_part`, in order."""
    return [r.json or {} for r in requests if r.method == "PATCH" and path_part in r.path]


@pytest.mark.promptreel(**PREVIEWS)
async def test_a_mentions_status_shows_previews_then_done_without_one(world: World) -> None:
    start = len(world.env.http_requests)
    await world.alice.send(world.channel, f"{world.bot.user.mention} a lighthouse --frames 3 --steps 6")
    status = world.channel.last_message
    job_id = job_id_of(status)
    clip = await world.wait_for_clip(job_id)
    assert clip.via == "channel" and clip.attachment.filename == f"promptreel-{job_id}.mp4"

    edits = edits_of(bot_requests(world.env, start), f"/messages/{status.id}")
    # Every step edits the status (this bot's edit budget is 0 s); steps 2 to 5 bring a new
    # preview each (step 1 has no step time to weigh one by, the clip follows step 6); the
    # final edit removes it.
    attached = [e.get("attachments") for e in edits]
    assert attached == [None, PREVIEW, PREVIEW, PREVIEW, PREVIEW, None, []], attached
    assert "Done" in edits[-1]["content"]
    shown = next(m for m in world.channel.history() if m.id == status.id)
    assert shown.attachments == [] and "Done" in shown.content


@pytest.mark.promptreel(**PREVIEWS, status_edit_seconds=3600.0)
async def test_previews_are_never_attached_more_often_than_status_edits(world: World) -> None:
    """An hour between edits: only the last step's edit (always made) and the final one, neither
    with a preview (the clip follows the last step at once)."""
    start = len(world.env.http_requests)
    await world.alice.send(world.channel, f"{world.bot.user.mention} a lighthouse --frames 3 --steps 6")
    status = world.channel.last_message
    await world.wait_for_clip(job_id_of(status))
    edits = edits_of(bot_requests(world.env, start), f"/messages/{status.id}")
    assert [e.get("attachments") for e in edits] == [None, []], edits


@pytest.mark.promptreel(**PREVIEWS)
async def test_the_clip_replaces_the_preview_in_an_interaction_response(world: World) -> None:
    start = len(world.env.http_requests)
    result = await world.alice.slash(world.channel, "video", prompt="a lighthouse", frames=3, steps=6)
    job_id = job_id_of(result.response)
    clip = await world.wait_for_clip(job_id)
    assert clip.via == "interaction" and clip.message.id == result.response.id
    # wait_for_clip found exactly one attachment on the message: the clip, not a preview beside it.
    assert clip.attachment.filename == f"promptreel-{job_id}.mp4"
    edits = edits_of(bot_requests(world.env, start), "/webhooks/")
    attached = [e.get("attachments") for e in edits]
    assert attached[:-1] == [None, PREVIEW, PREVIEW, PREVIEW, PREVIEW, None], attached
    assert attached[-1] == [{"id": 0, "filename": f"promptreel-{job_id}.mp4"}], attached
