"""The layered verdict through the real Core: two servers, their own layers, faults, appeals.

The hosted layer is the real aiohttp client against the loopback fake of OpenAI's endpoint
(`fake_moderation`); the lists are the shipped ones. g1 and g2 are two servers with a moderator
each; the owner acts everywhere.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from bot.core import Answer, Core, Requester
from bot.moderation import Moderation
from bot.policy import CATEGORIES
from tests.bot.console_session import console_session
from tests.bot.fake_moderation import FakeModeration
from tests.bot.test_core import TINY, Recorder

MOD1 = Requester("mod1", "Mod One", "g1", "c1", is_mod=True)
MOD2 = Requester("mod2", "Mod Two", "g2", "c2", is_mod=True)
OWNER = Requester("owner", "Owner", "g1", "c1", is_owner=True)  # an owner, asking in g1
ANN = Requester("ann", "Ann", "g1", "c1")
BEN = Requester("ben", "Ben", "g2", "c2")

GORE = "what the stranger did in the old warehouse was unspeakable"  # the lists admit it
CANNOT_CHECK = (
    "Sorry, I can't check prompts right now, so I can't take this one. Please try again in a few minutes."
)


@pytest.fixture
async def make_core(
    make_settings: Callable[..., Any], fake_moderation: FakeModeration
) -> AsyncIterator[Callable[..., Any]]:
    running: list[Core] = []

    async def make(**overrides: Any) -> Core:
        values = {
            "moderation_api_key": "sk-test",
            "moderation_base_url": fake_moderation.base_url,
            # 0.3 s ran out once for a first request (new session, new connection) on this busy
            # 2-core machine; 1.5 s still keeps the "hang" faults quick.
            "classifier_timeout_seconds": 1.5,
        }
        core = Core(make_settings(**{**values, **overrides}), Recorder())
        await core.start()
        running.append(core)
        return core

    yield make
    for core in running:
        await core.close()


def is_refused(answer: Answer, category: str | None, reason: str = "policy") -> None:
    assert answer.event == "refused" and answer.reason == reason and answer.category == category, answer


async def test_each_server_gets_the_layers_it_chose(
    make_core: Callable[..., Any], fake_moderation: FakeModeration
) -> None:
    fake_moderation.flag("warehouse", "violence/graphic")
    core = await make_core()
    assert (await Moderation(core).classifier(MOD1, "hosted")).data["classifier"] == "hosted"

    on_g1 = await core.submit(ANN, GORE, TINY)
    is_refused(on_g1, "violence")
    assert on_g1.data["layer"] == "hosted"
    assert (await core.submit(BEN, GORE, TINY)).event == "queued"  # g2: the lists alone
    assert fake_moderation.inputs() == [GORE]  # g2's prompt never left the machine

    # Cheapest first: what the lists refuse is never sent to the classifier.
    listed = await core.submit(ANN, "a nude statue", TINY)
    is_refused(listed, "sexual")
    assert listed.data["layer"] == "lists"
    assert fake_moderation.inputs() == [GORE]
    assert (await core.submit(ANN, "a lighthouse at dawn", TINY)).event == "queued"

    (row, *_) = await core.db.audit_log("g1", 10)
    assert row["action"] == "refused" and row["category"] == "sexual" and "lists" in row["detail"]


async def test_the_bot_wide_default_applies_until_a_server_chooses(
    make_core: Callable[..., Any], fake_moderation: FakeModeration
) -> None:
    fake_moderation.flag("warehouse", "violence")
    core = await make_core(classifier="hosted")
    is_refused(await core.submit(BEN, GORE, TINY), "violence")
    assert (await Moderation(core).classifier(MOD2, "off")).event == "info"
    assert (await core.submit(BEN, GORE, TINY)).event == "queued"
    is_refused(await core.submit(ANN, GORE, TINY), "violence")  # g1 did not choose: the default


@pytest.mark.parametrize("fault", ["hang", "500", "429"])
async def test_fail_closed_refuses_until_the_classifier_answers(
    make_core: Callable[..., Any], fake_moderation: FakeModeration, fault: str
) -> None:
    core = await make_core(classifier="hosted")
    fake_moderation.mode = fault
    answer = await core.submit(ANN, "a lighthouse at dawn", TINY)
    is_refused(answer, None, reason="unchecked")
    assert answer.text == CANNOT_CHECK
    (row,) = await core.db.audit_log("g1", 10)
    assert row["action"] == "refused" and "could not answer" in row["detail"]
    assert await core.db.count_waiting() == 0
    fake_moderation.mode = "ok"
    assert (await core.submit(ANN, "a lighthouse at dawn", TINY)).event == "queued"


@pytest.mark.parametrize("fault", ["hang", "500"])
async def test_fail_open_admits_what_the_lists_admit(
    make_core: Callable[..., Any], fake_moderation: FakeModeration, fault: str
) -> None:
    fake_moderation.flag("warehouse", "violence")
    core = await make_core(classifier="hosted", classifier_fail_open=True)
    fake_moderation.mode = fault
    assert (await core.submit(ANN, GORE, TINY)).event == "queued"
    is_refused(await core.submit(ANN, "a nude statue", TINY), "sexual")  # the lists still hold


async def test_minors_is_refused_when_a_server_disables_everything_it_can(
    make_core: Callable[..., Any], fake_moderation: FakeModeration
) -> None:
    # The hosted layer finds the sexual part only implied, but with minors: refused as minors.
    fake_moderation.flag("sleepover", "sexual", "sexual/minors")
    fake_moderation.flag("sunbathing", "sexual")
    core = await make_core(classifier="hosted")
    mod = Moderation(core)
    for name in set(CATEGORIES) - {"minors"}:
        assert (await mod.category(MOD1, name, False)).event == "info"
    refused_off = await mod.category(MOD1, "minors", False)
    assert refused_off.event == "refused"

    is_refused(await core.submit(ANN, "a naked child", TINY), "minors")  # the lists
    is_refused(await core.submit(ANN, "two kids at a sleepover, touching", TINY), "minors")  # hosted
    assert (await core.submit(ANN, "adults sunbathing", TINY)).event == "queued"  # sexual is off here
    # g2 left sexual on: its (bot-wide default) hosted layer refuses the same prompt.
    is_refused(await core.submit(BEN, "adults sunbathing", TINY), "sexual")


async def test_a_refusal_names_its_category_and_how_to_appeal_never_the_words(
    make_settings: Callable[..., Any],
) -> None:
    async with console_session(make_settings()) as session:
        answer = await session.answer_to("alice: Dick Van Dyke dancing on a roof")
    assert answer["event"] == "refused" and answer["reason"] == "policy"
    assert answer["category"] == "public_figures" and answer["layer"] == "lists"
    assert "real public figures" in answer["text"]  # the category's label
    assert "/mod allow" in answer["text"] and "moderator" in answer["text"]
    assert "dick" not in answer["text"].lower() and "dyke" not in answer["text"].lower()


async def test_an_allowed_phrase_admits_the_prompt_on_that_server_only(
    make_core: Callable[..., Any],
) -> None:
    core = await make_core()
    mod = Moderation(core)
    prompt = "Dick Van Dyke dancing on a roof"
    is_refused(await core.submit(ANN, prompt, TINY), "public_figures")

    assert (await mod.allow(ANN, "add", "Dick Van Dyke")).reason == "not_moderator"  # a member cannot
    is_refused(await core.submit(ANN, prompt, TINY), "public_figures")
    assert (await mod.allow(MOD2, "add", "Dick Van Dyke")).event == "info"  # mod2 allows it on g2
    is_refused(await core.submit(ANN, prompt, TINY), "public_figures")  # ... which changes nothing on g1

    allowed = await mod.allow(MOD1, "add", "Dick Van Dyke")
    assert allowed.event == "info" and allowed.data["phrases"] == ["dick van dyke"]
    assert (await core.submit(ANN, prompt, TINY)).event == "queued"
    assert (await core.submit(ANN, "d1ck v4n dyke on a roof", TINY)).event == "queued"  # disguised too
    # Only the phrase is exempt: the rest of the prompt is still read.
    is_refused(await core.submit(ANN, "Dick Van Dyke and Mickey Mouse", TINY), "trademarks")

    assert (await mod.allow(MOD1, "list")).data["phrases"] == ["dick van dyke"]
    assert (await mod.allow(MOD2, "remove", "dick van dyke")).event == "info"  # g2's copy, not g1's
    assert (await core.submit(ANN, prompt, TINY)).event == "queued"
    assert (await mod.allow(MOD1, "remove", "Dick Van Dyke")).data["phrases"] == []
    is_refused(await core.submit(ANN, prompt, TINY), "public_figures")

    actions = [(r["action"], r["actor_id"], r["detail"]) for r in await core.db.audit_log("g1", 20)]
    assert ("allow add", "mod1", "dick van dyke") in actions
    assert ("allow remove", "mod1", "dick van dyke") in actions
    assert all(actor != "mod2" for _, actor, _ in actions)


async def test_only_an_owner_phrase_is_exempt_from_the_minors_check(
    make_core: Callable[..., Any],
) -> None:
    """A "naked cake" (a cake without frosting) at a kids' party reads as minors content to the
    lists. A moderator's allowed phrase cannot unlock that category; an owner's can."""
    core = await make_core()
    mod = Moderation(core)
    prompt = "a naked cake at a kids party"
    is_refused(await core.submit(ANN, prompt, TINY), "minors")
    assert (await mod.allow(MOD1, "add", "naked cake")).event == "info"
    is_refused(await core.submit(ANN, prompt, TINY), "minors")

    owned = await mod.allow(OWNER, "add", "naked cake")
    assert owned.data["owner_phrases"] == ["naked cake"]
    assert (await core.submit(ANN, prompt, TINY)).event == "queued"
    is_refused(await core.submit(ANN, "a kid, nude, eating naked cake", TINY), "minors")  # the rest counts
    assert (await mod.allow(MOD1, "remove", "naked cake")).reason == "not_owner"
    is_refused(await core.submit(BEN, prompt, TINY), "minors")  # g2 never allowed it


async def test_an_allowed_phrase_is_hidden_from_the_classifier_but_minors_still_counts(
    make_core: Callable[..., Any], fake_moderation: FakeModeration
) -> None:
    fake_moderation.flag("warehouse", "violence")
    fake_moderation.flag("sleepover", "sexual/minors")
    core = await make_core(classifier="hosted")
    mod = Moderation(core)
    assert (await mod.allow(MOD1, "add", "warehouse")).event == "info"
    assert (await core.submit(ANN, GORE, TINY)).event == "queued"
    # Asked once without the phrase (its verdict counts), once with it for the minors check alone.
    without, full = fake_moderation.inputs()[-2:]
    assert "warehouse" not in without and full == GORE
    is_refused(await core.submit(BEN, GORE, TINY), "violence")  # g2 did not allow it

    assert (await mod.allow(MOD1, "add", "sleepover")).event == "info"
    is_refused(await core.submit(ANN, "kids at a sleepover", TINY), "minors")
    asked = len(fake_moderation.requests)
    assert (await core.submit(ANN, "a lighthouse at dawn", TINY)).event == "queued"
    assert len(fake_moderation.requests) == asked + 1  # no phrase in it: asked once


async def test_a_prompt_admission_refuses_anyway_is_never_sent_out(
    make_core: Callable[..., Any], fake_moderation: FakeModeration
) -> None:
    """A flooder, a banned member, a paused server: their prompts must not spend the hosted
    quota every server shares (a 429 there would refuse everyone's prompts)."""
    core = await make_core(classifier="hosted", rate_burst=2, rate_per_minute=1.0)
    mod = Moderation(core)
    for n in range(5):
        answer = await core.submit(ANN, f"a lighthouse {n}", TINY)
        assert answer.event == ("queued" if n < 2 else "refused"), answer
    assert answer.reason == "rate_limited"
    assert fake_moderation.inputs() == ["a lighthouse 0", "a lighthouse 1"]

    assert (await mod.ban(MOD2, "ben", "spam")).event == "info"
    assert (await core.submit(BEN, "a lighthouse", TINY)).reason == "banned"
    assert (await mod.pause(MOD1)).event == "info"
    assert (await core.submit(OWNER, "a lighthouse", TINY)).reason == "paused"
    assert len(fake_moderation.requests) == 2
    # The lists still judge them: a policy refusal is recorded as such.
    is_refused(await core.submit(BEN, "a nude statue", TINY), "sexual")


async def test_a_default_layer_without_its_key_is_said_at_start_and_fails_closed(
    make_settings: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="bot.core.core"):
        core = Core(make_settings(classifier="hosted"), Recorder())
    await core.start()
    try:
        [line] = [r.getMessage() for r in caplog.records if r.name == "bot.core.core"]
        assert "PROMPTREEL_MODERATION_API_KEY" in line
        is_refused(await core.submit(ANN, "a lighthouse at dawn", TINY), None, reason="unchecked")
        # ... and no moderator can pick a layer the owner did not configure.
        assert (await Moderation(core).classifier(MOD1, "hosted")).reason == "invalid"
    finally:
        await core.close()
