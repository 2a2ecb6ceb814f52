"""The job journal on real SQLite files: states, claims, leases and fencing, fair order, ETAs,
delivery bookkeeping across restarts, migrations, and the event loop's async proxy.

Time is a hand-moved clock (the `clock` fixture), so lease expiry needs no sleeping.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from engine.journal import AsyncJournal, Job, JobState, Journal, fair
from engine.journal.schema import MIGRATIONS, connect, migrate
from engine.request import RenderRequest, build_request

LEASE = 30.0  # the open_journal fixture's default


def request(prompt: str = "a corgi surfing", **options: Any) -> RenderRequest:
    options.setdefault("seed", 1)
    return build_request(prompt, model="tiny", **options)


def add(journal: Journal, user: str = "alice", prompt: str = "a corgi surfing", **job: Any) -> Job:
    options = {k: job.pop(k) for k in ("frames", "steps", "width", "height", "model") if k in job}
    job.setdefault("adapter", "discord")
    return journal.enqueue(request(prompt, **options), user_id=user, **job)


def claim_one(journal: Journal, owner: str = "w1") -> Job:
    jobs = journal.claim(owner)
    assert len(jobs) == 1, jobs
    return jobs[0]


def rendered(journal: Journal, user: str = "alice", **job: Any) -> Job:
    """A job taken all the way to `rendered`, owed a reply."""
    queued = add(journal, user, **job)
    running = claim_one(journal, "w-setup")
    assert running.id == queued.id
    assert journal.complete(running.id, "w-setup", running.attempts, f"/clips/{queued.id}.mp4", 1.5)
    return journal.get(queued.id)


# --- states and transitions -----------------------------------------------------------------


def test_enqueue_records_a_queued_job(journal: Journal, clock: Any) -> None:
    req = request("a red fox", frames=8, steps=3)
    job = journal.enqueue(
        req, user_id="u1", adapter="discord", user_name="Uno", guild_id="g1", channel_id="c1",
        reply={"message_id": "m1"},
    )  # fmt: skip
    assert job.state is JobState.QUEUED
    assert job.request == req
    assert (job.user_id, job.user_name, job.guild_id, job.channel_id) == ("u1", "Uno", "g1", "c1")
    assert job.model == "tiny"
    assert job.attempts == 0 and job.owner is None and job.lease_until is None
    assert job.created_at == clock() and job.finished_at is None
    assert job.reply == {"message_id": "m1"}
    assert job.delivery is None and not job.cancel_requested
    assert journal.get(job.id) == job
    cost = journal.conn.execute("SELECT cost FROM jobs WHERE id = ?", (job.id,)).fetchone()[0]
    assert cost == 8 * 3


def test_refused_job_is_recorded_but_never_claimed_or_owed(journal: Journal, clock: Any) -> None:
    refused = add(journal, state=JobState.REFUSED, error="too many jobs")
    assert refused.state is JobState.REFUSED
    assert refused.error == "too many jobs" and refused.finished_at == clock()
    assert journal.claim("w1") == []
    assert journal.unfinished() == []
    assert journal.history("alice") == []


def test_full_lifecycle_queued_running_rendered_delivered(journal: Journal, clock: Any) -> None:
    job = add(journal)
    start = clock()
    running = claim_one(journal, "w1")
    assert running.state is JobState.RUNNING
    assert (running.owner, running.attempts) == ("w1", 1)
    assert running.lease_until == start + LEASE and running.started_at == start
    assert running.progress_step == 0 and running.progress_total is None

    clock.advance(10)
    assert journal.progress(job.id, "w1", 1, 1, 2)
    now = journal.get(job.id)
    assert (now.progress_step, now.progress_total) == (1, 2)
    assert now.lease_until == clock() + LEASE  # progress renews the lease

    clock.advance(5)
    assert journal.complete(job.id, "w1", 1, "/clips/job-1-a1.mp4", 4.25)
    done = journal.get(job.id)
    assert done.state is JobState.RENDERED
    assert done.clip_path == "/clips/job-1-a1.mp4" and done.render_seconds == 4.25
    assert done.owner is None and done.lease_until is None
    assert done.finished_at == clock() and done.delivery == "pending"
    # Finished: nothing may report on it any more, not even its own worker.
    assert not journal.progress(job.id, "w1", 1, 2, 2)
    assert not journal.complete(job.id, "w1", 1, "/elsewhere.mp4", 1.0)
    assert journal.get(job.id) == done

    assert journal.begin_delivery(job.id)
    assert journal.get(job.id).delivery == "sending"
    journal.finish_delivery(job.id, clip_message_id="m9")
    delivered = journal.get(job.id)
    assert delivered.state is JobState.DELIVERED and delivered.delivery == "sent"
    assert delivered.reply == {"clip_message_id": "m9"}
    assert journal.stats()["states"] == {"delivered": 1}


def test_update_reply_merges(journal: Journal) -> None:
    job = add(journal, reply={"a": 1, "b": 2})
    journal.update_reply(job.id, b=3, status_message="s1")
    assert journal.get(job.id).reply == {"a": 1, "b": 3, "status_message": "s1"}
    journal.update_reply(9999, x=1)  # an unknown job is ignored, not created
    assert journal.get(9999) is None


# --- claims ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("max_batch", [1, 4])
def test_claim_is_atomic_across_connections(open_journal: Callable[..., Journal], max_batch: int) -> None:
    setup = open_journal()
    users = [f"user{i}" for i in range(7)]
    ids = {add(setup, users[i % len(users)], f"prompt {i}").id for i in range(200)}

    start = threading.Barrier(4)
    claimed: dict[str, list[int]] = {}
    errors: list[BaseException] = []

    def worker(owner: str) -> None:
        try:
            journal = open_journal()  # each thread its own connection, like separate processes
            mine: list[int] = []
            start.wait()
            while batch := journal.claim(owner, max_batch=max_batch):
                assert all(j.owner == owner and j.state is JobState.RUNNING for j in batch)
                mine.extend(j.id for j in batch)
            # Nothing is enqueued meanwhile, so an empty claim must mean an empty queue, not a
            # lost race (which would leave a worker idle while jobs wait).
            left = journal.conn.execute("SELECT COUNT(*) FROM jobs WHERE state = 'queued'").fetchone()[0]
            assert left == 0, f"{owner} got nothing while {left} jobs were queued"
            claimed[owner] = mine
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert len(claimed) == 4

    every = [job_id for mine in claimed.values() for job_id in mine]
    assert len(every) == len(set(every)), "a job was claimed twice"
    assert set(every) == ids
    rows = setup.conn.execute("SELECT id, state, owner, attempts FROM jobs").fetchall()
    owner_of = {job_id: owner for owner, mine in claimed.items() for job_id in mine}
    for row in rows:
        assert row["state"] == "running" and row["attempts"] == 1
        assert row["owner"] == owner_of[row["id"]]


def test_claim_batches_only_from_the_head_of_the_fair_order(journal: Journal) -> None:
    a1 = add(journal, "alice", frames=8, steps=2)
    odd = add(journal, "bob", frames=4, steps=2)  # different batch key
    a2 = add(journal, "alice", frames=8, steps=2)
    c1 = add(journal, "carol", frames=8, steps=2)
    # Fair order is a1, odd, c1, a2. A batch never reaches past bob's job for ones like a1:
    # that would serve carol and alice's second before bob, who waits in between.
    assert [j.id for j in journal.claim("w1", max_batch=3)] == [a1.id]
    assert [j.id for j in journal.claim("w1", max_batch=3)] == [odd.id]
    batch = journal.claim("w1", max_batch=3)
    assert [j.id for j in batch] == [c1.id, a2.id]
    assert all(j.owner == "w1" and j.attempts == 1 for j in batch)


def test_claim_only_takes_the_workers_models(journal: Journal) -> None:
    ltx = journal.enqueue(build_request("a heron", model="ltx-video", seed=1), user_id="u", adapter="d")
    tiny = add(journal, "u")
    assert [j.id for j in journal.claim("w-tiny", models=["tiny"])] == [tiny.id]
    assert journal.claim("w-tiny", models=["tiny"]) == []
    assert [j.id for j in journal.claim("w-ltx", models=["ltx-video"])] == [ltx.id]


# --- leases and fencing ---------------------------------------------------------------------------


def test_stale_owner_is_fenced_out_after_reclaim(journal: Journal, clock: Any) -> None:
    job = add(journal)
    first = claim_one(journal, "w1")
    assert first.attempts == 1
    clock.advance(LEASE + 1)  # w1 stalls past its lease
    assert journal.requeue_expired() == [(job.id, JobState.QUEUED)]
    second = claim_one(journal, "w2")
    assert (second.id, second.owner, second.attempts) == (job.id, "w2", 2)
    assert journal.progress(job.id, "w2", 2, 1, 4)
    before = journal.get(job.id)

    # w1 wakes up and reports as if nothing happened.
    assert journal.progress(job.id, "w1", 1, 3, 4) is False
    assert journal.complete(job.id, "w1", 1, "/clips/stale.mp4", 9.0) is False
    assert journal.fail(job.id, "w1", 1, "boom") is None
    assert journal.finish_cancelled(job.id, "w1", 1) is False
    assert journal.get(job.id) == before

    assert journal.complete(job.id, "w2", 2, "/clips/good.mp4", 2.0)
    done = journal.get(job.id)
    assert done.state is JobState.RENDERED and done.clip_path == "/clips/good.mp4"


def test_fence_checks_the_attempt_not_just_the_owner(journal: Journal, clock: Any) -> None:
    """A worker restarted under the same --name must not finish its previous attempt."""
    job = add(journal)
    claim_one(journal, "gpu-box")
    clock.advance(LEASE + 1)
    journal.requeue_expired()
    again = claim_one(journal, "gpu-box")
    assert again.attempts == 2
    assert not journal.complete(job.id, "gpu-box", 1, "/clips/old.mp4", 1.0)
    assert journal.get(job.id).state is JobState.RUNNING
    assert journal.complete(job.id, "gpu-box", 2, "/clips/new.mp4", 1.0)


def test_heartbeat_renews_only_its_own_leases(journal: Journal, clock: Any) -> None:
    mine = add(journal, "alice")
    theirs = add(journal, "bob")
    claim_one(journal, "w1")
    claim_one(journal, "w2")
    clock.advance(20)
    journal.heartbeat("w1", "tiny")
    assert journal.get(mine.id).lease_until == clock() + LEASE
    clock.advance(20)  # 40 s after the claims: w2's lease is gone, w1's was renewed at 20 s
    assert journal.requeue_expired() == [(theirs.id, JobState.QUEUED)]
    assert journal.get(mine.id).state is JobState.RUNNING
    row = journal.conn.execute("SELECT model, last_seen FROM workers WHERE name = 'w1'").fetchone()
    assert tuple(row) == ("tiny", clock() - 20)


def test_requeue_expired_counts_attempts_then_gives_up(journal: Journal, clock: Any) -> None:
    job = add(journal)
    for attempt in (1, 2, 3):
        running = claim_one(journal, f"w{attempt}")
        assert running.attempts == attempt
        clock.advance(LEASE)  # exactly at the lease's end: not expired yet
        assert journal.requeue_expired() == []
        clock.advance(1)
        expected = JobState.QUEUED if attempt < 3 else JobState.DEAD
        assert journal.requeue_expired() == [(job.id, expected)]
    dead = journal.get(job.id)
    assert dead.state is JobState.DEAD and dead.attempts == 3
    assert dead.error == "gave up after 3 tries (worker lost)"
    assert dead.delivery == "pending" and dead.finished_at == clock()
    assert dead.owner is None and dead.lease_until is None
    assert journal.claim("w4") == []


def test_requeue_expired_leaves_live_leases_and_finishes_cancelled_ones(journal: Journal, clock: Any) -> None:
    lost = add(journal, "alice")
    cancelled = add(journal, "bob")
    claim_one(journal, "w1")
    claim_one(journal, "w2")
    journal.cancel(cancelled.id, by="mod")
    clock.advance(LEASE / 2)
    live = add(journal, "carol")
    claim_one(journal, "w3")
    clock.advance(LEASE / 2 + 1)
    result = dict(journal.requeue_expired())
    assert result == {lost.id: JobState.QUEUED, cancelled.id: JobState.CANCELLED}
    assert journal.get(live.id).state is JobState.RUNNING
    gone = journal.get(cancelled.id)
    assert gone.delivery == "pending" and gone.error is None


def test_fail_with_retry_requeues_until_max_then_dead(journal: Journal, clock: Any) -> None:
    job = add(journal)
    for attempt in (1, 2):
        claim_one(journal)
        assert journal.fail(job.id, "w1", attempt, f"CUDA OOM #{attempt}", retry=True) is JobState.QUEUED
        again = journal.get(job.id)
        assert again.state is JobState.QUEUED and again.error == f"CUDA OOM #{attempt}"
        assert again.owner is None and again.delivery is None and again.finished_at is None
    claim_one(journal)
    assert journal.fail(job.id, "w1", 3, "CUDA OOM #3", retry=True) is JobState.DEAD
    dead = journal.get(job.id)
    assert dead.state is JobState.DEAD and dead.attempts == 3 and dead.error == "CUDA OOM #3"
    assert dead.delivery == "pending" and dead.finished_at == clock()


def test_fail_without_retry_is_final(journal: Journal) -> None:
    job = add(journal)
    claim_one(journal)
    assert journal.fail(job.id, "w1", 1, "prompt refused by model", retry=False) is JobState.FAILED
    failed = journal.get(job.id)
    assert failed.state is JobState.FAILED and failed.attempts == 1
    assert failed.delivery == "pending" and failed.error == "prompt refused by model"
    assert journal.claim("w1") == []


# --- cancel and clear -----------------------------------------------------------------------------


def test_cancel_queued_job_is_immediate(journal: Journal, clock: Any) -> None:
    job = add(journal)
    cancelled = journal.cancel(job.id, by="alice")
    assert cancelled.state is JobState.CANCELLED
    assert cancelled.finished_at == clock() and cancelled.delivery == "pending"
    assert journal.conn.execute("SELECT cancelled_by FROM jobs").fetchone()[0] == "alice"
    assert journal.claim("w1") == []


def test_cancel_running_job_asks_the_worker(journal: Journal) -> None:
    job = add(journal)
    claim_one(journal, "w1")
    assert not journal.cancel_requested(job.id)
    asked = journal.cancel(job.id, by="mod")
    assert asked.state is JobState.RUNNING and asked.cancel_requested
    assert journal.cancel_requested(job.id)
    assert journal.finish_cancelled(job.id, "w1", 1)
    done = journal.get(job.id)
    assert done.state is JobState.CANCELLED and done.delivery == "pending" and done.owner is None


def test_cancel_of_a_finished_job_changes_nothing(journal: Journal) -> None:
    job = rendered(journal)
    assert journal.cancel(job.id, by="alice") == job
    # Nothing was written: the row is as it was, and the clip is still owed to its requester.
    assert journal.get(job.id) == job
    assert (job.state, job.cancel_requested) == (JobState.RENDERED, False)
    assert journal.conn.execute("SELECT cancelled_by FROM jobs").fetchone()[0] is None
    assert [j.id for j in journal.deliverable("discord")] == [job.id]


def test_clear_cancels_one_guilds_waiting_jobs(journal: Journal) -> None:
    running = add(journal, "alice", guild_id="g1")
    claim_one(journal)
    queued = add(journal, "bob", guild_id="g1")
    other = add(journal, "carol", guild_id="g2")
    assert sorted(journal.clear(guild_id="g1", by="mod")) == [running.id, queued.id]
    assert journal.get(queued.id).state is JobState.CANCELLED
    assert journal.get(running.id).cancel_requested
    assert journal.get(other.id).state is JobState.QUEUED
    assert sorted(journal.clear(guild_id=None, by="admin")) == [running.id, other.id]
    assert journal.get(other.id).state is JobState.CANCELLED


# --- fair order ------------------------------------------------------------------------------------


def test_fair_order_round_robins_users(journal: Journal) -> None:
    names = {}
    for user, count in (("A", 5), ("B", 2), ("C", 1)):
        for n in range(1, count + 1):
            names[add(journal, user, f"{user}{n}").id] = f"{user}{n}"
    expected = ["A1", "B1", "C1", "A2", "B2", "A3", "A4", "A5"]
    assert [names[w.id] for w in fair.fair_order(journal.conn)] == expected
    assert [names[j.id] for j in journal.waiting()] == expected

    # Workers take them in that order, even though each claimed job then counts as running.
    taken = []
    while jobs := journal.claim("w1"):
        taken.append(names[jobs[0].id])
    assert taken == expected


def test_priority_beats_rounds(journal: Journal) -> None:
    a = [add(journal, "A", f"A{n}") for n in range(3)]
    b = add(journal, "B", "urgent", priority=1)
    b2 = add(journal, "B", "urgent too", priority=1)
    order = [w.id for w in fair.fair_order(journal.conn)]
    assert order == [b.id, b2.id, a[0].id, a[1].id, a[2].id]
    assert claim_one(journal).id == b.id


def test_a_running_job_counts_as_its_users_first_round(journal: Journal) -> None:
    add(journal, "A", "A1")
    claim_one(journal)
    a2 = add(journal, "A", "A2")
    b1 = add(journal, "B", "B1")  # later than A2, but B has nothing running
    assert [w.id for w in fair.fair_order(journal.conn)] == [b1.id, a2.id]
    assert claim_one(journal).id == b1.id


def test_waiting_lists_running_then_queued_in_order(journal: Journal) -> None:
    a1 = add(journal, "A", guild_id="g1")
    a2 = add(journal, "A", guild_id="g1")
    b1 = add(journal, "B", guild_id="g2")
    claim_one(journal)
    assert [j.id for j in journal.waiting()] == [a1.id, b1.id, a2.id]
    assert [j.id for j in journal.waiting(guild_id="g1")] == [a1.id, a2.id]
    assert journal.count_waiting() == 3
    assert journal.count_waiting(user_id="A") == 2
    assert journal.count_waiting(guild_id="g2") == 1


# --- positions and ETA --------------------------------------------------------------------------


def test_position_and_eta_from_measured_speed(journal: Journal, clock: Any) -> None:
    journal.record_speed("tiny", 0.5)  # seconds per frame-step
    j1 = add(journal, "A", frames=8, steps=2)  # cost 16
    j2 = add(journal, "B", frames=4, steps=5)  # cost 20
    j3 = add(journal, "C", frames=10, steps=3)  # cost 30

    # No worker has reported yet: counted as one.
    p1, p2, p3 = (journal.position(j.id) for j in (j1, j2, j3))
    assert (p1.position, p2.position, p3.position) == (1, 2, 3)
    assert p1.eta_s == pytest.approx(16 * 0.5)  # 8
    assert p2.eta_s == pytest.approx((16 + 20) * 0.5)  # 18
    assert p3.eta_s == pytest.approx((16 + 20 + 30) * 0.5)  # 33
    assert p1.eta_s < p2.eta_s < p3.eta_s

    # Two live workers share the work ahead; the job's own render still takes one worker's time.
    journal.heartbeat("w1", "tiny")
    journal.heartbeat("w2", "tiny")
    assert journal.position(j3.id).eta_s == pytest.approx((16 + 20) * 0.5 / 2 + 30 * 0.5)  # 24

    # A running job counts with what is left of it: j1 half done leaves 8 frame-steps.
    claim_one(journal, "w1")
    assert journal.progress(j1.id, "w1", 1, 1, 2)
    p2 = journal.position(j2.id)
    assert p2.position == 1
    assert p2.eta_s == pytest.approx(8 * 0.5 / 2 + 20 * 0.5)  # 12
    p3 = journal.position(j3.id)
    assert p3.position == 2
    assert p3.eta_s == pytest.approx((8 + 20) * 0.5 / 2 + 30 * 0.5)  # 22

    # Workers not seen for two leases no longer count.
    clock.advance(2 * LEASE + 1)
    assert journal.position(j2.id).eta_s == pytest.approx(8 * 0.5 + 20 * 0.5)  # 14

    assert journal.position(j1.id) is None  # running: no queue position
    assert journal.position(12345) is None


def test_eta_uses_default_speed_then_a_running_average(journal: Journal) -> None:
    job = add(journal, frames=8, steps=2)
    # Before any measurement: 0.05 s per frame-step, so 8 frames x 2 steps is 0.8 s.
    assert journal.position(job.id).eta_s == pytest.approx(16 * 0.05)
    journal.record_speed("tiny", 0.5)
    journal.record_speed("tiny", 1.0)
    # The first measurement is taken as is; later ones are averaged in at a weight of 0.3.
    assert journal.sec_per_cost("tiny") == pytest.approx(0.65)  # 0.7 * 0.5 + 0.3 * 1.0
    assert journal.position(job.id).eta_s == pytest.approx(16 * 0.65)


def test_eta_counts_only_the_same_models_queue(journal: Journal) -> None:
    journal.record_speed("tiny", 0.5)
    journal.enqueue(build_request("a heron", model="ltx-video", seed=1), user_id="X", adapter="d")
    job = add(journal, "A", frames=8, steps=2)
    pos = journal.position(job.id)
    assert (pos.position, pos.eta_s) == (1, pytest.approx(8.0))


# --- delivery -----------------------------------------------------------------------------------


def test_begin_delivery_semantics(journal: Journal, clock: Any) -> None:
    job = rendered(journal)
    assert [j.id for j in journal.deliverable("discord")] == [job.id]
    assert journal.deliverable("http") == []

    assert journal.begin_delivery(job.id) is True
    assert journal.get(job.id).delivery == "sending"
    assert journal.deliverable("discord") == []  # in flight: not offered again while its lease lives
    assert journal.begin_delivery(job.id, owner="another process") is False
    clock.advance(journal.delivery_lease_seconds - 1)
    assert journal.renew_delivery(job.id)  # the send goes on: its sender keeps the lease
    clock.advance(journal.delivery_lease_seconds - 1)
    assert journal.deliverable("discord") == []
    # Its sender stopped renewing (crashed, or stalled): once the lease is out, it is owed again.
    clock.advance(2)
    assert [j.id for j in journal.deliverable("discord")] == [job.id]
    assert journal.begin_delivery(job.id, owner="another process") is True
    assert journal.get(job.id).delivery_attempts == 2
    assert not journal.renew_delivery(job.id)  # the first sender has lost it

    journal.finish_delivery(job.id, message_id="m1")
    sent = journal.get(job.id)
    assert sent.state is JobState.DELIVERED and sent.delivery == "sent"
    assert journal.begin_delivery(job.id) is False  # once sent, never again
    assert journal.get(job.id) == sent

    queued = add(journal)
    assert journal.begin_delivery(queued.id) is False  # nothing owed yet


def test_begin_delivery_fenced_on_what_the_sender_read(
    open_journal: Callable[..., Journal], clock: Any
) -> None:
    """Two bot processes on one file read the same owed reply: only the first to begin sends it."""
    first, second = open_journal(), open_journal()
    job = rendered(first)
    seen_by_first = first.deliverable("discord")[0].delivery_attempts
    seen_by_second = second.deliverable("discord")[0].delivery_attempts
    assert seen_by_first == seen_by_second == 0
    assert first.begin_delivery(job.id, seen_attempts=seen_by_first) is True
    assert second.begin_delivery(job.id, seen_attempts=seen_by_second) is False
    assert second.get(job.id).delivery_attempts == 1
    # A live delivery is not offered to the second process, however often it looks.
    assert second.deliverable("discord") == []
    # Only when the first stops renewing (it died) is the row read afresh and taken over, once.
    clock.advance(first.delivery_lease_seconds + 1)
    [again] = second.deliverable("discord")
    assert second.begin_delivery(job.id, seen_attempts=again.delivery_attempts) is True
    assert second.get(job.id).delivery_attempts == 2
    assert first.begin_delivery(job.id, seen_attempts=again.delivery_attempts) is False
    # The first one's late word on it changes nothing.
    first.delivery_failed(job.id, "HTTP 503", retry_in=10)
    assert second.get(job.id).delivery == "sending"


def test_delivery_of_a_failed_job_keeps_its_state(journal: Journal) -> None:
    job = add(journal)
    claim_one(journal)
    journal.fail(job.id, "w1", 1, "bad prompt", retry=False)
    assert journal.begin_delivery(job.id)
    journal.finish_delivery(job.id)
    done = journal.get(job.id)
    assert done.state is JobState.FAILED and done.delivery == "sent"


def test_delivery_retry_later_then_give_up(journal: Journal, clock: Any) -> None:
    job = rendered(journal)
    assert journal.begin_delivery(job.id)
    journal.delivery_failed(job.id, "HTTP 503", retry_in=30)
    later = journal.get(job.id)
    assert later.delivery == "pending" and later.error == "HTTP 503"
    assert journal.deliverable("discord") == []
    clock.advance(30)
    assert [j.id for j in journal.deliverable("discord")] == [job.id]

    assert journal.begin_delivery(job.id)
    journal.delivery_failed(job.id, "channel deleted", retry_in=None)
    given_up = journal.get(job.id)
    assert given_up.delivery == "failed" and given_up.state is JobState.RENDERED
    assert journal.begin_delivery(job.id) is False
    clock.advance(journal.delivery_lease_seconds + 1)
    assert journal.deliverable("discord") == []
    assert journal.unfinished() == []


def test_restart_finds_owed_and_in_flight_replies(open_journal: Callable[..., Journal], clock: Any) -> None:
    before = open_journal()
    owed = rendered(before, "B")
    in_flight = rendered(before, "C")
    sent = rendered(before, "D")
    assert before.begin_delivery(in_flight.id)
    assert before.begin_delivery(sent.id)
    before.finish_delivery(sent.id)
    cancelled = add(before, "E")
    before.cancel(cancelled.id, by="E")
    elsewhere = rendered(before, "F", adapter="http")
    queued = add(before, "A")
    before.close()

    after = open_journal()  # the restarted bot
    assert [j.id for j in after.unfinished()] == [
        owed.id, in_flight.id, cancelled.id, elsewhere.id, queued.id,
    ]  # fmt: skip
    assert [j.id for j in after.unfinished("discord")] == [owed.id, in_flight.id, cancelled.id, queued.id]
    # The in-flight one may still be on its way, from a process that overlaps this one: it is
    # owed again only once its sender has stopped renewing the lease.
    assert [j.id for j in after.deliverable("discord")] == [owed.id, cancelled.id]
    assert not after.begin_delivery(in_flight.id)
    clock.advance(after.delivery_lease_seconds + 1)
    resend = after.deliverable("discord")
    assert [j.id for j in resend] == [owed.id, in_flight.id, cancelled.id]
    assert after.get(sent.id).state is JobState.DELIVERED
    assert after.begin_delivery(in_flight.id) and not after.begin_delivery(sent.id)


# --- audit ------------------------------------------------------------------------------------------


def test_audit_log_newest_first_per_guild(journal: Journal, clock: Any) -> None:
    journal.audit("ban", actor_id="mod1", guild_id="g1", user_id="u1", detail="spam")
    clock.advance(1)
    journal.audit("clear", actor_id="mod2", guild_id="g1")
    journal.audit("ban", actor_id="mod3", guild_id="g2", user_id="u2")
    entries = journal.audit_log("g1")
    assert [(e["action"], e["actor_id"]) for e in entries] == [("clear", "mod2"), ("ban", "mod1")]
    assert entries[1]["detail"] == "spam" and entries[1]["at"] == clock() - 1
    assert [e["actor_id"] for e in journal.audit_log(None, limit=2)] == ["mod3", "mod2"]


def test_calls_inside_atomic_commit_or_roll_back_together(open_journal: Callable[..., Journal]) -> None:
    """A moderator's change and its audit row: a failure between them leaves neither behind."""
    journal = open_journal()
    with pytest.raises(RuntimeError), journal.atomic():
        journal.ban("g1", "troll", "spam", "mod")
        journal.audit("ban", actor_id="mod", guild_id="g1", user_id="troll")
        raise RuntimeError("crash before commit")
    other = open_journal()  # another process sees the file, not this connection's state
    assert other.ban_reason("troll", "g1") is None
    assert other.audit_log("g1") == []

    with journal.atomic():
        journal.ban("g1", "troll", "spam", "mod")
        journal.audit("ban", actor_id="mod", guild_id="g1", user_id="troll")
        # Nothing is visible to others until the outer block commits.
        assert other.ban_reason("troll", "g1") is None
    assert other.ban_reason("troll", "g1") == "spam"
    assert [e["action"] for e in other.audit_log("g1")] == ["ban"]


