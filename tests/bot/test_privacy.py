"""`/forget me`, owners' purges and retention, checked where the data is: the rows of the journal
file (read with sqlite3, as anyone with the file could), its raw bytes, and the clips folder."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from bot.core import Requester
from bot.moderation import Moderation
from bot.privacy import apply_retention
from engine.journal import JobState, Journal
from engine.request import build_request
from tests.bot.console_session import console_session
from tests.conftest import Clock

ALICE_PROMPT = "a lighthouse only alice asked for"
BOB_PROMPT = "a paper boat bob asked for"
DAY = 86_400


def rows(db: Path, sql: str, *args: object) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, args).fetchall()


def raw_bytes(db: Path) -> bytes:
    """The database file and its write-ahead log as they lie on disk."""
    return b"".join(p.read_bytes() for p in (db, Path(f"{db}-wal")) if p.exists())


def add_rendered(journal: Journal, clips: Path, user: str, guild: str | None, prompt: str) -> Path:
    """A job of `user` in `guild` (None: a DM) rendered to a real file, as a worker would leave it."""
    job, _ = journal.enqueue_if(
        build_request(prompt, model="tiny", frames=2, steps=1, seed=7),
        lambda _j: None, user_id=user, guild_id=guild, adapter="elsewhere",
    )  # fmt: skip
    [claimed] = journal.claim("worker")
    assert claimed.id == job.id
    clip = clips / f"job-{job.id}.mp4"
    clip.write_bytes(b"\0\0\0 ftypisom" + prompt.encode())  # stands in for a clip with its metadata
    assert journal.complete(job.id, "worker", claimed.attempts, str(clip), 0.1)
    return clip


async def test_forget_me_leaves_no_row_and_no_file_of_theirs(make_settings) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(in_process_worker=True)
    db, clips = settings.resolved_db_path, settings.resolved_clips_dir
    async with console_session(settings) as session:
        for who, prompt in (("alice", ALICE_PROMPT), ("bob", BOB_PROMPT)):
            queued = await session.answer_to(f"{who}: {prompt} --frames 2 --steps 1 --width 16 --height 16")
            assert queued["event"] == "queued"
        await asyncio.wait_for(session.core.wait_idle(), 120)
        # alice also made videos in another server and by DM (another surface, the same journal).
        other = Journal(db)
        try:
            elsewhere = [add_rendered(other, clips, "alice", g, ALICE_PROMPT) for g in ("g2", None)]
        finally:
            other.close()
        alice_clips = [Path(p) for (p,) in rows(db, "SELECT clip_path FROM jobs WHERE user_id = 'alice'")]
        [bob_clip] = [Path(p) for (p,) in rows(db, "SELECT clip_path FROM jobs WHERE user_id = 'bob'")]
        assert (
            len(alice_clips) == 3
            and all(p.exists() for p in alice_clips)
            and set(elsewhere) < set(alice_clips)
        )

        ask = await session.answer_to("alice: /forget me")
        assert ask["event"] == "info" and ask["forget"] == 3
        assert (
            len(rows(db, "SELECT id FROM jobs WHERE user_id = 'alice'")) == 3
        )  # nothing gone before confirming

        done = await session.answer_to("alice: /forget me confirm")
        assert done["event"] == "info" and (done["jobs"], done["clips"]) == (3, 3)
        history = await session.answer_to("alice: /history")
        assert history["jobs"] == []

    assert rows(db, "SELECT id FROM jobs WHERE user_id = 'alice'") == []
    assert rows(db, "SELECT key FROM buckets WHERE key LIKE '%alice%'") == []
    assert rows(db, "SELECT member FROM fair_members WHERE member = 'alice'") == []
    assert not any(p.exists() for p in alice_clips)
    assert ALICE_PROMPT.encode() not in raw_bytes(db)  # not left in the file's free pages either
    # bob is untouched.
    bob_prompts = rows(db, "SELECT json_extract(request, '$.prompt') FROM jobs WHERE user_id = 'bob'")
    assert bob_clip.exists() and bob_prompts == [(BOB_PROMPT,)]


async def test_owners_purge_a_member_or_a_server_and_moderators_may_not(make_settings) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings()
    db, clips = settings.resolved_db_path, settings.resolved_clips_dir
    clips.mkdir(parents=True, exist_ok=True)
    async with console_session(settings) as session:
        journal = Journal(db)
        try:
            carol = add_rendered(journal, clips, "carol", "g1", "carol's cat")
            g2 = [add_rendered(journal, clips, u, "g2", f"{u} in g2") for u in ("dave", "erin")]
        finally:
            journal.close()
        moderation = Moderation(session.core)
        mod = Requester("mod", "mod", guild_id="g2", is_mod=True)
        assert (await moderation.purge(mod, "server", "g2")).reason == "not_owner"
        owner = Requester("owner", "owner", guild_id="g1", is_owner=True)
        by_member = await moderation.purge(owner, "member", "carol")
        by_server = await moderation.purge(owner, "server", "g2")
    assert by_member.data["jobs"] == 1 and by_server.data["jobs"] == 2
    assert rows(db, "SELECT id FROM jobs WHERE user_id = 'carol' OR guild_id = 'g2'") == []
    assert not carol.exists() and not any(p.exists() for p in g2)
    # The audit log keeps that it happened and who did it, not what was deleted.
    actions = rows(db, "SELECT action, actor_id FROM audit WHERE action LIKE 'purge%' ORDER BY id")
    assert actions == [("purge member", "owner"), ("purge server", "owner")]


def test_retention_deletes_settled_jobs_and_clips_past_the_period(tmp_path: Path) -> None:
    clock = Clock()
    clips = tmp_path / "clips"
    clips.mkdir()
    db = tmp_path / "promptreel.db"
    journal = Journal(db, clock=clock)
    try:
        old_clip = add_rendered(journal, clips, "alice", "g1", "an old prompt")
        journal.audit("ban", actor_id="mod", guild_id="g1", user_id="bob", detail="spam")
        clock.advance(20 * DAY)
        new_clip = add_rendered(journal, clips, "alice", "g1", "a newer prompt")
        waiting, _ = journal.enqueue_if(build_request("still waiting", model="tiny"), lambda _j: None,
                                        user_id="bob", guild_id="g1", adapter="test")  # fmt: skip

        clock.advance(9 * DAY)  # the first job is 29 days old: kept
        assert apply_retention(journal, clips, 30) == 0 and old_clip.exists()

        clock.advance(2 * DAY)  # 31 days: gone; the 11-day-old one and the waiting job stay
        assert apply_retention(journal, clips, 30) == 1
        assert not old_clip.exists() and new_clip.exists()
        prompts = {p for (p,) in rows(db, "SELECT json_extract(request, '$.prompt') FROM jobs")}
        assert prompts == {"a newer prompt", "still waiting"}
        assert journal.get(waiting.id).state == JobState.QUEUED
        assert rows(db, "SELECT action, user_id FROM audit") == [("ban", "bob")]  # the audit log stays

        clock.advance(365 * DAY)
        assert apply_retention(journal, clips, 0) == 0 and new_clip.exists()  # 0 days: keep forever
    finally:
        journal.close()


async def test_the_bots_upkeep_applies_the_retention_setting(make_settings) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(retention_days=30)
    db, clips = settings.resolved_db_path, settings.resolved_clips_dir
    clips.mkdir(parents=True, exist_ok=True)
    past = Clock(1_000_000.0)  # a job made long ago, on a clock of its own
    journal = Journal(db, clock=past)
    try:
        old = add_rendered(journal, clips, "alice", "g1", "an ancient prompt")
    finally:
        journal.close()
    async with console_session(settings) as session:
        assert session.core.upkeep is not None
        await session.core.upkeep.run_once()  # one pass of what the bot runs on a timer
        recent = await session.answer_to("bob: a recent prompt --frames 2")
        await session.core.upkeep.run_once()
    assert not old.exists()
    assert rows(db, "SELECT id FROM jobs") == [(recent["job"],)]
