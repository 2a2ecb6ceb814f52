"""The Bluesky surface end to end: atproto's real AsyncClient against a loopback PDS and video
service (`fakebluesky`), the real core, journal and tiny model."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.bluesky import BlueskyAdapter
from engine.journal import JobState
from tests.helpers import decode_video
from tests.social.conftest import TINY_FLAGS, run_bot
from tests.social.fakebluesky import BOT_DID, BOT_HANDLE, PASSWORD, FakeBluesky


def adapter_for(fake: FakeBluesky, make_settings: Callable[..., Any], **overrides: Any) -> BlueskyAdapter:
    settings = make_settings(
        bluesky_handle=BOT_HANDLE,
        bluesky_app_password=PASSWORD,
        bluesky_base_url=fake.url,
        bluesky_video_url=fake.url,
        **overrides,
    )
    return BlueskyAdapter(settings)


def clip_replies(fake: FakeBluesky, uri: str) -> list[dict[str, Any]]:
    return [p for p in fake.replies_to(uri) if p["record"].get("embed")]


async def test_a_mention_in_a_thread_gets_the_clip_as_a_reply_under_the_threads_root(
    fake_bluesky: FakeBluesky, make_settings: Callable[..., Any], tmp_path: Path
) -> None:
    fake = fake_bluesky
    ann, ben = fake.account("ann.test"), fake.account("ben.test")
    root = fake.mention(ben, "hello there")  # a thread someone else started
    fake.notifications.clear()
    # The handle as the author typed it: only the facet's bytes say it is the mention.
    mention = fake.mention(ann, f"a paper boat {TINY_FLAGS}", reply_to=root, handle_as="@PromptReel.test")
    adapter = adapter_for(fake, make_settings)
    async with run_bot(adapter.settings, adapter) as core:
        [reply] = await fake.wait_for(lambda: clip_replies(fake, mention["uri"]))
        await asyncio.wait_for(core.wait_idle(), 60)
    record = reply["record"]
    assert reply["author"]["did"] == BOT_DID
    ref = {k: record["reply"][k] for k in ("parent", "root")}
    assert ref["parent"]["uri"] == mention["uri"] and ref["parent"]["cid"] == mention["cid"]
    assert ref["root"]["uri"] == root["uri"] and ref["root"]["cid"] == root["cid"]
    embed = record["embed"]
    assert embed["$type"] == "app.bsky.embed.video" and "a paper boat" in embed["alt"]
    assert "http" not in record["text"] and "a paper boat" in record["text"]
    assert fake.calls("app.bsky.video.uploadVideo") and not fake.calls("com.atproto.repo.uploadBlob")
    (tmp_path / "clip.mp4").write_bytes(fake.blobs[embed["video"]["ref"]["$link"]])
    frames, _ = decode_video(tmp_path / "clip.mp4")
    assert frames.shape == (3, 32, 32, 3)
    assert fake.seen_at == fake.notifications[-1]["indexedAt"]


async def test_the_session_is_stored_and_reused_after_a_restart(
    fake_bluesky: FakeBluesky, make_settings: Callable[..., Any]
) -> None:
    fake = fake_bluesky
    ann = fake.account("ann.test")
    first_post = fake.mention(ann, f"a tram {TINY_FLAGS}")
    adapter = adapter_for(fake, make_settings)
    async with run_bot(adapter.settings, adapter) as core:
        await fake.wait_for(lambda: clip_replies(fake, first_post["uri"]))
        await asyncio.wait_for(core.wait_idle(), 60)
    second_post = fake.mention(ann, f"a bus {TINY_FLAGS}")
    again = adapter_for(fake, make_settings)
    async with run_bot(again.settings, again) as core:
        await fake.wait_for(lambda: clip_replies(fake, second_post["uri"]))
        await asyncio.wait_for(core.wait_idle(), 60)
    assert fake.sessions_created == 1
    assert len(clip_replies(fake, first_post["uri"])) == 1


async def test_without_the_video_service_the_clip_goes_up_as_a_blob(
    fake_bluesky: FakeBluesky, make_settings: Callable[..., Any]
) -> None:
    fake = fake_bluesky
    fake.faults.video_service_down = True
    mention = fake.mention(fake.account("cal.test"), f"a dune {TINY_FLAGS}")
    adapter = adapter_for(fake, make_settings)
    async with run_bot(adapter.settings, adapter) as core:
        [reply] = await fake.wait_for(lambda: clip_replies(fake, mention["uri"]))
        await asyncio.wait_for(core.wait_idle(), 60)
    assert fake.calls("com.atproto.repo.uploadBlob")
    assert reply["record"]["embed"]["$type"] == "app.bsky.embed.video"


async def test_video_processing_that_fails_once_is_retried_and_rate_limits_are_waited_out(
    fake_bluesky: FakeBluesky, make_settings: Callable[..., Any]
) -> None:
    fake = fake_bluesky
    fake.faults.failing_videos = 1
    fake.faults.rate_limited["com.atproto.repo.createRecord"] = (1, 3.0)
    mention = fake.mention(fake.account("dee.test"), f"a reef {TINY_FLAGS}")
    adapter = adapter_for(fake, make_settings)
    async with run_bot(adapter.settings, adapter) as core:
        await fake.wait_for(lambda: clip_replies(fake, mention["uri"]))
        await asyncio.wait_for(core.wait_idle(), 60)
        [job] = await core.db.history("bluesky:" + mention["author"]["did"])
    assert len(fake.calls("app.bsky.video.uploadVideo")) == 2
    assert [r[2] for r in fake.calls("com.atproto.repo.createRecord")] == [429, 200]
    assert len(clip_replies(fake, mention["uri"])) == 1
    assert job.state == JobState.DELIVERED and job.attempts == 1


async def test_refusals_replies_without_a_mention_and_a_spent_upload_budget(
    fake_bluesky: FakeBluesky, make_settings: Callable[..., Any]
) -> None:
    fake = fake_bluesky
    eve = fake.account("eve.test")
    bad = fake.mention(eve, f"a n\u200bude statue {TINY_FLAGS}")
    bot_post = fake._create(BOT_DID, {"$type": "app.bsky.feed.post", "text": "hi", "createdAt": fake._now()})
    chatter = fake.mention(eve, "thanks!", reply_to=bot_post)
    fake.notifications[-1]["record"]["facets"] = []  # a reply to us that mentions nobody
    robot = fake.mention(fake.account("beep.test", bot=True), f"a robot {TINY_FLAGS}")
    adapter = adapter_for(fake, make_settings)
    async with run_bot(adapter.settings, adapter) as core:
        [reply] = await fake.wait_for(lambda: fake.replies_to(bad["uri"]))
        fake.faults.can_upload = False
        adapter.video._limits = None  # as if its minute had passed
        late = fake.mention(eve, f"a lake {TINY_FLAGS}")
        [told] = await fake.wait_for(lambda: fake.replies_to(late["uri"]))
        assert await core.db.count_waiting() == 0
    assert "sexual" in reply["record"]["text"]
    assert "today" in told["record"]["text"]
    assert fake.replies_to(chatter["uri"]) == [] and fake.replies_to(robot["uri"]) == []
