"""bot.core.Core in-process, against a real journal file and the real tiny model.

No worker thread runs inside the Core here (`in_process_worker=False`): a test renders exactly
when it wants by calling `Worker.run_once` on a thread, so queue order and timing are its own.
The adapter is a small recorder written for these tests.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from bot.core import Answer, Core, DeliveryError, Requester
from bot.moderation import Moderation
from bot.policy import PromptPolicy
from engine.journal import Job, JobState, Journal
from engine.request import build_request
from engine.worker import Worker
from tests.conftest import Clock

ALICE = Requester("alice", "Alice", "g1", "c1")
BOB = Requester("bob", "Bob", "g1", "c1")
CAROL = Requester("carol", "Carol", "g1", "c1")
DAVE = Requester("dave", "Dave", "g1", "c1")
MOD = Requester("mod", "Mod", "g1", "c1", is_mod=True)
OWNER = Requester("owner", "Owner", "g1", "c1", is_owner=True)
TINY = {"frames": 2, "steps": 1, "width": 32, "height": 32}
TINY_COST = 2 * 1


class Recorder:
    """An adapter that remembers everything and can be told to fail deliveries."""

    name = "recorder"

    def __init__(self) -> None:
        self.progress: list[tuple[int, int, int]] = []
        self.calls: list[int] = []
        self.delivered: list[Job] = []
        self.fail_next: dict[int, list[Exception]] = {}

    async def on_progress(self, job: Job, step: int, total: int) -> None:
        self.progress.append((job.id, step, total))

    async def deliver(self, job: Job) -> dict[str, Any] | None:
        self.calls.append(job.id)
        errors = self.fail_next.get(job.id)
        if errors:
            raise errors.pop(0)
        self.delivered.append(job)
        return {"message_id": f"msg-{job.id}"}


StartCore = Callable[..., Awaitable[Core]]


@pytest.fixture
async def start_core(make_settings: Callable[..., Any]) -> AsyncIterator[StartCore]:
    running: list[Core] = []

    async def start(adapter: Recorder | None = None, **overrides: Any) -> Core:
        core = Core(make_settings(**overrides), adapter or Recorder())
        await core.start()
        running.append(core)
        return core

    yield start
    for core in reversed(running):
        await core.close()


async def stop(core: Core) -> None:
    """Close a core before the test ends (the fixture then skips it)."""
    await core.close()
    core.journal = None
    core.dispatcher = None


async def render_all(core: Core, renderer: Any) -> int:
    """Render every queued job with a real worker on a thread; returns how many batches ran."""
    worker = Worker(core.settings, renderer=renderer, name="test-worker")
    try:
        batches = 0
        while await asyncio.to_thread(worker.run_once):
            batches += 1
        return batches
    finally:
        worker.journal.close()


async def idle(core: Core) -> None:
    await asyncio.wait_for(core.wait_idle(), timeout=60)


def queued(answer: Answer) -> int:
    assert answer.event == "queued", answer
    assert answer.job_id is not None
    return answer.job_id


# --- fairness and ETAs -------------------------------------------------------------------------


async def test_fair_order_across_three_users(start_core: StartCore) -> None:
    core = await start_core()
    answers = [await core.submit(who, "a paper boat", TINY) for who in [ALICE] * 3 + [BOB] * 2 + [CAROL]]
    a1, a2, a3, b1, b2, c1 = (queued(a) for a in answers)
    # A latecomer's first job goes ahead of anyone's second: bob and carol are not pushed back.
    assert [a.position for a in answers] == [1, 2, 3, 2, 4, 3]

    expected = [a1, b1, c1, a2, b2, a3]
    assert (await core.queue(BOB)).data["jobs"] == expected
    for position, job_id in enumerate(expected, start=1):
        pos = await core.db.position(job_id)
        assert pos is not None and pos.position == position

    # Workers take them in exactly that order; a running job counts as its owner's first round.
    journal = Journal(core.settings.resolved_db_path)
    try:
        claimed = []
        while batch := journal.claim("w1", models=["tiny"]):
            claimed += [j.id for j in batch]
    finally:
        journal.close()
    assert claimed == expected


async def test_late_first_job_overtakes_a_running_users_backlog(start_core: StartCore) -> None:
    core = await start_core()
    a1 = queued(await core.submit(ALICE, "a kite", TINY))
    a2 = queued(await core.submit(ALICE, "a kite", TINY))
    journal = Journal(core.settings.resolved_db_path)
    try:
        assert [j.id for j in journal.claim("w1", models=["tiny"])] == [a1]
        b1 = queued(answer := await core.submit(BOB, "a sled", TINY))
        assert answer.position == 1  # alice is already being served
        assert [j.id for j in journal.claim("w1", models=["tiny"])] == [b1]
        assert [j.id for j in journal.claim("w1", models=["tiny"])] == [a2]
    finally:
        journal.close()


async def test_a_flooder_who_came_first_pushes_nobody_back_over_time(
    start_core: StartCore, renderer: Any
) -> None:
    """The queue as issue 8 found it: alice sends twenty prompts, then the others one each. Each
    latecomer is told where they stand, and that is where a real worker takes them, also after
    alice's first clip is done and another member arrives."""
    core = await start_core(max_waiting_per_user=20, rate_burst=20)
    flood = [queued(await core.submit(ALICE, f"a flood of cats {n}", TINY)) for n in range(20)]
    bob = await core.submit(BOB, "a lighthouse", TINY)
    carol = await core.submit(CAROL, "a harbour", TINY)
    assert (bob.position, carol.position) == (2, 3)
    assert "#2 in queue" in bob.text

    worker = Worker(core.settings, renderer=renderer, name="flood-worker")
    try:
        assert await asyncio.to_thread(worker.run_once)  # alice's first clip
        assert (await core.db.get(flood[0])).state is not JobState.QUEUED
        dave = await core.submit(DAVE, "a kite festival", TINY)
        assert dave.position == 3  # behind bob and carol, ahead of alice's second
        while await asyncio.to_thread(worker.run_once):
            pass
    finally:
        worker.journal.close()
    jobs = [await core.db.get(i) for i in [*flood, queued(bob), queued(carol), queued(dave)]]
    order = [j.id for j in sorted(jobs, key=lambda j: (j.started_at, j.id))]
    assert order[:4] == [flood[0], bob.job_id, carol.job_id, dave.job_id]
    assert order[4:] == flood[1:]


