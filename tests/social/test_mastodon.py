"""The Mastodon surface end to end: the real Mastodon.py client against a loopback instance
(`fakemastodon`), the real core, journal and tiny model."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.mastodon import MastodonAdapter
from engine.journal import AsyncJournal, JobState
from tests.helpers import decode_video
from tests.social.conftest import TINY_FLAGS, run_bot
from tests.social.fakemastodon import FakeMastodon


def adapter_for(fake: FakeMastodon, make_settings: Callable[..., Any], **overrides: Any) -> MastodonAdapter:
    settings = make_settings(mastodon_base_url=fake.url, mastodon_access_token="token", **overrides)
    return MastodonAdapter(settings)


def clip_replies(fake: FakeMastodon, status_id: str) -> list[dict[str, Any]]:
    return [s for s in fake.replies_to(status_id) if s["media_attachments"]]


async def journal_of(adapter: MastodonAdapter) -> AsyncJournal:
    return await AsyncJournal.open(adapter.settings.resolved_db_path)


async def test_a_mention_becomes_a_clip_reply_in_its_thread(
    fake_mastodon: FakeMastodon, make_settings: Callable[..., Any], tmp_path: Path
) -> None:
    fake = fake_mastodon
    alice = fake.account("alice")
    public = fake.mention(alice, f"a paper boat {TINY_FLAGS}")
    private = fake.mention(alice, f"a red kite {TINY_FLAGS}", visibility="private")
    adapter = adapter_for(fake, make_settings)
    async with run_bot(adapter.settings, adapter) as core:
        await fake.wait_for(lambda: clip_replies(fake, public["id"]) and clip_replies(fake, private["id"]))
        await asyncio.wait_for(core.wait_idle(), 60)
        cursor = await core.db.cursor("mastodon")
    [reply] = clip_replies(fake, public["id"])
    [narrow] = clip_replies(fake, private["id"])
    assert reply["visibility"] == "unlisted" and narrow["visibility"] == "private"
    assert reply["text"].startswith("@alice ") and "a paper boat" in reply["text"]
    assert "http" not in reply["text"]
    [media] = reply["media_attachments"]
    assert "a paper boat" in media["description"]
    (tmp_path / "clip.mp4").write_bytes(fake.media[media["id"]]["_data"])
    frames, _ = decode_video(tmp_path / "clip.mp4")
    assert frames.shape == (3, 32, 32, 3)
    posts = [r for r in fake.requests if r.method == "POST" and r.path == "/api/v1/statuses"]
    assert all(r.headers.get("Idempotency-Key") for r in posts)
    # Read to the newest notification, and nothing posted but the two clips.
    assert cursor == fake.notifications[-1]["id"]
    assert len(posts) == 2


async def test_a_refused_prompt_gets_a_short_reply_naming_the_category(
    fake_mastodon: FakeMastodon, make_settings: Callable[..., Any]
) -> None:
    fake = fake_mastodon
    bob = fake.account("bob")
    bad = fake.mention(bob, f"a n\u200bude statue {TINY_FLAGS}")
    typo = fake.mention(bob, "a cat --frames lots")
    adapter = adapter_for(fake, make_settings)
    async with run_bot(adapter.settings, adapter) as core:
        await fake.wait_for(lambda: fake.replies_to(bad["id"]) and fake.replies_to(typo["id"]))
        # Read again from the start (a restart before the cursor was saved): answered once.
        await core.db.save_cursor("mastodon", "0")
        polls = adapter.polls
        await fake.wait_for(lambda: adapter.polls > polls + 1)
        assert await core.db.count_waiting() == 0
    [reply] = fake.replies_to(bad["id"])
    assert "sexual" in reply["text"] and reply["text"].startswith("@bob ")
    assert not reply["media_attachments"]
    [reply] = fake.replies_to(typo["id"])
    assert "--frames" in reply["text"] or "frames" in reply["text"]


async def test_a_429_waits_for_the_reset_and_posts_once(
    fake_mastodon: FakeMastodon, make_settings: Callable[..., Any]
) -> None:
    fake = fake_mastodon
    mention = fake.mention(fake.account("carol"), f"a lantern {TINY_FLAGS}")
    fake.faults.rate_limited["POST /api/v1/statuses"] = (1, 4.0)
    adapter = adapter_for(fake, make_settings)
    async with run_bot(adapter.settings, adapter) as core:
        await fake.wait_for(lambda: clip_replies(fake, mention["id"]))
        await asyncio.wait_for(core.wait_idle(), 60)
    posts = [r for r in fake.requests if r.method == "POST" and r.path == "/api/v1/statuses"]
    assert [r.status for r in posts] == [429, 200]
    assert len(clip_replies(fake, mention["id"])) == 1
    # The retry came after the reset the header named (4 s), not the usual 2 s backoff.
    assert posts[1].at - posts[0].at >= 3.5


async def test_media_processing_that_fails_once_is_retried_without_a_new_render(
    fake_mastodon: FakeMastodon, make_settings: Callable[..., Any]
) -> None:
    fake = fake_mastodon
    mention = fake.mention(fake.account("dan"), f"a comet {TINY_FLAGS}")
    fake.faults.failing_media = 1
    adapter = adapter_for(fake, make_settings)
    async with run_bot(adapter.settings, adapter) as core:
        await fake.wait_for(lambda: clip_replies(fake, mention["id"]))
        await asyncio.wait_for(core.wait_idle(), 60)
        [job] = await core.db.history("mastodon:" + mention["account"]["id"])
    uploads = [r for r in fake.requests if r.method == "POST" and r.path == "/api/v2/media"]
    assert len(uploads) == 2 and len(clip_replies(fake, mention["id"])) == 1
    assert job.state == JobState.DELIVERED and job.attempts == 1  # rendered once
    assert job.delivery_attempts == 2


async def test_ignores_its_own_posts_bots_and_reposts_and_drops_deleted_mentions(
    fake_mastodon: FakeMastodon, make_settings: Callable[..., Any]
) -> None:
    fake = fake_mastodon
    human = fake.account("erin")
    own = fake.mention(fake.bot, f"talking to myself {TINY_FLAGS}")
    robot = fake.mention(fake.account("beep", bot=True), f"a robot {TINY_FLAGS}")
    boosted = fake.mention(human, f"a boost {TINY_FLAGS}", reblog=True)
    doomed = fake.mention(human, f"a ghost {TINY_FLAGS}")
    changed = fake.mention(human, f"a typo {TINY_FLAGS}")
    kept = fake.mention(human, f"a fern {TINY_FLAGS}")
    # Take the mentions in with no worker running; one is deleted, one edited while they wait.
    first = adapter_for(fake, make_settings, in_process_worker=False)
    async with run_bot(first.settings, first) as core:
        await wait_jobs(core, 3)
        fake.delete(doomed["id"])
        fake.edit(changed["id"], f"@promptreel a tulip {TINY_FLAGS}")
        await wait_jobs(core, 1, exactly=True)
    adapter = adapter_for(fake, make_settings)
    async with run_bot(adapter.settings, adapter) as core:
        await fake.wait_for(lambda: clip_replies(fake, kept["id"]))
        await asyncio.wait_for(core.wait_idle(), 60)
        jobs = {j.request.prompt: j for j in await core.db.history("mastodon:" + human["id"], 10)}
    assert set(jobs) == {"a ghost", "a typo", "a fern"}
    for prompt in ("a ghost", "a typo"):
        assert jobs[prompt].state == JobState.CANCELLED and jobs[prompt].clip_path is None
    for status in (own, robot, boosted, doomed, changed):
        assert fake.replies_to(status["id"]) == []


def adapter_polled(fake: FakeMastodon, times: int) -> bool:
    return sum(r.path == "/api/v1/notifications" for r in fake.requests) >= times


async def wait_jobs(core: Any, count: int, *, exactly: bool = False) -> None:
    """Until `count` jobs wait (at least, or `exactly`), re-read at each dispatcher change or 50 ms."""
    async with asyncio.timeout(30):
        while True:
            waiting = await core.db.count_waiting()
            if waiting == count or (waiting > count and not exactly):
                return
            await core.dispatcher.changed(within=0.05)


async def test_a_status_reply_comes_first_only_where_the_setting_says(
    fake_mastodon: FakeMastodon, make_settings: Callable[..., Any]
) -> None:
    fake = fake_mastodon
    fay = fake.account("fay")
    first = fake.mention(fay, f"a moth {TINY_FLAGS}")
    second = fake.mention(fay, f"a wasp {TINY_FLAGS}")
    # No worker while they are taken in: the second waits behind the first, at #2.
    adapter = adapter_for(fake, make_settings, social_status_replies=True, in_process_worker=False)
    async with run_bot(adapter.settings, adapter):
        await fake.wait_for(lambda: fake.replies_to(second["id"]))
    [status] = fake.replies_to(second["id"])
    assert "#2 in queue" in status["text"] and not status["media_attachments"]
    quiet = adapter_for(fake, make_settings)  # the setting's default: the clip and nothing else
    lone = fake.mention(fay, f"a bee {TINY_FLAGS}")
    async with run_bot(quiet.settings, quiet) as core:
        await fake.wait_for(lambda: clip_replies(fake, lone["id"]) and clip_replies(fake, second["id"]))
        await asyncio.wait_for(core.wait_idle(), 60)
    assert len(fake.replies_to(lone["id"])) == 1 and len(fake.replies_to(first["id"])) == 2


@pytest.mark.parametrize("when", ["after", "before"])
async def test_a_crash_between_upload_and_post_gives_one_reply_and_no_new_upload(
    fake_mastodon: FakeMastodon, make_settings: Callable[..., Any], when: str
) -> None:
    """The process dies while the clip's post is on the wire: `after` the server made the
    status (its answer never came back), or `before`. The next process posts it exactly once."""
    fake = fake_mastodon
    mention = fake.mention(fake.account("gus"), f"a harbour {TINY_FLAGS}")
    release = asyncio.Event()
    fake.faults.hold_clip_post, fake.faults.hold_when = release, when
    first = adapter_for(fake, make_settings)
    async with run_bot(first.settings, first, grace=0.1):
        await fake.wait_for(lambda: fake.faults.holding)
    release.set()  # the dead process's request ends; nobody hears its answer
    adapter = adapter_for(fake, make_settings)
    async with run_bot(adapter.settings, adapter) as core:
        await asyncio.wait_for(core.wait_idle(), 60)
        [job] = await core.db.history("mastodon:" + mention["account"]["id"])
    [reply] = clip_replies(fake, mention["id"])
    uploads = [r for r in fake.requests if r.method == "POST" and r.path == "/api/v2/media"]
    assert len(uploads) == 1 and job.attempts == 1  # one upload, one render
    assert job.state == JobState.DELIVERED and job.reply["reply_id"] == reply["id"]
    assert job.reply.get("found_after_restart", False) is (when == "after")


async def test_a_restart_with_mentions_in_flight_answers_each_once(
    fake_mastodon: FakeMastodon, make_settings: Callable[..., Any]
) -> None:
    fake = fake_mastodon
    people = [fake.account(name) for name in ("hal", "ivy", "jo")]
    early = [fake.mention(p, f"a bridge {n} {TINY_FLAGS}") for n, p in enumerate(people)]
    first = adapter_for(fake, make_settings, in_process_worker=False)
    async with run_bot(first.settings, first) as core:
        await wait_jobs(core, 3)
        # As if the process died after the jobs were committed but before the cursor was saved.
        await core.db.save_cursor("mastodon", "0")
        await core.surfaces.stop()
    late = [fake.mention(p, f"a tunnel {n} {TINY_FLAGS}") for n, p in enumerate(people[:2])]
    adapter = adapter_for(fake, make_settings)
    async with run_bot(adapter.settings, adapter) as core:
        await fake.wait_for(lambda: all(clip_replies(fake, s["id"]) for s in early + late))
        await asyncio.wait_for(core.wait_idle(), 60)
        jobs = [j for p in people for j in await core.db.history("mastodon:" + p["id"], 10)]
    assert len(jobs) == 5
    for status in early + late:
        assert len(fake.replies_to(status["id"])) == 1


async def test_more_than_a_page_of_mentions_at_once_are_all_taken_in_order(
    fake_mastodon: FakeMastodon, make_settings: Callable[..., Any]
) -> None:
    fake = fake_mastodon
    people = [fake.account(f"p{i}") for i in range(5)]
    adapter = adapter_for(fake, make_settings, in_process_worker=False)
    async with run_bot(adapter.settings, adapter) as core:
        await fake.wait_for(lambda: adapter.polls >= 1)  # read once: nothing there yet
        posted = [fake.mention(people[i % 5], f"a star {i} {TINY_FLAGS}") for i in range(95)]
        await wait_jobs(core, 95)
        jobs = [j for p in people for j in await core.db.history("mastodon:" + p["id"], 100)]
    jobs.sort(key=lambda j: j.id)
    assert [j.request.prompt for j in jobs] == [f"a star {i}" for i in range(95)]
    assert [j.reply["post_id"] for j in jobs] == [s["id"] for s in posted]


async def test_media_that_keeps_failing_is_given_up_on_and_the_author_told(
    fake_mastodon: FakeMastodon, make_settings: Callable[..., Any]
) -> None:
    fake = fake_mastodon
    mention = fake.mention(fake.account("kit"), f"a cliff {TINY_FLAGS}")
    fake.faults.failing_media = 99
    adapter = adapter_for(fake, make_settings)
    async with run_bot(adapter.settings, adapter) as core:
        core.dispatchers["mastodon"].max_attempts = 2  # rather than waiting out six backoffs
        [told] = await fake.wait_for(lambda: fake.replies_to(mention["id"]))
        await asyncio.wait_for(core.wait_idle(), 60)
        [job] = await core.db.history("mastodon:" + mention["account"]["id"])
    uploads = [r for r in fake.requests if r.method == "POST" and r.path == "/api/v2/media"]
    assert len(uploads) == 2 and job.attempts == 1 and job.delivery == "failed"
    assert told["text"].startswith("@kit ") and "couldn't post" in told["text"]
    assert not told["media_attachments"]


async def test_a_429_on_reading_mentions_pauses_reading_until_the_reset(
    fake_mastodon: FakeMastodon, make_settings: Callable[..., Any]
) -> None:
    fake = fake_mastodon
    mention = fake.mention(fake.account("lou"), f"an igloo {TINY_FLAGS}")
    fake.faults.rate_limited["GET /api/v1/notifications"] = (1, 3.0)
    adapter = adapter_for(fake, make_settings, in_process_worker=False)
    async with run_bot(adapter.settings, adapter) as core:
        await wait_jobs(core, 1)
        assert await core.db.post_job("mastodon", mention["id"]) is not None
    reads = [r for r in fake.requests if r.path == "/api/v1/notifications"]
    assert reads[0].status == 429 and reads[1].status == 200
    # Polls are 0.1 s apart; the reset the server named (3 s) is what was waited for.
    assert reads[1].at - reads[0].at >= 2.5
