"""Daily quotas, role quotas, priority roles and quiet hours, enforced in admission.

The state machine runs admission as the bot does (`Journal.enqueue_if` with `admission.check`, on
a real journal file) over simulated days with a hand-moved clock, for three members in two
servers and DMs, against a reference written independently: it counts jobs by their local date
and reads quiet hours off the local time. The end-to-end tests go through the console: `/mod
quota` and the quota left in `/history`.
"""

from __future__ import annotations

import tempfile
from datetime import datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from bot import admission
from bot.config import Settings
from bot.quota import Quota, remaining
from engine.journal import Journal
from engine.request import build_request
from tests.bot.console_session import console_session
from tests.conftest import Clock
from tests.helpers import isolated_settings

TZ = "Europe/Paris"  # a zone with summer time: the simulated days include the switch
# Saturday 28 March 2026, 20:00 in Paris; the clocks go forward that night.
START = datetime(2026, 3, 28, 20, 0, tzinfo=ZoneInfo(TZ)).timestamp()
MEMBERS = {"alice": (), "bob": ("vip",), "carol": ("free",)}
PLACES = ["g1", "g2", None]  # None: a DM

SETTINGS = isolated_settings(
    Settings,
    daily_per_member=3,
    daily_per_server=5,
    quota_roles={"vip": 6, "free": 0},
    priority_roles={"vip": 2},
    quiet_hours="23:30-06:00",
    timezone=TZ,
    rate_burst=1000,
    rate_per_minute=1000.0,
    max_waiting_per_user=1000,
    max_waiting_per_guild=1000,
    max_queue=10_000,
)


def member_limit(member: str, place: str | None) -> int | None:
    """The reference: g2 lets each member make 1 a day, elsewhere 3; vip 6, free unlimited."""
    roles = MEMBERS[member]
    if "free" in roles:
        return None
    base = 1 if place == "g2" else 3
    return max(base, 6) if "vip" in roles else base


def is_quiet(now: float) -> bool:
    local = datetime.fromtimestamp(now, ZoneInfo(TZ)).time()
    return local >= time(23, 30) or local < time(6, 0)