async def test_far_back_the_answer_gives_a_time_and_the_exact_place_comes_near_the_head(
    start_core: StartCore,
) -> None:
    adapter = PositionRecorder()
    core = await start_core(adapter)
    assert core.dispatcher is not None
    core.dispatcher.position_refresh = 0.0
    members = [Requester(f"m{n}", f"M{n}", "g1", "c1") for n in range(12)]
    answers = [await core.submit(who, "a paper boat", TINY) for who in members]
    assert "#10 in queue" in answers[9].text
    last = answers[11]
    assert last.position == 12 and "in queue, " in last.text and "#" not in last.text
    # Two ahead of it leave: it is #10 now, and its status says so.
    for who, answer in zip(members[:2], answers[:2], strict=True):
        await core.cancel(who, queued(answer))
    async with asyncio.timeout(20):
        while (last.job_id, 10) not in adapter.positions:
            adapter.moved.clear()
            await adapter.moved.wait()


async def test_eta_grows_with_position_and_uses_measured_speed(start_core: StartCore, renderer: Any) -> None:
    core = await start_core()
    people = [Requester(f"u{i}", f"U{i}", "g1") for i in range(4)]
    answers = [await core.submit(who, "a windmill", TINY) for who in people]
    assert [a.position for a in answers] == [1, 2, 3, 4]
    etas = [a.eta_s for a in answers]
    assert all(e is not None for e in etas)
    assert etas == sorted(etas) and len(set(etas)) == 4
    # Nothing rendered yet: the default speed of 0.05 s per frame-step, and each job waits for
    # those ahead of it.
    for position, eta in enumerate(etas, start=1):
        assert eta == pytest.approx(position * TINY_COST * 0.05)

    worker = Worker(core.settings, renderer=renderer, name="eta-worker")
    try:
        assert await asyncio.to_thread(worker.run_once)
    finally:
        worker.journal.close()
    first = await core.db.get(answers[0].job_id)
    assert first is not None and first.state == JobState.RENDERED and first.render_seconds
    measured = first.render_seconds / TINY_COST
    measured_speed = await core.db.speed("tiny")
    speed = measured_speed.sec_per_cost
    assert speed == pytest.approx(measured)
    assert speed != 0.05
    # Encoding and storing the clip took time too: each job counts it once.
    assert measured_speed.overhead_s > 0
    per_job = TINY_COST * speed + measured_speed.overhead_s

    # Everyone moved up one place, at the measured speed.
    for position, answer in enumerate(answers[1:], start=1):
        pos = await core.db.position(answer.job_id)
        assert pos is not None
        assert pos.position == position
        assert pos.eta_s == pytest.approx(position * per_job)
        assert pos.starts_in_s == pytest.approx((position - 1) * per_job)
    late = await core.submit(Requester("u9", "U9", "g1"), "a windmill", TINY)
    assert late.position == 4
    assert late.eta_s == pytest.approx(4 * per_job)
    # Cost counts: a job eight times as big waits as long as eight small ones.
    big = await core.submit(Requester("u10", "U10", "g1"), "a windmill", {**TINY, "frames": 16})
    assert big.position == 5
    assert big.eta_s == pytest.approx((4 * TINY_COST + 16) * speed + 5 * measured_speed.overhead_s)


