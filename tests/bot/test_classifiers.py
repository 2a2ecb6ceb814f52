"""The hosted classifier: the real aiohttp client against a loopback fake of OpenAI's endpoint.

What is checked is what goes over the wire (path, key, body) and what comes back in our
categories, including every way the service can fail to answer.
"""

from __future__ import annotations

import time

import pytest

from bot.policy.classifiers import ClassifierUnavailable, HostedModeration
from tests.bot.fake_moderation import FakeModeration


def client(fake: FakeModeration, timeout_s: float = 2.0) -> HostedModeration:
    return HostedModeration(api_key="sk-test-123", base_url=fake.base_url, timeout_s=timeout_s)


async def test_the_request_follows_the_published_schema(fake_moderation: FakeModeration) -> None:
    hosted = client(fake_moderation)
    try:
        verdict = await hosted.classify("a lighthouse in fog")
    finally:
        await hosted.close()
    assert verdict.flagged == frozenset()
    (seen,) = fake_moderation.requests
    assert seen.path == "/v1/moderations"
    assert seen.headers["Authorization"] == "Bearer sk-test-123"
    assert seen.body == {"model": "omni-moderation-latest", "input": "a lighthouse in fog"}


@pytest.mark.parametrize(
    ("flagged", "ours"),
    [
        (["sexual"], {"sexual"}),
        (["sexual", "sexual/minors"], {"sexual", "minors"}),
        (["sexual/minors"], {"minors"}),
        (["violence/graphic"], {"violence"}),
        (["illicit/violent"], {"violence"}),
        (["hate/threatening"], {"hate"}),
        (["harassment", "harassment/threatening"], {"harassment"}),
        (["self-harm/intent"], {"self_harm"}),
        (["self-harm/instructions"], {"self_harm"}),
        (["illicit"], set()),  # no category of ours
    ],
)
async def test_openai_categories_map_onto_ours(
    fake_moderation: FakeModeration, flagged: list[str], ours: set[str]
) -> None:
    fake_moderation.flag("needle", *flagged)
    hosted = client(fake_moderation)
    try:
        verdict = await hosted.classify("a needle in a haystack")
        clean = await hosted.classify("a haystack")
    finally:
        await hosted.close()
    assert verdict.flagged == ours
    assert clean.flagged == frozenset()
    for category in ours:
        assert verdict.scores[category] == pytest.approx(0.93)


@pytest.mark.parametrize(
    ("mode", "said"),
    [("429", "429"), ("500", "HTTP 500"), ("not_json", "not JSON"), ("no_results", "results")],
)
async def test_a_service_fault_is_one_line_never_a_verdict(
    fake_moderation: FakeModeration, mode: str, said: str
) -> None:
    fake_moderation.mode = mode
    hosted = client(fake_moderation)
    try:
        with pytest.raises(ClassifierUnavailable, match=said) as caught:
            await hosted.classify("a lighthouse")
    finally:
        await hosted.close()
    assert "\n" not in str(caught.value)


async def test_a_service_that_never_answers_times_out(fake_moderation: FakeModeration) -> None:
    fake_moderation.mode = "hang"
    hosted = client(fake_moderation, timeout_s=0.3)
    started = time.monotonic()
    try:
        with pytest.raises(ClassifierUnavailable, match=r"within 0\.3 s"):
            await hosted.classify("a lighthouse")
    finally:
        await hosted.close()
    assert 0.25 < time.monotonic() - started < 3


async def test_nothing_listens_is_a_fault_too() -> None:
    hosted = HostedModeration(api_key="k", base_url="http://127.0.0.1:9/v1", timeout_s=2)
    try:
        with pytest.raises(ClassifierUnavailable, match="moderation API"):
            await hosted.classify("a lighthouse")
    finally:
        await hosted.close()
