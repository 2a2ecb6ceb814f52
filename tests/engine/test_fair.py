"""The fair queue's promises, over time, on a real journal file.

- Fair over time, not in a snapshot: a member who queued many jobs first waits behind every
  member who has been served less, also after their own first jobs have finished, and across
  a restart of the journal.
- Service counts in GPU work: a long clip weighs what it costs.
- Positions shown equal the order workers take: the job shown as #1 is the next one claimed,
  and everyone else moves up by exactly one.
- Fast at any depth: every statement a claim, an admission or a position runs reads an index
  (checked with EXPLAIN QUERY PLAN on the statements really executed).

The stateful test drives random interleavings against a reference that knows nothing of start
tags: it only books how much service each member received while another member waited.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from engine.journal import Job, JobState, Journal, fair
from engine.request import build_request
from tests.conftest import Clock

# frames x steps: the costs a member's job can have (the tiny model's own limits allow these).
COSTS = {8: (8, 1), 16: (8, 2), 48: (16, 3), 96: (16, 6)}


def add(journal: Journal, user: str, cost: int = 16, **job: Any) -> Job:
    frames, steps = COSTS[cost]
    request = build_request("a lantern at dusk", model="tiny", frames=frames, steps=steps, seed=1)
    job.setdefault("adapter", "console")
    return journal.enqueue(request, user_id=user, **job)


def served_order(journal: Journal) -> list[Job]:
    """Claim (and finish) everything, one job at a time, as one worker would."""
    order = []
    while claimed := journal.claim("w1"):
        (job,) = claimed
        assert journal.complete(job.id, "w1", job.attempts, "clip.mp4", 0.1)
        order.append(job)
    return order


# --- over time ---------------------------------------------------------------------------------


def test_a_flooder_who_queued_first_waits_behind_members_who_came_later(journal: Journal) -> None:
    """Issue 8's case: 200 lines from one member, then one from another, who was told #2."""
    flood = [add(journal, "flooder") for _ in range(200)]
    other = add(journal, "quiet")
    assert journal.position(other.id).position == 2  # behind the flooder's first job only
    order = [j.id for j in served_order(journal)]
    assert order.index(other.id) == 1
    assert order[0] == flood[0].id


def test_fairness_holds_after_the_first_jobs_finish(journal: Journal) -> None:
    """The old round-robin counted waiting jobs only: once alice's first job finished, her second
    was 'round 1' again and beat bob's, who had been waiting. Service is remembered now."""
    alice = [add(journal, "alice") for _ in range(5)]
    (first,) = journal.claim("w1")
    assert first.id == alice[0].id
    assert journal.complete(first.id, "w1", 1, "a.mp4", 0.1)
    bob = add(journal, "bob")
    carol = add(journal, "carol")
    assert (journal.position(bob.id).position, journal.position(carol.id).position) == (1, 2)
    order = [j.user_id for j in served_order(journal)]
    assert order[:2] == ["bob", "carol"]
    assert order[2:] == ["alice"] * 4


def test_members_alternate_while_both_wait_and_a_returning_member_has_no_credit(journal: Journal) -> None:
    for _ in range(4):
        add(journal, "alice")
        add(journal, "bob")
    assert [j.user_id for j in served_order(journal)] == ["alice", "bob"] * 4
    # Carol was never served; she comes now, after a long quiet spell of the queue. She is
    # first in line, but does not get to run three jobs before dave's first.
    carol = [add(journal, "carol") for _ in range(3)]
    dave = add(journal, "dave")
    order = [j.id for j in served_order(journal)]
    assert order == [carol[0].id, dave.id, carol[1].id, carol[2].id]


def test_service_is_counted_in_gpu_work_not_in_jobs(journal: Journal) -> None:
    """A 96 frame-step clip is worth six 16 frame-step ones."""
    big = [add(journal, "director", cost=96) for _ in range(2)]
    small = [add(journal, "sketcher", cost=16) for _ in range(8)]
    order = [j.id for j in served_order(journal)]
    # The director's second clip waits until the sketcher has had about as much GPU time.
    assert order.index(big[1].id) > order.index(small[5].id)
    assert order[0] == big[0].id and order[1] == small[0].id


def test_the_order_survives_a_restart(open_journal: Callable[..., Journal]) -> None:
    first = open_journal()
    for _ in range(3):
        add(first, "alice")
    (claimed,) = first.claim("w1")
    assert first.complete(claimed.id, "w1", 1, "a.mp4", 0.1)
    first.close()
    again = open_journal()  # a restarted bot: everything it knows comes from the file
    bob = add(again, "bob")
    assert served_order(again)[0].id == bob.id