class QuotaDay(RuleBasedStateMachine):
    @initialize()
    def open(self) -> None:
        self.clock = Clock(START)
        self.journal = Journal(Path(tempfile.mkdtemp(prefix="quota-")) / "j.db", clock=self.clock)
        admission.update_guild_config(self.journal, "g2", daily_per_member=1)
        # job id -> (member, place, local date, counts)
        self.jobs: dict[int, tuple[str, str | None, object, bool]] = {}

    def today(self) -> object:
        return datetime.fromtimestamp(self.clock(), ZoneInfo(TZ)).date()

    def used(self, *, member: str | None = None, place: str | None = None) -> int:
        return sum(
            1
            for who, where, day, counts in self.jobs.values()
            if counts and day == self.today() and (who == member if member else where == place)
        )

    @rule(member=st.sampled_from(sorted(MEMBERS)), place=st.sampled_from(PLACES))
    def prompt(self, member: str, place: str | None) -> None:
        expected: str | None = None
        limit = member_limit(member, place)
        if is_quiet(self.clock()):
            expected = "quiet_hours"
        elif limit is not None and self.used(member=member) >= limit:
            expected = "member_quota"
        elif place is not None and self.used(place=place) >= 5:
            expected = "server_quota"

        def admit(journal: Journal) -> admission.Refusal | None:
            cfg = admission.guild_config(journal, place)
            return admission.check(
                journal, user_id=member, guild_id=place, limits=admission.Limits.resolve(SETTINGS, cfg),
                cfg=cfg, quota=Quota.resolve(SETTINGS, cfg, MEMBERS[member]),
            )  # fmt: skip

        priority = Quota.resolve(SETTINGS, admission.GuildConfig(), MEMBERS[member]).priority
        job, refusal = self.journal.enqueue_if(
            build_request("a cat", model="tiny", frames=2, steps=1, seed=1),
            admit, user_id=member, guild_id=place, adapter="test", priority=priority,
        )  # fmt: skip
        assert (refusal.reason if refusal else None) == expected, (member, place, self.today())
        if refusal is None:
            assert job.priority == (2 if "vip" in MEMBERS[member] else 0)
            self.jobs[job.id] = (member, place, self.today(), True)
        else:
            assert refusal.retry_after_s is not None and refusal.retry_after_s > 0

    def waiting(self) -> list[int]:
        return [jid for jid, (*_, counts) in self.jobs.items() if counts and jid > 0]

    @precondition(lambda self: bool(self.waiting()))
    @rule(data=st.data())
    def cancel_before_it_starts(self, data: st.DataObject) -> None:
        """A job cancelled while it waits used no GPU: it gives its place in the quota back."""
        waiting = self.waiting()
        job_id = data.draw(st.sampled_from(waiting))
        member, place, day, _ = self.jobs[job_id]
        self.journal.cancel(job_id, by=member)
        self.jobs[job_id] = (member, place, day, False)

    @precondition(lambda self: bool(self.waiting()))
    @rule()
    def render_one(self) -> None:
        """A rendered job counts for good: cancelling it afterwards is no longer possible."""
        [job] = self.journal.claim("worker")
        assert self.journal.complete(job.id, "worker", job.attempts, "/clips/x.mp4", 1.0)
        member, place, day, _ = self.jobs.pop(job.id)
        self.jobs[-job.id] = (member, place, day, True)  # negative: no longer cancellable

    @rule(seconds=st.sampled_from([60, 20 * 60, 2 * 3600, 5 * 3600, 9 * 3600]))
    def time_passes(self, seconds: int) -> None:
        self.clock.advance(seconds)

    @invariant()
    def history_shows_what_is_left(self) -> None:
        if not hasattr(self, "journal"):
            return
        cfg = admission.guild_config(self.journal, None)
        left = remaining(self.journal, Quota.resolve(SETTINGS, cfg, MEMBERS["alice"]), "alice")
        assert left is not None
        assert left[:2] == (max(0, 3 - self.used(member="alice")), 3)

    def teardown(self) -> None:
        if hasattr(self, "journal"):
            self.journal.close()


def test_quotas_over_simulated_days() -> None:
    machine = QuotaDay.TestCase
    machine.settings = settings(
        max_examples=40,
        stateful_step_count=40,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
        database=None,
    )
    machine().runTest()


def test_quiet_hours_and_timezones_are_read_at_start() -> None:
    with pytest.raises(ValueError):
        isolated_settings(Settings, quiet_hours="late at night")
    with pytest.raises(ValueError):
        isolated_settings(Settings, timezone="Mars/Olympus_Mons")


async def test_mod_quota_sets_the_server_quota_and_history_shows_what_is_left(make_settings) -> None:  # type: ignore[no-untyped-def]
    async with console_session(make_settings()) as session:
        assert "quota_left" not in await session.answer_to("alice: /history")  # no quota: nothing said
        refused = await session.answer_to("alice: /mod quota member=2")
        assert refused["event"] == "refused"  # alice is no moderator
        set_ = await session.answer_to("mod: /mod quota member=2 quiet=off")
        assert set_["event"] == "info" and set_["member"] == 2
        for _ in range(2):
            assert (await session.answer_to("alice: a lighthouse --frames 2 --steps 1"))["event"] == "queued"
        third = await session.answer_to("alice: a lighthouse --frames 2 --steps 1")
        assert third["event"] == "refused" and third["reason"] == "member_quota"
        history = await session.answer_to("alice: /history")
        assert history["quota_left"] == 0 and history["quota"] == 2
        bob = await session.answer_to("bob: /history")
        assert bob["quota_left"] == 2
