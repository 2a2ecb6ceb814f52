"""Moderators act on their own server only; the bot's owners on every server.

Two servers, a moderator of each, an owner who moderates neither, and a member who writes by
DM, against a real Core and journal. Every moderator action is tried across the boundary.
"""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from bot.console import Console, ConsoleAdapter
from bot.core import Answer, Core, Requester
from bot.moderation import Moderation
from engine.journal import JobState
from tests.bot.test_core import TINY, Recorder, queued

MOD1 = Requester("mod1", "Mod One", "g1", "c1", is_mod=True)
MOD2 = Requester("mod2", "Mod Two", "g2", "c2", is_mod=True)
OWNER = Requester("owner", "Owner", "g3", "c3", is_owner=True)
ANN = Requester("ann", "Ann", "g1", "c1")
BEN = Requester("ben", "Ben", "g2", "c2")
DM_MOD = Requester("mod1", "Mod One", None, "dm1", is_mod=True)  # mod1, writing by DM


@pytest.fixture
async def core(make_settings: Callable[..., Any]) -> AsyncIterator[Core]:
    core = Core(make_settings(), Recorder())
    await core.start()
    yield core
    await core.close()


def refused(answer: Answer, reason: str) -> None:
    assert answer.event == "refused" and answer.reason == reason, answer


async def test_cancel_reaches_only_the_moderators_own_server(core: Core) -> None:
    mod = Moderation(core)
    anns = queued(await core.submit(ANN, "a lantern", TINY))
    bens = queued(await core.submit(BEN, "a lantern", TINY))
    refused(await mod.cancel(MOD1, bens), "not_found")  # another server's job does not exist for mod1
    refused(await core.cancel(MOD1, bens), "not_found")
    refused(await mod.cancel(DM_MOD, anns), "not_owner")  # outside a server nothing is "their" server
    assert (await core.db.get(bens)).state is JobState.QUEUED
    assert (await mod.cancel(MOD2, bens)).event == "info"
    assert (await mod.cancel(OWNER, anns)).event == "info"  # owners act anywhere
    states = [(await core.db.get(i)).state for i in (anns, bens)]
    assert states == [JobState.CANCELLED, JobState.CANCELLED]


async def test_clear_pause_and_limits_stay_in_the_moderators_server(core: Core) -> None:
    mod = Moderation(core)
    anns = queued(await core.submit(ANN, "a kite", TINY))
    bens = queued(await core.submit(BEN, "a kite", TINY))
    assert (await mod.clear(MOD1)).data["jobs"] == [anns]
    assert (await core.db.get(bens)).state is JobState.QUEUED
    await mod.pause(MOD1)
    await mod.limit(MOD1, {"per_user": "1"})
    refused(await core.submit(ANN, "a kite", TINY), "paused")
    queued(await core.submit(BEN, "a second kite", TINY))  # g2 is neither paused nor limited to 1
    for action in (mod.clear, mod.pause, mod.resume):  # by DM, these would act bot-wide
        refused(await action(DM_MOD), "not_owner")


async def test_bot_wide_actions_are_the_owners(core: Core) -> None:
    mod = Moderation(core)
    refused(await mod.ban(MOD1, "ben", "spam", everywhere=True), "not_owner")
    refused(await mod.unban(MOD1, "ben", everywhere=True), "not_owner")
    refused(await mod.dms(MOD1, False), "not_owner")
    refused(await mod.audit(MOD1, everywhere=True), "not_owner")
    queued(await core.submit(BEN, "a heron", TINY))  # nothing of that happened
    assert await core.dms_allowed()

    await mod.ban(OWNER, "ben", "spam", everywhere=True)
    for where in (BEN, Requester("ben", "Ben", "g1", "c1"), Requester("ben", "Ben", None, "dm")):
        refused(await core.submit(where, "a heron", TINY), "banned")
    assert (await core.db.waiting(user_id="ben")) == []  # waiting everywhere: cancelled
    await mod.dms(OWNER, False)
    assert not await core.dms_allowed()