def test_priority_stays_a_separate_higher_key(journal: Journal) -> None:
    for _ in range(3):
        add(journal, "alice")
    vip = [add(journal, "vip", priority=1) for _ in range(2)]
    order = [j.id for j in served_order(journal)]
    assert order[:2] == [v.id for v in vip]


def test_a_requeued_job_keeps_its_place(journal: Journal) -> None:
    a1 = add(journal, "alice")
    add(journal, "alice")
    b1 = add(journal, "bob")
    (claimed,) = journal.claim("w1")
    assert journal.fail(claimed.id, "w1", 1, "worker crashed", retry=True) is JobState.QUEUED
    assert [j.id for j in served_order(journal)][:2] == [a1.id, b1.id]


# --- positions at any depth --------------------------------------------------------------------


@pytest.mark.parametrize("cap", [3, fair.COUNT_CAP])
def test_positions_are_the_claim_order_from_either_end(
    journal: Journal, monkeypatch: pytest.MonkeyPatch, cap: int
) -> None:
    """Positions are counted from the nearer end of the queue; both ends must agree."""
    monkeypatch.setattr(fair, "COUNT_CAP", cap)
    users = itertools.cycle(["a", "a", "a", "b", "c", "a", "d"])
    jobs = [
        add(journal, next(users), cost=(16 if i % 3 else 48), priority=int(i % 11 == 0)) for i in range(40)
    ]
    shown = {j.id: journal.position(j.id) for j in jobs}
    order = [j.id for j in served_order(journal)]
    assert [shown[i].position for i in order] == list(range(1, 41))
    etas = [shown[i].eta_s for i in order]
    assert etas == sorted(etas)


def test_status_refresh_reads_only_the_head_of_each_queue(journal: Journal) -> None:
    jobs = [add(journal, f"u{i}") for i in range(30)]
    head = journal.positions("console", depth=5)
    assert sorted(p.position for _, p in head) == [1, 2, 3, 4, 5]
    assert {j.id for j, _ in head} == {j.id for j in jobs[:5]}
    assert len(journal.positions("console")) == 30
    assert journal.positions("discord", depth=5) == []


# --- query plans -------------------------------------------------------------------------------


@pytest.fixture
def traced(journal: Journal) -> Iterator[list[str]]:
    """Every statement the journal's connection runs, with its values bound."""
    statements: list[str] = []
    journal.conn.set_trace_callback(statements.append)
    yield statements
    journal.conn.set_trace_callback(None)


def plan(journal: Journal, sql: str) -> list[str]:
    return [row[3] for row in journal.conn.execute(f"EXPLAIN QUERY PLAN {sql}")]


def test_claims_positions_and_admission_counts_use_indexes(journal: Journal, traced: list[str]) -> None:
    for i in range(300):
        add(journal, f"u{i % 7}", guild_id="g1", priority=int(i % 50 == 0))
    last = add(journal, "u1", guild_id="g1")
    traced.clear()
    journal.position(last.id)
    journal.count_waiting()
    journal.count_waiting(guild_id="g1")
    journal.count_waiting(user_id="u1")
    journal.count_waiting(model="tiny")
    journal.claim("w1", models=["tiny"])
    journal.claim("w1", max_batch=4)
    add(journal, "u9", guild_id="g1")
    reads = [s for s in traced if s.lstrip().upper().startswith(("SELECT", "UPDATE", "INSERT", "WITH"))]
    assert len(reads) >= 10
    for sql in reads:
        steps = " | ".join(plan(journal, sql))
        assert not scans_the_queue(sql, steps), (sql, steps)


def scans_the_queue(sql: str, steps: str) -> bool:
    """A plan that reads every waiting job: a table scan, a sort, or an index walked to its end
    (walking an index in order is fine when a LIMIT stops it)."""
    if "TEMP B-TREE" in steps or re.search(r"SCAN jobs(?! USING (COVERING )?INDEX)", steps):
        return True
    return "SCAN jobs USING" in steps and " LIMIT " not in sql.upper()


def test_the_plan_check_can_fail(journal: Journal) -> None:
    """The check above must be able to see a full scan, a sort and an unbounded walk."""
    for sql in (
        "SELECT * FROM jobs WHERE request LIKE '%x%'",
        "SELECT * FROM jobs WHERE user_id = 'u' ORDER BY created_at",
        "SELECT COUNT(*) FROM jobs WHERE state = 'queued'",
    ):
        assert scans_the_queue(sql, " | ".join(plan(journal, sql))), sql
    ok = "SELECT id FROM jobs WHERE state = 'queued' ORDER BY priority DESC, start_tag, id LIMIT 1"
    assert not scans_the_queue(ok, " | ".join(plan(journal, ok)))


# --- random interleavings against a reference ----------------------------------------------------