# --- reroll and remix --------------------------------------------------------------------------

ORIGINAL = (
    'a red fox in snow --seed 7 --frames 3 --steps 2 --fps 6 --guidance 5 --ar 16:9 --neg "blurry, dark"'
)


def _options(job: Job) -> dict[str, Any]:
    r = job.request
    return {k: getattr(r, k) for k in ("model", "negative_prompt", "frames", "fps", "width", "height",
                                       "steps", "guidance")}  # fmt: skip


async def test_reroll_keeps_prompt_and_options_with_a_new_seed(start_core: StartCore) -> None:
    core = await start_core()
    original = await core.db.get(queued(await core.submit_text(ALICE, ORIGINAL)))
    assert original is not None
    assert original.request.seed == 7 and original.request.negative_prompt == "blurry, dark"

    seeds = set()
    for _ in range(2):
        job = await core.db.get(queued(await core.reroll(ALICE, original.id)))
        assert job is not None
        assert job.parent_id == original.id
        assert job.user_id == ALICE.user_id
        assert job.request.prompt == "a red fox in snow"
        assert _options(job) == _options(original)
        assert job.request.seed != 7
        seeds.add(job.request.seed)
    assert len(seeds) == 2

    # Only the requester re-rolls, on every path (the buttons say the same).
    other = await core.reroll(BOB, original.id)
    assert other.event == "refused" and other.reason == "not_yours"

    missing = await core.reroll(ALICE, 999)
    assert missing.event == "refused" and missing.reason == "not_found"


async def test_remix_keeps_seed_and_options_with_the_new_prompt(start_core: StartCore) -> None:
    core = await start_core()
    original = await core.db.get(queued(await core.submit_text(ALICE, ORIGINAL)))
    assert original is not None

    assert (await core.remix(BOB, original.id, "a blue fox in sand")).reason == "not_yours"
    job = await core.db.get(queued(await core.remix(ALICE, original.id, "a blue fox in sand")))
    assert job is not None
    assert job.parent_id == original.id
    assert job.request.prompt == "a blue fox in sand"
    assert job.request.seed == 7
    assert _options(job) == _options(original)

    # Options typed with the new prompt change only themselves.
    job = await core.db.get(queued(await core.remix(ALICE, original.id, "a grey fox --steps 4")))
    assert job is not None
    assert job.request.steps == 4 and job.request.seed == 7
    assert {**_options(original), "steps": 4} == _options(job)

    for bad in ("", "a fox --seed", "a fox --bogus 1", "a fox --frames 999"):
        answer = await core.remix(ALICE, original.id, bad)
        assert answer.event == "refused" and answer.reason == "invalid", bad
    assert (await core.remix(ALICE, 999, "x")).reason == "not_found"


# --- cancel, moderation, bans, pause, limits ---------------------------------------------------


