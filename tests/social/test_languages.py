"""Bluesky in the post's language: a post tagged French gets its clip reply and alt text in
French, one tagged English gets English, whatever the bot's own default."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from tests.social.conftest import TINY_FLAGS, run_bot
from tests.social.fakebluesky import FakeBluesky
from tests.social.test_bluesky import adapter_for, clip_replies


async def test_each_post_is_answered_in_the_language_it_is_tagged_with(
    fake_bluesky: FakeBluesky, make_settings: Callable[..., Any]
) -> None:
    fake = fake_bluesky
    ann, ben, cat = fake.account("ann.test"), fake.account("ben.test"), fake.account("cat.test")
    french = fake.mention(ann, f"un bateau en papier {TINY_FLAGS}", langs=["fr"])
    english = fake.mention(ben, f"a paper boat {TINY_FLAGS}", langs=["en"])
    untagged = fake.mention(cat, f"a kite {TINY_FLAGS}", langs=[])  # the bot's language: French here
    adapter = adapter_for(fake, make_settings, language="fr")
    async with run_bot(adapter.settings, adapter) as core:
        replies = await fake.wait_for(
            lambda: (
                [clip_replies(fake, m["uri"]) for m in (french, english, untagged)]
                if all(clip_replies(fake, m["uri"]) for m in (french, english, untagged))
                else None
            )
        )
        await asyncio.wait_for(core.wait_idle(), 60)
    (fr,), (en,), (default,) = replies
    assert fr["record"]["text"] == "Voici votre vidéo : « un bateau en papier »"
    assert fr["record"]["embed"]["alt"] == "Vidéo générée par IA : un bateau en papier"
    assert en["record"]["text"] == "Here is your clip: “a paper boat”"
    assert en["record"]["embed"]["alt"] == "AI-generated video of: a paper boat"
    assert default["record"]["text"].startswith("Voici votre vidéo")
