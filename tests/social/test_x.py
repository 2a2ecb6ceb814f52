"""The X surface end to end: the adapter's aiohttp client, OAuth 1.0a signed, against a loopback
API v2 (`fakex`), the real core, journal and tiny model."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.x import XAdapter
from engine.journal import JobState
from tests.helpers import decode_video
from tests.social.conftest import TINY_FLAGS, run_bot
from tests.social.fakex import KEYS, FakeX


async def start_fake() -> FakeX:
    fake = FakeX()
    await fake.start()
    return fake


def adapter_for(fake: FakeX, make_settings: Callable[..., Any], **overrides: Any) -> XAdapter:
    values = {
        "x_base_url": fake.url,
        "x_api_key": KEYS["consumer_key"],
        "x_api_secret": KEYS["consumer_secret"],
        "x_access_token": KEYS["token"],
        "x_access_token_secret": KEYS["token_secret"],
    }
    return XAdapter(make_settings(**{**values, **overrides}))


def clip_replies(fake: FakeX, tweet_id: str) -> list[dict[str, Any]]:
    return [t for t in fake.replies_to(tweet_id) if t["_media"]]


async def test_a_mention_becomes_a_clip_reply_made_with_ai_and_without_links(
    make_settings: Callable[..., Any], tmp_path: Path
) -> None:
    fake = await start_fake()
    try:
        lee = fake.user("lee")
        mention = fake.mention(lee, f"a glacier {TINY_FLAGS}")
        retweet = fake.mention(lee, f"a retweet {TINY_FLAGS}", retweet=True)
        fake.faults.rate_limited["POST /2/tweets"] = (1, 3.0)
        adapter = adapter_for(fake, make_settings)
        async with run_bot(adapter.settings, adapter) as core:
            [reply] = await fake.wait_for(lambda: clip_replies(fake, mention["id"]))
            await asyncio.wait_for(core.wait_idle(), 60)
            [job] = await core.db.history("x:" + lee["id"])
    finally:
        await fake.stop()
    assert reply["_made_with_ai"] is True and "http" not in reply["text"] and "a glacier" in reply["text"]
    assert reply["referenced_tweets"] == [{"type": "replied_to", "id": mention["id"]}]
    (tmp_path / "clip.mp4").write_bytes(fake.media[reply["_media"][0]]["data"])
    assert decode_video(tmp_path / "clip.mp4")[0].shape == (3, 32, 32, 3)
    assert [r[2] for r in fake.requests if r[:2] == ("POST", "/2/tweets")] == [429, 201]
    assert fake.replies_to(retweet["id"]) == []
    assert job.state == JobState.DELIVERED and job.reply["reply_id"] == reply["id"]
    assert fake.bad_signatures == 0


async def test_a_wrong_secret_is_refused_and_nothing_is_posted(make_settings: Callable[..., Any]) -> None:
    fake = await start_fake()
    try:
        fake.mention(fake.user("max"), f"a bee {TINY_FLAGS}")
        adapter = adapter_for(fake, make_settings, x_access_token_secret="not-the-secret")
        async with run_bot(adapter.settings, adapter):
            await fake.wait_for(lambda: fake.bad_signatures >= 1)
        assert not adapter.connected
    finally:
        await fake.stop()
    assert [t for t in fake.tweets.values() if t["author_id"] == "1000"] == []
