"""`/forget` in Discord: a confirmation first, then the member's rows and clips are gone."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from engine.journal import JobState
from tests.discord.conftest import World, job_id_of


async def test_forget_asks_first_then_deletes_rows_and_clips(world: World) -> None:
    made = await world.alice.slash(world.channel, "video", prompt="a corgi", frames=2)
    job = await world.wait_for_job(job_id_of(made.response), states={JobState.DELIVERED})
    assert job.clip_path is not None
    db = world.bot.core.settings.resolved_db_path

    ask = await world.alice.slash(world.channel, "forget")
    assert ask.ephemeral and "cannot be undone" in ask.response.content
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM jobs WHERE id = ?", (job.id,)).fetchone() == (1,)

    done = await world.alice.slash(world.channel, "forget", confirm=True)
    assert done.ephemeral and done.response.content.startswith("Done: 1 prompts")
    with sqlite3.connect(db) as conn:
        assert conn.execute(
            "SELECT COUNT(*) FROM jobs WHERE user_id = ?", (str(world.alice.id),)
        ).fetchone() == (0,)
    assert not Path(job.clip_path).exists()  # noqa: ASYNC240 (one stat, after the bot is done)
