"""The appeal path on Discord: a refusal names its category and says how to ask; /mod allow."""

from __future__ import annotations

import pytest

from tests.discord.conftest import World, job_id_of

PROMPT = "Dick Van Dyke dancing on a roof"


@pytest.mark.promptreel(in_process_worker=False)
async def test_a_moderator_allows_a_phrase_the_lists_refused(world: World) -> None:
    refused = await world.alice.slash(world.channel, "video", prompt=PROMPT)
    assert refused.ephemeral
    text = refused.response.content
    assert "real public figures" in text and "/mod allow" in text
    assert "dyke" not in text.lower()

    allowed = await world.mod.slash(world.channel, "mod allow", phrase="Dick Van Dyke")
    assert allowed.ephemeral and "dick van dyke" in allowed.response.content

    admitted = await world.alice.slash(world.channel, "video", prompt=PROMPT)
    assert not admitted.ephemeral and job_id_of(admitted.response)

    listed = await world.mod.slash(world.channel, "mod allowed", action="list")
    assert "dick van dyke" in listed.response.content
    await world.mod.slash(world.channel, "mod allowed", action="remove", phrase="dick van dyke")
    again = await world.alice.slash(world.channel, "video", prompt=PROMPT)
    assert again.ephemeral and "real public figures" in again.response.content

    rows = await world.bot.core.db.audit_log(str(world.guild.id), 20)
    assert {"allow add", "allow remove"} <= {r["action"] for r in rows}