MEMBERS = ["ann", "ben", "cat", "dan"]


class FairQueue(RuleBasedStateMachine):
    """Many members enqueue jobs of different costs while one worker claims, finishes, fails and
    the journal restarts. The reference books service: while a member waits, nobody else may be
    served more than one job's worth (each side's largest job) beyond what that member got."""

    def __init__(self) -> None:
        super().__init__()
        self.cap = fair.COUNT_CAP

    @initialize()
    def open(self) -> None:
        import tempfile

        self.dir = Path(tempfile.mkdtemp(prefix="fair-"))
        self.clock = Clock()
        self.journal = Journal(self.dir / "j.db", clock=self.clock)
        self.queued: dict[int, str] = {}  # job id -> member, as the reference sees it
        self.cost: dict[int, int] = {}
        self.running: Job | None = None
        self.served: dict[str, float] = dict.fromkeys(MEMBERS, 0.0)
        # member -> everyone's service when that member last became backlogged
        self.since: dict[str, dict[str, float]] = {}
        self.max_cost: dict[str, int] = dict.fromkeys(MEMBERS, 0)

    def teardown(self) -> None:
        self.journal.close()

    @rule(member=st.sampled_from(MEMBERS), cost=st.sampled_from(sorted(COSTS)))
    def enqueue(self, member: str, cost: int) -> None:
        if member not in self.since and not self._waiting(member):
            self.since[member] = dict(self.served)
        job = add(self.journal, member, cost=cost)
        self.queued[job.id] = member
        self.cost[job.id] = cost
        self.max_cost[member] = max(self.max_cost[member], cost)

    @precondition(lambda self: self.running is None and self.queued)
    @rule()
    def claim(self) -> None:
        before = {i: self.journal.position(i) for i in self.queued}
        assert sorted(p.position for p in before.values()) == list(range(1, len(before) + 1))
        (job,) = self.journal.claim("w1")
        assert before[job.id].position == 1, "the job shown as #1 is the one taken"
        member = self.queued.pop(job.id)
        for other in self.queued:
            assert self.journal.position(other).position == before[other].position - 1
        self.served[member] += self.cost[job.id]
        for waiter, snapshot in self.since.items():
            if waiter == member or not self._queued(waiter):
                continue
            extra = (self.served[member] - snapshot[member]) - (self.served[waiter] - snapshot[waiter])
            bound = self.max_cost[member] + self.max_cost[waiter]
            assert extra <= bound, f"{member} got {extra} more than {waiter}, who waited"
        self.running = job

    @precondition(lambda self: self.running is not None)
    @rule(ok=st.booleans())
    def finish(self, ok: bool) -> None:
        job = self.running
        assert job is not None
        if ok:
            assert self.journal.complete(job.id, "w1", job.attempts, "c.mp4", 0.1)
        else:  # a lost attempt goes back to the queue (its service did not happen), until the last
            state = self.journal.fail(job.id, "w1", job.attempts, "boom", retry=True)
            assert state is (JobState.QUEUED if job.attempts < self.journal.max_attempts else JobState.DEAD)
            if state is JobState.QUEUED:
                self.queued[job.id] = job.user_id
                self.served[job.user_id] -= self.cost[job.id]
        self.running = None
        self._forget_idle()

    @precondition(lambda self: self.queued)
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        job_id = data.draw(st.sampled_from(sorted(self.queued)))
        self.journal.cancel(job_id, by="mod")
        del self.queued[job_id]
        self._forget_idle()

    @rule()
    def restart(self) -> None:
        self.journal.close()
        self.journal = Journal(self.dir / "j.db", clock=self.clock)

    @rule(cap=st.sampled_from([2, 5, fair.COUNT_CAP]))
    def count_from_either_end(self, cap: int) -> None:
        fair.COUNT_CAP = cap

    @invariant()
    def counts_agree(self) -> None:
        if not hasattr(self, "journal"):
            return
        waiting = len(self.queued) + (self.running is not None)
        assert self.journal.count_waiting() == waiting

    def _queued(self, member: str) -> bool:
        return member in self.queued.values()

    def _waiting(self, member: str) -> bool:
        return self._queued(member) or (self.running is not None and self.running.user_id == member)

    def _forget_idle(self) -> None:
        for member in [m for m in self.since if not self._waiting(m)]:
            del self.since[member]


@pytest.fixture
def restore_cap() -> Iterator[None]:
    cap = fair.COUNT_CAP
    yield
    fair.COUNT_CAP = cap


def test_fair_queue_state_machine(restore_cap: None) -> None:
    machine = FairQueue.TestCase
    machine.settings = settings(
        max_examples=60,
        stateful_step_count=40,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
        database=None,
    )
    machine().runTest()