async def test_a_server_ban_is_that_servers_alone(core: Core) -> None:
    mod = Moderation(core)
    await mod.ban(MOD2, "ann", "spam")
    queued(await core.submit(ANN, "a tide pool", TINY))  # ann asks in g1
    refused(await core.submit(Requester("ann", "Ann", "g2", "c2"), "a tide pool", TINY), "banned")
    # mod1 cannot lift a ban of another server: unban acts on mod1's own server only.
    assert "was not banned" in (await mod.unban(MOD1, "ann")).text
    refused(await core.submit(Requester("ann", "Ann", "g2", "c2"), "a tide pool", TINY), "banned")


async def test_audit_shows_the_moderators_own_server(core: Core) -> None:
    mod = Moderation(core)
    await mod.pause(MOD1)
    await mod.pause(MOD2)
    mine = (await mod.audit(MOD1)).data["entries"]
    assert {e["guild_id"] for e in mine} == {"g1"}
    every = (await mod.audit(OWNER, everywhere=True)).data["entries"]
    assert {e["guild_id"] for e in every} >= {"g1", "g2"}


async def test_members_are_not_moderators_anywhere(core: Core) -> None:
    mod = Moderation(core)
    for action in (mod.pause, mod.resume, mod.clear, mod.audit):
        refused(await action(ANN), "not_moderator")
    refused(await mod.ban(ANN, "ben", "x"), "not_moderator")


async def test_private_jobs_are_private(core: Core) -> None:
    """A DM job is its requester's alone: /show by id from another DM, or from a server, finds nothing."""
    dm_ann = Requester("ann", "Ann", None, "dm-ann")
    dm_ben = Requester("ben", "Ben", None, "dm-ben")
    secret = queued(await core.submit(dm_ann, "my cat at home", TINY))
    server = queued(await core.submit(ANN, "a lighthouse", TINY))
    assert (await core.show(dm_ann, secret)).event == "info"
    for other in (dm_ben, BEN, MOD1, Requester("cat", "Cat", "g1", "c1")):
        refused(await core.show(other, secret), "not_found")
        refused(await core.reroll(other, secret), "not_found")
        refused(await core.remix(other, secret, "my cat on the moon"), "not_found")
    # A server job: anyone in that server may look it up, nobody elsewhere (or by DM).
    assert (await core.show(Requester("cat", "Cat", "g1", "c1"), server)).event == "info"
    refused(await core.show(BEN, server), "not_found")
    refused(await core.show(dm_ben, server), "not_found")
    assert (await core.show(OWNER, server)).event == "info"  # owners moderate every server...
    refused(await core.show(OWNER, secret), "not_found")  # ...but a DM stays private
    assert secret not in (await core.history(dm_ben)).data["jobs"]
    assert (await core.history(dm_ann)).data["jobs"][-1] == secret


async def test_console_mods_and_owners_mirror_the_tiers(make_settings: Callable[..., Any]) -> None:
    out = io.StringIO()
    adapter = ConsoleAdapter(out, as_json=True)
    core = Core(make_settings(), adapter)
    await core.start()
    try:
        console = Console(core, adapter, {"mod"}, frozenset({"boss"}))
        lines = [
            "mod: /mod dms off",
            "mod: /mod ban troll spam --everywhere",
            "mod: /mod audit everywhere",
            "mod: /mod ban troll spam",
            "boss: /mod dms off",
            "boss: /mod ban troll spam --everywhere",
            "boss: /mod audit everywhere",
            "pat: /mod pause",
        ]
        for line in lines:
            await console.handle(line)
    finally:
        await core.close()
        adapter.close()
    answers = [json.loads(line) for line in out.getvalue().splitlines()]
    reasons = [a.get("reason", a["event"]) for a in answers]
    assert reasons == ["not_owner", "not_owner", "not_owner", "info", "info", "info", "info", "not_moderator"]
    assert "every server" in answers[0]["text"]