async def test_cancel_by_a_non_owner_is_refused(start_core: StartCore) -> None:
    core = await start_core()
    job_id = queued(await core.submit(ALICE, "a lantern", TINY))

    answer = await core.cancel(BOB, job_id)
    assert answer.event == "refused" and answer.reason == "not_found"
    job = await core.db.get(job_id)
    assert job is not None and job.state == JobState.QUEUED and not job.cancel_requested
    assert (await core.cancel(BOB, 999)).reason == "not_found"

    # A moderator may, and it is audited.
    answer = await core.cancel(MOD, job_id)
    assert answer.event == "info"
    job = await core.db.get(job_id)
    assert job is not None and job.state == JobState.CANCELLED
    (row,) = [r for r in await core.db.audit_log("g1", 50) if r["action"] == "cancel"]
    assert row["actor_id"] == "mod" and row["user_id"] == "alice" and row["detail"] == f"job {job_id}"
    assert "already cancelled" in (await core.cancel(ALICE, job_id)).text

    # The owner may cancel their own; that is no moderator action.
    own = queued(await core.submit(ALICE, "a lantern", TINY))
    assert (await core.cancel(ALICE, own)).event == "info"
    assert len([r for r in await core.db.audit_log("g1", 50) if r["action"] == "cancel"]) == 1

    # Both cancelled jobs are reported to their requester exactly once.
    await idle(core)
    adapter = core.adapter
    assert isinstance(adapter, Recorder)
    assert sorted(adapter.calls) == [job_id, own]
    assert all(j.state == JobState.CANCELLED for j in adapter.delivered)


async def test_moderator_actions_write_audit_rows(start_core: StartCore) -> None:
    core = await start_core()
    mod = Moderation(core)
    # Members cannot do any of it, and leave no trace.
    for attempt in (
        mod.pause(ALICE), mod.resume(ALICE), mod.clear(ALICE), mod.ban(ALICE, "bob"),
        mod.unban(ALICE, "bob"), mod.limit(ALICE, {"per_user": "1"}), mod.words(ALICE, "add", ["x"]),
        mod.category(ALICE, "violence", False), mod.audit(ALICE), mod.cancel(ALICE, 1),
    ):  # fmt: skip
        answer = await attempt
        assert answer.event == "refused" and answer.reason == "not_moderator"
    assert await core.db.audit_log(None, 50) == []

    queued(await core.submit(BOB, "a teapot", TINY))
    for answer in (
        await mod.pause(MOD),
        await mod.resume(MOD),
        await mod.limit(MOD, {"per_user": "2", "rate": "1.5"}),
        await mod.words(MOD, "add", ["Zorblax"]),
        await mod.category(MOD, "violence", False),
        await mod.ban(MOD, "troll", "spamming"),
        await mod.unban(MOD, "troll"),
        await mod.clear(MOD),
    ):
        assert answer.event == "info", answer
    # Refusals that change nothing are not audited.
    assert (await mod.ban(MOD, "mod")).reason == "invalid"
    assert (await mod.category(MOD, "minors", False)).reason == "invalid"
    assert (await mod.limit(MOD, {"per_user": "0"})).reason == "invalid"

    rows = list(reversed(await core.db.audit_log("g1", 50)))
    assert [r["action"] for r in rows] == [
        "pause", "resume", "limit", "words add", "category", "ban", "unban", "clear",
    ]  # fmt: skip
    assert all(r["actor_id"] == "mod" and r["guild_id"] == "g1" for r in rows)
    by_action = {r["action"]: r for r in rows}
    assert by_action["limit"]["detail"] == "max_waiting_per_user=2, rate_per_minute=1.5"
    assert by_action["words add"]["detail"] == "zorblax"
    assert by_action["category"]["detail"] == "violence off"
    assert by_action["ban"]["user_id"] == "troll" and by_action["ban"]["detail"] == "spamming"
    assert by_action["unban"]["user_id"] == "troll"
    assert by_action["clear"]["detail"] == "1 jobs"

    # The changes are in force, and the audit command shows them.
    assert (await core.submit(ALICE, "a zorblax", TINY)).category == "custom"
    queued(await core.submit(ALICE, "a bloody decapitation", TINY))  # violence is off here
    log = await mod.audit(MOD)
    assert log.event == "info" and "ban by mod user troll: spamming" in log.text


async def test_policy_refusals_are_audited_without_an_actor(start_core: StartCore) -> None:
    core = await start_core()
    answer = await core.submit(ALICE, "a n\u200bude statue", TINY)
    assert answer.event == "refused" and answer.reason == "policy" and answer.category == "sexual"
    (row,) = await core.db.audit_log("g1", 10)
    assert row["action"] == "refused" and row["category"] == "sexual"
    assert row["user_id"] == "alice" and row["actor_id"] is None
    # The prompt itself is recorded as refused, never queued.
    assert (await core.db.count_waiting()) == 0


