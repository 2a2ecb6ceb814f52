"""The Report button on every clip: a member flags it, the server's moderators see it with the
prompt in `/mod reports`."""

from __future__ import annotations

from tests.discord.conftest import World
from tests.discord.test_buttons import make_clip, message


async def test_a_reported_clip_reaches_the_moderators_review_list(world: World) -> None:
    job_id, clip_id = await make_clip(world, "a suspicious corgi", seed=3)
    reported = await world.bob.click(message(world, clip_id), label="Report")
    assert reported.ephemeral and reported.response.content.startswith("Thanks")
    again = await world.bob.click(message(world, clip_id), label="Report")
    assert again.ephemeral and "already" in again.response.content

    review = await world.mod.slash(world.channel, "mod reports")
    assert review.ephemeral
    assert f"Job {job_id}" in review.response.content and "a suspicious corgi" in review.response.content
    assert "reported 1x" in review.response.content  # bob twice is still one report