# --- the database file --------------------------------------------------------------------------


def test_key_values_survive_a_restart(open_journal: Callable[..., Journal]) -> None:
    journal = open_journal()
    assert journal.get_value("commands-hash") is None
    journal.set_value("commands-hash", "abc")
    journal.set_value("commands-hash", "def")  # replaced, not duplicated
    journal.close()
    assert open_journal().get_value("commands-hash") == "def"


def test_migrations_are_idempotent_and_wal_is_on(journal_path: Path) -> None:
    first = connect(journal_path)
    assert first.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    first.execute(
        "INSERT INTO jobs (created_at, user_id, adapter, state, model, request)"
        " VALUES (1, 'u', 'd', 'queued', 'tiny', '{}')"
    )
    second = connect(journal_path)  # migrates again: must be a no-op
    migrate(second)
    assert second.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert second.execute("SELECT COUNT(*) FROM jobs").fetchone()[0] == 1
    for conn in (first, second):
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 1000
    tables = {r[0] for r in second.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"jobs", "speeds", "workers", "audit", "bans", "guild_config", "buckets", "kv"} <= tables
    first.close()
    second.close()


def test_connect_waits_for_another_writer_on_a_fresh_file(tmp_path: Path) -> None:
    """Switching a fresh file to WAL is a read upgraded to a write, and SQLite refuses such an
    upgrade at once ("database is locked", no busy handler) while another connection holds the
    write lock. `connect` must wait for that writer like any other, not fail."""
    path = tmp_path / "fresh.db"
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process, mid-way through creating the file
    result: dict[str, Any] = {}

    def open_it() -> None:
        try:
            result["conn"] = connect(path)
        except sqlite3.Error as exc:
            result["error"] = exc

    opener = threading.Thread(target=open_it)
    opener.start()
    # Bounded wait for a *failure*: the lock is held throughout, so a correct connect is still
    # waiting here whatever the timing; one that gives up has reported by now.
    opener.join(timeout=0.5)
    assert "error" not in result, result["error"]
    other.execute("COMMIT")
    other.close()
    opener.join(timeout=30)
    assert not opener.is_alive()
    assert "error" not in result, result.get("error")
    conn = result["conn"]
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    conn.close()