async def test_policy_reads_the_prompt_as_typed_before_cleaning(start_core: StartCore) -> None:
    """A right-to-left override hides a word by reversing it; cleaning drops the override, so
    the policy must see the prompt as typed to read it the way people will."""
    core = await start_core()
    answer = await core.submit(ALICE, "a \u202eedun\u202c woman", TINY)
    assert answer.event == "refused" and answer.category == "sexual"
    fine = await core.submit(BOB, "a \u202etac\u202c on a sofa", TINY)
    assert fine.event == "queued"
    job = await core.db.get(fine.job_id)
    assert "\u202e" not in job.request.prompt  # stored cleaned all the same


async def test_banned_user_is_refused_on_submit_reroll_and_remix(start_core: StartCore) -> None:
    core = await start_core()
    mod = Moderation(core)
    own = queued(await core.submit(ALICE, "a castle", TINY))
    other = queued(await core.submit(BOB, "a moat", TINY))

    answer = await mod.ban(MOD, "alice", "spam")
    assert "1 waiting jobs cancelled" in answer.text
    job = await core.db.get(own)
    assert job is not None and job.state == JobState.CANCELLED
    job = await core.db.get(other)
    assert job is not None and job.state == JobState.QUEUED

    for answer in (
        await core.submit(ALICE, "a castle", TINY),
        await core.submit_text(ALICE, "a castle --seed 3"),
        await core.reroll(ALICE, own),
        await core.remix(ALICE, own, "a tower"),
    ):
        assert answer.event == "refused" and answer.reason == "banned", answer
    # Someone else's clip is not hers to re-roll either way.
    assert (await core.reroll(ALICE, other)).reason == "not_yours"
    # The ban is alice's alone, and this guild's alone.
    queued(await core.reroll(BOB, other))
    alice_elsewhere = Requester("alice", "Alice", "g2", "c9")
    queued(await core.submit(alice_elsewhere, "a castle", TINY))

    # A ban everywhere (the owners' to give) reaches other guilds too; unbanning lifts it.
    await mod.ban(OWNER, "alice", "spam", everywhere=True)
    assert (await core.submit(alice_elsewhere, "a castle", TINY)).reason == "banned"
    await mod.unban(OWNER, "alice", everywhere=True)
    await mod.unban(MOD, "alice")
    queued(await core.submit(ALICE, "a castle", TINY))


async def test_pause_refuses_new_prompts(start_core: StartCore) -> None:
    core = await start_core()
    mod = Moderation(core)
    waiting = queued(await core.submit(ALICE, "a comet", TINY))
    bobs = queued(await core.submit(BOB, "a star", TINY))
    await mod.pause(MOD)
    for answer in (
        await core.submit(BOB, "a comet", TINY),
        await core.reroll(BOB, bobs),
        await core.remix(BOB, bobs, "a meteor"),
    ):
        assert answer.event == "refused" and answer.reason == "paused"
    # Queued jobs stay queued; other guilds are not paused.
    job = await core.db.get(waiting)
    assert job is not None and job.state == JobState.QUEUED
    queued(await core.submit(Requester("bob", "Bob", "g2"), "a comet", TINY))
    await mod.resume(MOD)
    queued(await core.submit(BOB, "a comet", TINY))


async def test_limits_set_by_mods_persist_across_a_new_core(start_core: StartCore) -> None:
    first = await start_core()
    answer = await Moderation(first).limit(MOD, {"per_user": "1", "burst": "2", "rate": "0.5"})
    assert answer.event == "info"
    assert answer.data["limits"]["max_waiting_per_user"] == 1
    for bad in ({"per_user": "0"}, {"per_user": "lots"}, {"per_guild": "5000"}, {"speed": "3"}):
        assert (await Moderation(first).limit(MOD, bad)).reason == "invalid", bad
    await stop(first)

    core = await start_core()  # same database file
    shown = await Moderation(core).limit(MOD, {})
    assert shown.data["limits"] == {
        "rate_burst": 2, "rate_per_minute": 0.5, "max_waiting_per_user": 1,
        "max_waiting_per_guild": 1000, "max_queue": 1000,
    }  # fmt: skip
    queued(await core.submit(ALICE, "a dune", TINY))
    refused = await core.submit(ALICE, "a dune", TINY)
    assert refused.reason == "too_many_waiting" and refused.retry_after_s and refused.retry_after_s > 0
    queued(await core.submit(BOB, "a dune", TINY))
    # Another guild keeps the bot-wide defaults.
    elsewhere = Requester("alice", "Alice", "g2")
    queued(await core.submit(elsewhere, "a dune", TINY))


