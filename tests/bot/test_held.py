"""Clips the output check holds, end to end: the real detector on the real tiny model's frames.

The flagged path is forced with a threshold that flags everything (0.0), never with an
explicit image. What a test checks is what the requester and the moderators see (console
events, answers, the decoded clip) and what the next process finds in the journal.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.console import CONSOLE_GUILD
from bot.core import Core, Requester
from bot.moderation import Moderation
from engine.journal import JobState
from tests.bot.console_session import Session, console_session
from tests.bot.test_core import TINY, Recorder, queued
from tests.helpers import decode_video

PROMPT = "mod: a paper boat --frames 2 --steps 1 --width 32 --height 32"
MOD1 = Requester("mod1", "Mod One", "g1", "c1", is_mod=True)
MOD2 = Requester("mod2", "Mod Two", "g2", "c2", is_mod=True)
OWNER = Requester("owner", "Owner", "g3", "c3", is_owner=True)
ANN = Requester("ann", "Ann", "g1", "c1")
BEN = Requester("ben", "Ben", "g2", "c2")


async def settle(session: Session) -> list[dict[str, Any]]:
    """Every event until each admitted job is answered (held counts as answered)."""
    await asyncio.wait_for(session.core.wait_idle(), 60)
    return [e for e in await session.say("mod: /stats") if e["event"] not in ("info", "progress")]


def of(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e for e in events if e["event"] == kind]


async def test_with_the_default_threshold_tiny_clips_are_never_held(
    make_settings: Callable[..., Any],
) -> None:
    async with console_session(make_settings(in_process_worker=True)) as session:
        for seed in (1, 2, 3):
            assert (await session.answer_to(f"{PROMPT} --seed {seed}"))["event"] == "queued"
        events = await settle(session)
        assert len(of(events, "delivered")) == 3 and of(events, "held") == []
        assert (await session.answer_to("mod: /mod held"))["jobs"] == []


async def test_a_held_clip_is_not_delivered_its_requester_is_told_once_and_release_delivers_it_once(
    make_settings: Callable[..., Any],
) -> None:
    settings = make_settings(in_process_worker=True, output_check_threshold=0.0)
    async with console_session(settings) as session:
        job = (await session.answer_to(PROMPT))["job"]
        events = await settle(session)
        assert [e["job"] for e in of(events, "held")] == [job] and of(events, "delivered") == []
        assert "moderator" in of(events, "held")[0]["text"]
        clip = (await session.core.db.get(job)).clip_path
        assert await asyncio.to_thread(os.path.isfile, clip)  # kept for the moderators
        assert (await session.answer_to("mod: /mod held"))["jobs"] == [job]
        audit = await session.answer_to("mod: /mod audit")
        assert any(row["action"] == "held" and f"job {job}" in row["detail"] for row in audit["entries"])

        assert (await session.answer_to(f"mod: /mod release {job}"))["event"] == "info"
        events = await settle(session)
        [delivered] = of(events, "delivered")
        assert delivered["job"] == job and of(events, "held") == []
        frames, _ = decode_video(delivered["path"])
        assert frames.shape == (2, 32, 32, 3)
        again = await session.answer_to(f"mod: /mod release {job}")
        assert again["reason"] == "not_held"
        assert of(await settle(session), "delivered") == []  # once, not twice
        audit = await session.answer_to("mod: /mod audit")
        assert audit["entries"][0]["action"] == "release" and audit["entries"][0]["actor_id"] == "mod"


async def test_held_jobs_survive_a_restart_and_release_after_it_delivers_once(
    make_settings: Callable[..., Any],
) -> None:
    strict = make_settings(in_process_worker=True, output_check_threshold=0.0)
    async with console_session(strict) as session:
        job = (await session.answer_to(PROMPT))["job"]
        assert len(of(await settle(session), "held")) == 1
    # A restarted bot with a worker and the default threshold: the held job is neither requeued
    # nor rendered again, and its requester is not told twice.
    async with console_session(make_settings(in_process_worker=True)) as session:
        other = (await session.answer_to(PROMPT))["job"]
        events = await settle(session)
        assert [e["job"] for e in of(events, "delivered")] == [other] and of(events, "held") == []
        held = await session.core.db.get(job)
        assert held.state is JobState.HELD and held.attempts == 1
    async with console_session(make_settings()) as session:  # no worker at all
        assert (await session.answer_to(f"mod: /mod release {job}"))["event"] == "info"
        [delivered] = of(await settle(session), "delivered")
        assert delivered["job"] == job and await asyncio.to_thread(os.path.isfile, delivered["path"])


async def test_reject_tells_the_requester_and_deletes_the_clip(make_settings: Callable[..., Any]) -> None:
    async with console_session(make_settings(in_process_worker=True, output_check_threshold=0.0)) as session:
        job = (await session.answer_to(PROMPT))["job"]
        await settle(session)
        clip = (await session.core.db.get(job)).clip_path
        assert await asyncio.to_thread(os.path.isfile, clip)
        assert (await session.answer_to(f"alice: /mod reject {job}"))["reason"] == "not_moderator"
        # The notice may go out before the answer to the command is printed: read both.
        said = await session.say(f"mod: /mod reject {job}")
        assert [e["event"] for e in said if e["event"] == "info"] == ["info"]
        events = said + await settle(session)
        assert [e["job"] for e in of(events, "rejected")] == [job] and of(events, "delivered") == []
        assert not await asyncio.to_thread(os.path.exists, clip)
        assert (await session.core.db.get(job)).state is JobState.REJECTED
        assert (await session.answer_to(f"mod: /mod release {job}"))["reason"] == "not_held"


async def test_the_threshold_command_sets_this_servers_threshold(make_settings: Callable[..., Any]) -> None:
    async with console_session(make_settings(in_process_worker=True)) as session:
        assert (await session.answer_to("mod: /mod threshold 1.5"))["reason"] == "invalid"
        assert (await session.answer_to("mod: /mod threshold 0"))["threshold"] == 0.0
        job = (await session.answer_to(PROMPT))["job"]
        assert [e["job"] for e in of(await settle(session), "held")] == [job]
        shown = await session.answer_to("mod: /mod threshold default")
        assert shown["threshold"] == session.core.settings.output_check_threshold
        other = (await session.answer_to(PROMPT))["job"]
        assert [e["job"] for e in of(await settle(session), "delivered")] == [other]
        assert (await session.core.db.server_settings(CONSOLE_GUILD)).get("output_threshold") is None


async def test_moderators_decide_on_their_own_servers_clips_and_owners_on_any(
    make_settings: Callable[..., Any],
) -> None:
    core = Core(make_settings(in_process_worker=True), Recorder())
    await core.start()
    try:
        mod = Moderation(core)
        assert (await mod.threshold(MOD1, "0")).event == "info"  # g1 holds everything; g2 the default
        assert (await mod.threshold(ANN, "1")).reason == "not_moderator"
        anns = [queued(await core.submit(ANN, "a lantern", TINY | {"seed": s})) for s in (1, 2)]
        bens = queued(await core.submit(BEN, "a lantern", TINY))
        await asyncio.wait_for(core.wait_idle(), 60)
        states = [(await core.db.get(i)).state for i in (*anns, bens)]
        assert states == [JobState.HELD, JobState.HELD, JobState.DELIVERED]
        assert [j.id for j in core.adapter.delivered if j.state is JobState.HELD] == anns  # told, once each

        assert (await mod.held(MOD2)).data["jobs"] == []  # g1's held clips are not g2's to see
        assert (await mod.held(MOD1)).data["jobs"] == anns
        assert (await mod.held(MOD1, everywhere=True)).reason == "not_owner"
        assert (await mod.release(MOD2, anns[0])).reason == "not_found"
        assert (await mod.reject(MOD2, anns[1])).reason == "not_found"
        assert (await core.db.get(anns[0])).state is JobState.HELD
        assert (await mod.release(OWNER, anns[0])).event == "info"  # owners act on every server
        assert (await mod.reject(MOD1, anns[1])).event == "info"
        await asyncio.wait_for(core.wait_idle(), 60)
        delivered = [(j.id, j.state) for j in core.adapter.delivered]
        assert delivered.count((anns[0], JobState.RENDERED)) == 1
        assert delivered.count((anns[1], JobState.REJECTED)) == 1
        assert (await core.db.get(anns[0])).state is JobState.DELIVERED
        log = await core.db.audit_log("g1")
        assert [(r["action"], r["actor_id"]) for r in log[:2]] == [("reject", "mod1"), ("release", "owner")]
    finally:
        await core.close()


def test_the_console_process_ends_on_a_held_clip_and_a_later_one_releases_it_once(
    tmp_path: Path, tiny_models_dir: Path
) -> None:
    """`python -m bot console` as a user runs it: held ends the end-of-input wait; a second
    process (a restart) releases the clip, which is printed once."""
    from tests.bot.test_console import assert_clean_exit, console_env, run_console

    db = tmp_path / "data" / "promptreel.db"
    env = console_env(tmp_path / "data", tiny_models_dir, PROMPTREEL_OUTPUT_CHECK_THRESHOLD="0")
    first = run_console(db, env, [PROMPT.encode()], tmp_path)
    assert_clean_exit(first)
    [job] = [a["job"] for a in first.answers if a["event"] == "queued"]
    assert [e["job"] for e in first.of("held")] == [job] and first.of("delivered") == []
    assert "output check off" not in first.stderr  # the real detector ran

    release = [f"mod: /mod release {job}".encode()]
    second = run_console(db, console_env(tmp_path / "data", tiny_models_dir), release, tmp_path)
    assert_clean_exit(second)
    [delivered] = second.of("delivered")
    assert delivered["job"] == job and second.of("held") == []
    assert decode_video(delivered["path"])[0].shape == (2, 32, 32, 3)


async def test_a_dm_clip_is_held_by_the_bot_wide_threshold_and_only_owners_decide(
    make_settings: Callable[..., Any],
) -> None:
    dm_owner = Requester("owner", "Owner", None, "dm-owner", is_owner=True)
    dm_mod = Requester("mod1", "Mod One", None, "dm-mod1", is_mod=True)
    cat = Requester("cat", "Cat", None, "dm-cat")
    core = Core(make_settings(in_process_worker=True), Recorder())
    await core.start()
    try:
        mod = Moderation(core)
        assert (await mod.threshold(dm_mod, "0")).reason == "not_owner"  # bot-wide: the owners'
        assert (await mod.threshold(dm_owner, "0")).event == "info"
        job = queued(await core.submit(cat, "a lantern", TINY))
        await asyncio.wait_for(core.wait_idle(), 60)
        assert (await core.db.get(job)).state is JobState.HELD
        assert (await mod.held(MOD1)).data["jobs"] == []
        assert (await mod.release(MOD1, job)).reason == "not_found"  # a DM job is no server's
        assert (await mod.held(dm_owner)).data["jobs"] == [job]
        assert (await mod.release(dm_owner, job)).event == "info"
        await asyncio.wait_for(core.wait_idle(), 60)
        assert (await core.db.get(job)).state is JobState.DELIVERED
    finally:
        await core.close()
