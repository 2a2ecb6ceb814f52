"""A member whose Discord app is in French gets French replies, over the wire.

The fake Discord sets the interaction's `locale` (simcord cannot): the callback the real client
sends, the clip that follows from another task, and the buttons on it are in French, while an
English member in the same server keeps English.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.discord_transport.test_bot_transport import (
    CALLBACK,
    RENDER_TIMEOUT,
    WEBHOOK_EDIT,
    job_id_from_components,
    running_bot,
    wait_idle,
    with_file,
)
from tests.fakediscord import FakeDiscord

EPHEMERAL = 64


def _labels(components: list[dict[str, Any]]) -> list[str]:
    return [child.get("label", "") for row in components for child in row.get("components", [])]


async def test_a_french_member_is_answered_in_french_and_an_english_one_in_english(
    fake_discord: FakeDiscord, make_settings: Callable[..., Any]
) -> None:
    fake = fake_discord
    async with running_bot(fake, make_settings()) as bot:
        await fake.dispatch_command("history", locale="fr")
        callback = await fake.wait_for_request(CALLBACK)
        assert callback.json["data"]["content"] == "Vous n'avez encore créé aucune vidéo."
        assert callback.json["data"]["flags"] & EPHEMERAL

        since = fake.mark()
        await fake.dispatch_command("history", locale="en-GB")
        callback = await fake.wait_for_request(CALLBACK, since=since)
        assert callback.json["data"]["content"] == "You haven't made any videos yet."

        since = fake.mark()
        await fake.dispatch_command(
            "video", {"prompt": "un renard roux", "seed": 11, "frames": 2}, locale="fr"
        )
        callback = await fake.wait_for_request(CALLBACK, since=since)
        status = callback.json["data"]
        assert "dans la file" in status["content"] or "démarrage immédiat" in status["content"], status
        assert _labels(status["components"]) == ["Annuler"]
        job_id = job_id_from_components(status["components"])
        upload = await fake.wait_for_request(WEBHOOK_EDIT, predicate=with_file, timeout=RENDER_TIMEOUT)
        await wait_idle(bot)
        job = await bot.core.db.get(job_id)
    assert job is not None and job.reply.get("lang") == "fr"
    assert "graine 11" in upload.json["content"], upload.json
    assert "Relancer" in _labels(upload.json["components"])