# --- delivery ----------------------------------------------------------------------------------


async def test_delivery_retried_after_a_transient_error_and_not_after_a_permanent_one(
    start_core: StartCore, renderer: Any
) -> None:
    adapter = Recorder()
    core = await start_core(adapter)
    flaky = queued(await core.submit(ALICE, "a ferris wheel", TINY))
    gone = queued(await core.submit(BOB, "a carousel", TINY))
    crashy = queued(await core.submit(CAROL, "a roller coaster", TINY))
    adapter.fail_next[flaky] = [DeliveryError("rate limited by the chat", retry=True)]
    adapter.fail_next[gone] = [DeliveryError("channel deleted", retry=False)]
    adapter.fail_next[crashy] = [RuntimeError("adapter bug")]

    assert await render_all(core, renderer) == 3
    # Returns once the retried deliveries went out: several dispatcher passes after the
    # permanent failure, so a wrong retry of it would have happened by now.
    await idle(core)

    assert adapter.calls.count(flaky) == 2
    assert adapter.calls.count(crashy) == 2
    assert adapter.calls.count(gone) == 1
    assert sorted(j.id for j in adapter.delivered) == sorted([flaky, crashy])
    for job in adapter.delivered:
        assert job.state == JobState.RENDERED and job.clip_path
        assert await asyncio.to_thread(os.path.isfile, job.clip_path)

    for job_id in (flaky, crashy):
        job = await core.db.get(job_id)
        assert job is not None
        assert (job.state, job.delivery, job.delivery_attempts) == (JobState.DELIVERED, "sent", 2)
        assert job.reply == {"message_id": f"msg-{job_id}"}
    job = await core.db.get(gone)
    assert job is not None
    assert (job.state, job.delivery, job.delivery_attempts) == (JobState.RENDERED, "failed", 1)
    assert job.error == "channel deleted"
    assert await core.db.deliverable(adapter.name) == []
    assert await core.db.unfinished(adapter.name) == []


async def test_two_dispatchers_on_one_database_deliver_each_job_once(
    start_core: StartCore, make_settings: Callable[..., Any]
) -> None:
    """Two bot processes on one database (a restart overlapping the old one, two consoles)."""
    # Twenty finished jobs, recorded the way a worker records them, before either bot starts.
    journal = Journal(make_settings().resolved_db_path)
    try:
        ids = []
        for i in range(20):
            request = build_request(f"clip {i}", model="tiny", frames=2, steps=1, seed=i)
            ids.append(journal.enqueue(request, user_id=f"u{i}", adapter=Recorder.name).id)
            (job,) = journal.claim("w1", models=["tiny"])
            assert journal.complete(job.id, "w1", job.attempts, f"/clips/job-{job.id}.mp4", 0.1)
    finally:
        journal.close()

    one, two = Recorder(), Recorder()
    first, second = await asyncio.gather(start_core(one), start_core(two))
    await idle(first)
    await idle(second)
    assert sorted(one.calls + two.calls) == ids


class Undeliverable(Recorder):
    """A surface whose sends always crash, and that can tell a requester their clip is stuck."""

    def __init__(self) -> None:
        super().__init__()
        self.told: list[tuple[int, str]] = []
        self.told_event = asyncio.Event()

    async def deliver(self, job: Job) -> dict[str, Any] | None:
        self.calls.append(job.id)
        raise RuntimeError("the surface's client blew up")

    async def undeliverable(self, job: Job, reason: str) -> None:
        self.told.append((job.id, reason))
        self.told_event.set()


async def test_when_a_delivery_gives_up_for_any_reason_the_requester_is_told(
    start_core: StartCore, renderer: Any
) -> None:
    adapter = Undeliverable()
    core = await start_core(adapter)
    assert core.dispatcher is not None
    core.dispatcher.max_attempts = 1  # give up at the first crash
    job_id = queued(await core.submit(ALICE, "a glass harbour", TINY))
    await render_all(core, renderer)
    async with asyncio.timeout(20):
        await adapter.told_event.wait()
    assert [job for job, _ in adapter.told] == [job_id] and adapter.calls == [job_id]
    job = await core.db.get(job_id)
    assert job is not None and job.delivery == "failed"