def _open_together(path: Path, count: int) -> tuple[list[int], list[BaseException]]:
    start = threading.Barrier(count)
    versions: list[int] = []
    errors: list[BaseException] = []

    def open_it() -> None:
        start.wait()
        try:
            conn = connect(path)
            versions.append(conn.execute("PRAGMA user_version").fetchone()[0])
            conn.close()
        except sqlite3.Error as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return versions, errors


def test_many_connections_opening_a_fresh_file_at_once(tmp_path: Path) -> None:
    """A bot and its workers starting together on a new install must all get a migrated file."""
    for trial in range(10):
        versions, errors = _open_together(tmp_path / f"fresh{trial}.db", 8)
        assert not errors, errors
        assert versions == [len(MIGRATIONS)] * 8


# --- the event loop's journal -------------------------------------------------------------------


async def test_async_journal_runs_every_call_off_the_loop(journal_path: Path, clock: Any) -> None:
    loop_thread = threading.get_ident()
    callers: list[int] = []

    def watching_clock() -> float:
        callers.append(threading.get_ident())
        return clock()

    journal = await AsyncJournal.open(journal_path, clock=watching_clock, lease_seconds=LEASE)
    try:
        job = await journal.enqueue(request(), user_id="alice", adapter="discord")
        assert job.state is JobState.QUEUED
        assert (await journal.position(job.id)).position == 1
        [claimed] = await journal.claim("w1")
        assert claimed.id == job.id
        assert await journal.complete(job.id, "w1", 1, "/clips/x.mp4", 1.0)
        assert (await journal.get(job.id)).state is JobState.RENDERED
        assert [j.id for j in await journal.deliverable("discord")] == [job.id]
        ran_on = await journal.run(lambda sync: (threading.get_ident(), sync.count_waiting()))
    finally:
        await journal.close()
    assert len(callers) >= 4  # enqueue, position, claim, complete, deliverable read the clock
    assert loop_thread not in callers
    assert set(callers) == {ran_on[0]}  # one thread, the journal's own
    assert ran_on[1] == 0


async def test_async_journal_leaves_the_loop_free_while_a_call_waits(
    journal_path: Path, open_journal: Callable[..., Journal]
) -> None:
    journal = await AsyncJournal.open(journal_path)
    blocker = open_journal()
    try:
        blocker.conn.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        pending = asyncio.create_task(journal.enqueue(request(), user_id="alice", adapter="discord"))
        for _ in range(50):  # the loop keeps running other work (this test) while the insert waits
            await asyncio.sleep(0)
        assert not pending.done()
        blocker.conn.execute("COMMIT")
        job = await asyncio.wait_for(pending, timeout=30)
        assert (await journal.get(job.id)).state is JobState.QUEUED
    finally:
        if blocker.conn.in_transaction:
            blocker.conn.execute("ROLLBACK")
        await journal.close()
