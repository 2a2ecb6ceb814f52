"""bot.admission against a real journal file: the token bucket, waiting caps, bans, guild config.

Every decision goes through `Journal.enqueue_if`, as in the bot, so a check and its insert share
one transaction. Time is a controllable clock handed to the journal.
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bot import admission
from bot.admission import GuildConfig, Limits, Refusal
from bot.config import Settings
from engine.journal import Job, JobState, Journal
from engine.request import build_request
from tests.conftest import Clock
from tests.helpers import isolated_settings

REQUEST = build_request("a lighthouse in a storm", model="tiny", frames=8, steps=2, seed=1)
COST = REQUEST.frames * REQUEST.steps


def limits(**kw: float) -> Limits:
    values = {
        "rate_burst": 100,
        "rate_per_minute": 60.0,
        "max_waiting_per_user": 100,
        "max_waiting_per_guild": 1000,
        "max_queue": 1000,
    }
    values.update(kw)
    return Limits(**values)  # type: ignore[arg-type]


def submit(
    journal: Journal, user: str, guild: str | None = "g1", lim: Limits | None = None
) -> tuple[Job, Refusal | None]:
    lim = lim or limits()

    def admit(j: Journal) -> Refusal | None:
        cfg = admission.guild_config(j, guild)
        return admission.check(j, user_id=user, guild_id=guild, limits=lim, cfg=cfg)

    return journal.enqueue_if(REQUEST, admit, user_id=user, guild_id=guild, adapter="test")


def admitted(journal: Journal, user: str, guild: str | None = "g1", lim: Limits | None = None) -> Job:
    job, refusal = submit(journal, user, guild, lim)
    assert refusal is None, refusal
    assert job.state == JobState.QUEUED
    return job


def refused(journal: Journal, user: str, guild: str | None = "g1", lim: Limits | None = None) -> Refusal:
    job, refusal = submit(journal, user, guild, lim)
    assert refusal is not None, f"job {job.id} was admitted"
    # Refused prompts are recorded for moderators, never queued.
    assert job.state == JobState.REFUSED
    assert job.error == refusal.reason
    return refusal


# --- token bucket ------------------------------------------------------------------------------


def test_token_bucket_burst_then_refill(journal: Journal, clock: Clock) -> None:
    lim = limits(rate_burst=3, rate_per_minute=6.0)  # one token per 10 s
    for _ in range(3):
        admitted(journal, "alice", lim=lim)
    r = refused(journal, "alice", lim=lim)
    assert r.reason == "rate_limited"
    assert r.retry_after_s == pytest.approx(10.0)
    assert "6 a minute" in r.text and "10 s" in r.text

    clock.advance(7.5)  # 0.75 of a token back
    r = refused(journal, "alice", lim=lim)
    assert r.retry_after_s == pytest.approx(2.5)
    assert "3 s" in r.text  # rounded up for people

    clock.advance(2.5)  # exactly one token: a refusal did not reset the refill
    admitted(journal, "alice", lim=lim)
    assert refused(journal, "alice", lim=lim).retry_after_s == pytest.approx(10.0)

    # Other users have buckets of their own.
    admitted(journal, "bob", lim=lim)

    # A long pause refills to the burst, never beyond it.
    clock.advance(3600)
    for _ in range(3):
        admitted(journal, "alice", lim=lim)
    assert refused(journal, "alice", lim=lim).reason == "rate_limited"


def test_retry_after_rounds_up_to_a_tenth(journal: Journal, clock: Clock) -> None:
    lim = limits(rate_burst=1, rate_per_minute=7.0)  # 60/7 = 8.571... s per token
    admitted(journal, "alice", lim=lim)
    r = refused(journal, "alice", lim=lim)
    assert r.retry_after_s == pytest.approx(8.6)
    clock.advance(8.6)
    admitted(journal, "alice", lim=lim)


def test_bucket_is_stored_in_the_database(tmp_path: Path, clock: Clock) -> None:
    lim = limits(rate_burst=2, rate_per_minute=1.0)
    first = Journal(tmp_path / "j.db", clock=clock)
    admitted(first, "alice", lim=lim)
    admitted(first, "alice", lim=lim)
    first.close()
    again = Journal(tmp_path / "j.db", clock=clock)
    try:
        assert refused(again, "alice", lim=lim).reason == "rate_limited"
    finally:
        again.close()


def test_refusals_for_other_reasons_spend_no_token(journal: Journal) -> None:
    lim = limits(rate_burst=1, rate_per_minute=0.1)
    with journal.atomic():
        admission.update_guild_config(journal, "g1", paused=True)
    assert refused(journal, "alice", lim=lim).reason == "paused"
    with journal.atomic():
        admission.update_guild_config(journal, "g1", paused=False)
    admitted(journal, "alice", lim=lim)


# --- waiting caps ------------------------------------------------------------------------------


def test_per_user_cap_with_retry_after_from_measured_speed(journal: Journal) -> None:
    with journal.atomic():
        journal.record_speed("tiny", 10.0)  # 10 s per frame-step
    lim = limits(max_waiting_per_user=2)
    first = admitted(journal, "alice", lim=lim)
    admitted(journal, "alice", lim=lim)
    r = refused(journal, "alice", lim=lim)
    assert r.reason == "too_many_waiting"
    assert "2 videos waiting" in r.text
    # One slot frees when alice's first job is done: its whole cost at 10 s a frame-step.
    assert r.retry_after_s == pytest.approx(COST * 10.0)

    # Half rendered: half the time left.
    (claimed,) = journal.claim("w1", models=["tiny"])
    assert claimed.id == first.id
    assert journal.progress(first.id, "w1", claimed.attempts, 1, 2)
    assert refused(journal, "alice", lim=lim).retry_after_s == pytest.approx(COST * 10.0 / 2)

    # Other users are not affected, and a finished job frees the slot.
    admitted(journal, "bob", lim=lim)
    journal.cancel(first.id, by="alice")  # running: only asks the worker to stop
    assert refused(journal, "alice", lim=lim).reason == "too_many_waiting"
    assert journal.finish_cancelled(first.id, "w1", claimed.attempts)
    admitted(journal, "alice", lim=lim)


def test_retry_after_is_never_below_five_seconds(journal: Journal) -> None:
    lim = limits(max_waiting_per_user=1)
    admitted(journal, "alice", lim=lim)
    # Default speed: 16 frame-steps x 0.05 s is under a second; nobody should retry that fast.
    assert refused(journal, "alice", lim=lim).retry_after_s == 5.0


def test_per_guild_cap(journal: Journal) -> None:
    with journal.atomic():
        journal.record_speed("tiny", 10.0)
    lim = limits(max_waiting_per_guild=3)
    for user in ("u1", "u2", "u3"):
        admitted(journal, user, "g1", lim=lim)
    r = refused(journal, "u4", "g1", lim=lim)
    assert r.reason == "guild_busy"
    assert r.retry_after_s == pytest.approx(COST * 10.0)
    # Another guild and DMs have room.
    admitted(journal, "u4", "g2", lim=lim)
    admitted(journal, "u4", None, lim=lim)


def test_guild_over_its_cap_waits_for_enough_slots(journal: Journal) -> None:
    """If the cap was lowered below the queue, the wait covers every job that must finish first."""
    with journal.atomic():
        journal.record_speed("tiny", 10.0)
    for user in ("u1", "u2", "u3", "u4"):
        admitted(journal, user, "g1")
    r = refused(journal, "u5", "g1", lim=limits(max_waiting_per_guild=2))
    assert r.reason == "guild_busy"
    assert r.retry_after_s == pytest.approx(3 * COST * 10.0)


def test_global_cap(journal: Journal) -> None:
    lim = limits(max_queue=3)
    admitted(journal, "u1", "g1", lim=lim)
    admitted(journal, "u2", "g2", lim=lim)
    admitted(journal, "u3", None, lim=lim)
    r = refused(journal, "u4", "g3", lim=lim)
    assert r.reason == "busy"
    assert r.retry_after_s is not None and r.retry_after_s >= 5.0


def test_concurrent_flood_cannot_pass_the_cap(tmp_path: Path) -> None:
    """Check and insert share a transaction: racing connections still admit exactly the cap."""
    path = tmp_path / "race.db"
    Journal(path).close()  # create the schema once
    lim = limits(max_waiting_per_user=3)
    start = threading.Barrier(4)

    def flood(_: int) -> int:
        j = Journal(path)
        try:
            start.wait()
            return sum(submit(j, "mallory", lim=lim)[1] is None for _ in range(15))
        finally:
            j.close()

    with ThreadPoolExecutor(4) as pool:
        assert sum(pool.map(flood, range(4))) == 3
    j = Journal(path)
    try:
        assert j.count_waiting(user_id="mallory") == 3
    finally:
        j.close()


# --- bans --------------------------------------------------------------------------------------


def test_guild_ban_applies_in_that_guild_only(journal: Journal, clock: Clock) -> None:
    with journal.atomic():
        journal.ban("g1", "troll", "spam", "mod")
    r = refused(journal, "troll", "g1")
    assert r.reason == "banned"
    admitted(journal, "troll", "g2")
    admitted(journal, "troll", None)
    admitted(journal, "someone_else", "g1")
    assert journal.ban_reason("troll", "g1") == "spam"
    assert journal.ban_reason("troll", "g2") is None


def test_global_ban_applies_everywhere(journal: Journal, clock: Clock) -> None:
    with journal.atomic():
        journal.ban(None, "troll", "", "mod")
    for guild in ("g1", "g2", None):
        assert refused(journal, "troll", guild).reason == "banned"
    assert journal.ban_reason("troll", "g9") == "no reason given"


def test_ban_comes_before_every_other_check(journal: Journal, clock: Clock) -> None:
    lim = limits(rate_burst=1, max_waiting_per_user=1)
    admitted(journal, "troll", lim=lim)
    with journal.atomic():
        journal.ban("g1", "troll", "spam", "mod")
        admission.update_guild_config(journal, "g1", paused=True)
    assert refused(journal, "troll", lim=lim).reason == "banned"


def test_unban(journal: Journal, clock: Clock) -> None:
    with journal.atomic():
        journal.ban(None, "troll", "x", "mod")
        journal.ban("g1", "troll", "y", "mod")
        assert journal.unban(None, "troll")
        assert not journal.unban(None, "troll")
    # The guild ban still holds in g1 only.
    assert refused(journal, "troll", "g1").reason == "banned"
    admitted(journal, "troll", "g2")
    with journal.atomic():
        assert journal.unban("g1", "troll")
    admitted(journal, "troll", "g1")


def test_banning_again_replaces_the_reason(journal: Journal, clock: Clock) -> None:
    with journal.atomic():
        journal.ban("g1", "troll", "first", "mod")
        journal.ban("g1", "troll", "second", "mod2")
    assert journal.ban_reason("troll", "g1") == "second"
    assert journal.conn.execute("SELECT COUNT(*) FROM bans").fetchone()[0] == 1


# --- guild configuration -----------------------------------------------------------------------


def test_guild_config_round_trip(journal: Journal) -> None:
    assert admission.guild_config(journal, "g1") == GuildConfig()
    with journal.atomic():
        cfg = admission.update_guild_config(
            journal, "g1", rate_burst=5, max_waiting_per_user=2, paused=True,
            disabled_categories=("sexual", "violence"), blocked_words=("zorblax",), mod_role_id=42,
            allow_dms=False,
        )  # fmt: skip
        admission.update_guild_config(journal, "g1", rate_per_minute=0.5)
    stored = admission.guild_config(journal, "g1")
    assert stored == GuildConfig(
        rate_burst=5, rate_per_minute=0.5, max_waiting_per_user=2, paused=True,
        disabled_categories=("sexual", "violence"), blocked_words=("zorblax",), mod_role_id=42,
        allow_dms=False,
    )  # fmt: skip
    assert cfg.rate_per_minute is None  # update returned the config as it was then
    # Guilds are separate; None (DMs, the console without a guild) is its own row.
    assert admission.guild_config(journal, "g2") == GuildConfig()
    with journal.atomic():
        admission.update_guild_config(journal, None, paused=True)
    assert admission.guild_config(journal, None).paused
    assert not admission.guild_config(journal, "g2").paused


def test_guild_config_from_stored_dict_tolerates_old_and_unknown_keys() -> None:
    cfg = GuildConfig.from_dict(
        json.loads('{"rate_burst": 4, "blocked_words": ["a", "b"], "retired_option": 1}')
    )
    assert cfg == GuildConfig(rate_burst=4, blocked_words=("a", "b"))
    assert GuildConfig.from_dict({}) == GuildConfig()
    assert GuildConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg


def test_limits_resolve_guild_overrides_over_settings() -> None:
    settings = isolated_settings(
        Settings, rate_burst=3, rate_per_minute=2.0, max_waiting_per_user=3,
        max_waiting_per_guild=30, max_queue=200,
    )  # fmt: skip
    assert Limits.resolve(settings, GuildConfig()) == Limits(3, 2.0, 3, 30, 200)
    cfg = GuildConfig(rate_burst=9, max_waiting_per_guild=5)
    assert Limits.resolve(settings, cfg) == Limits(9, 2.0, 3, 5, 200)


def test_guild_override_is_used_by_admission(journal: Journal) -> None:
    settings = isolated_settings(Settings, rate_burst=50, max_waiting_per_user=50)
    with journal.atomic():
        admission.update_guild_config(journal, "g1", max_waiting_per_user=1)
    lim_g1 = Limits.resolve(settings, admission.guild_config(journal, "g1"))
    lim_g2 = Limits.resolve(settings, admission.guild_config(journal, "g2"))
    admitted(journal, "alice", "g1", lim=lim_g1)
    assert refused(journal, "alice", "g1", lim=lim_g1).reason == "too_many_waiting"
    # The cap counts all of alice's waiting jobs, but g2's own limit is the default.
    admitted(journal, "alice", "g2", lim=lim_g2)