class WatchingPolicy(PromptPolicy):
    """The real policy, noting which thread ran it: the journal's thread is the only one that
    takes the journal's write lock, so a check on any other thread cannot hold writers up."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: list[str] = []

    def check(self, *args: Any, **kwargs: Any) -> Any:
        self.threads.append(threading.current_thread().name)
        return super().check(*args, **kwargs)


async def test_the_policy_runs_before_the_write_lock_is_taken(make_settings: Callable[..., Any]) -> None:
    policy = WatchingPolicy()
    core = Core(make_settings(), Recorder(), policy=policy)
    await core.start()
    try:
        journal_thread = await core.db.run(lambda _j: threading.current_thread().name)
        queued(await core.submit(ALICE, "a quiet harbour", TINY))
        refused = await core.submit(BOB, "a nude statue", TINY)
        assert refused.reason == "policy"
        assert len(policy.threads) == 2 and journal_thread not in policy.threads
        # The refusal is still recorded and audited, in the transaction that holds the lock.
        assert [e["action"] for e in await core.db.audit_log("g1")] == ["refused"]
    finally:
        await core.close()


def test_a_second_sender_never_takes_a_live_delivery(make_settings: Callable[..., Any]) -> None:
    """Two bot processes read the same owed reply: one sends it, and the other takes it over only
    once the first has stopped renewing its lease (it died), never while the send goes on."""
    clock = Clock()
    path = make_settings().resolved_db_path
    a, b = Journal(path, clock=clock), Journal(path, clock=clock)
    try:
        request = build_request("a clip", model="tiny", frames=2, steps=1, seed=1)
        job_id = a.enqueue(request, user_id="u", adapter="recorder").id
        (job,) = a.claim("w1", models=["tiny"])
        assert a.complete(job.id, "w1", job.attempts, "/clips/x.mp4", 0.1)
        (seen_by_a,) = a.deliverable("recorder")
        (seen_by_b,) = b.deliverable("recorder")
        assert a.begin_delivery(job_id, seen_attempts=seen_by_a.delivery_attempts)
        assert not b.begin_delivery(job_id, seen_attempts=seen_by_b.delivery_attempts)
        for _ in range(10):  # a long upload: a renews, b keeps looking and never gets it
            clock.advance(a.delivery_lease_seconds / 2)
            assert a.renew_delivery(job_id)
            assert b.deliverable("recorder") == []
        clock.advance(a.delivery_lease_seconds + 1)  # a is gone
        (again,) = b.deliverable("recorder")
        assert again.delivery_attempts == 1  # b knows an earlier try may be out, and can look
        assert b.begin_delivery(job_id, seen_attempts=again.delivery_attempts)
        assert not a.renew_delivery(job_id)
    finally:
        a.close()
        b.close()


class PositionRecorder(Recorder):
    """A recorder for adapters that show queue positions (as the Discord status message does)."""

    def __init__(self) -> None:
        super().__init__()
        self.positions: list[tuple[int, int]] = []
        self.moved = asyncio.Event()

    async def on_position(self, job: Job, position: int, eta_s: float) -> None:
        assert eta_s > 0
        self.positions.append((job.id, position))
        self.moved.set()


async def test_waiting_jobs_are_told_when_they_move_up_and_only_then(start_core: StartCore) -> None:
    adapter = PositionRecorder()
    core = await start_core(adapter)
    assert core.dispatcher is not None
    core.dispatcher.position_refresh = 0.0
    first = queued(await core.submit(ALICE, "a castle", TINY))
    second = queued(await core.submit(BOB, "a moat", TINY))
    third = queued(await core.submit(CAROL, "a drawbridge", TINY))

    await core.cancel(ALICE, first)  # the others move up one place each
    async with asyncio.timeout(20):
        while len(adapter.positions) < 2:
            adapter.moved.clear()
            await adapter.moved.wait()
    # Unchanged positions were never re-sent: only the moves after the cancel were.
    assert sorted(adapter.positions) == [(second, 1), (third, 2)]
