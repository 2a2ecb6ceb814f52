"""The local layer through the real Core: a tiny real classifier loaded from a folder, off the loop."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.core import Core
from bot.moderation import Moderation
from tests.bot.test_core import TINY, Recorder
from tests.bot.test_layers import ANN, BEN, CANNOT_CHECK, MOD1, is_refused
from tests.tiny_textcheck import build_text_classifier


async def test_a_server_that_chose_the_local_layer_is_checked_by_it(
    make_settings: Callable[..., Any], tmp_path: Path
) -> None:
    folder = build_text_classifier(tmp_path / "clf", {"safe": 0.9, "violence": 0.7, "sexual/minors": 0.1})
    core = Core(make_settings(local_classifier=str(folder), local_classifier_threshold=0.6), Recorder())
    await core.start()
    try:
        assert (await Moderation(core).classifier(MOD1, "local")).event == "info"
        # The loop keeps turning while the model loads and runs on its own thread.
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)

        ticker = asyncio.create_task(tick())
        first = await core.layers.classifiers["local"].classify("a storm")  # loads the model
        ticker.cancel()
        assert first.flagged == {"violence"} and ticks > 100

        answer = await core.submit(ANN, "a lighthouse at dawn", TINY)
        is_refused(answer, "violence")  # 0.7 >= 0.6: every prompt reads as violence to this model
        assert answer.data["layer"] == "local"
        assert (await core.submit(BEN, "a lighthouse at dawn", TINY)).event == "queued"  # g2: lists

        started = time.perf_counter()
        for _ in range(20):
            await core.layers.classifiers["local"].classify("a storm at dawn")
        per_check_ms = (time.perf_counter() - started) / 20 * 1000
        print(f"local tiny classifier: {per_check_ms:.2f} ms per check")
    finally:
        await core.close()


async def test_a_threshold_above_the_score_admits(make_settings: Callable[..., Any], tmp_path: Path) -> None:
    folder = build_text_classifier(tmp_path / "clf", {"violence": 0.7})
    core = Core(
        make_settings(local_classifier=str(folder), local_classifier_threshold=0.8, classifier="local"),
        Recorder(),
    )
    await core.start()
    try:
        assert (await core.submit(ANN, "a lighthouse at dawn", TINY)).event == "queued"
    finally:
        await core.close()


async def test_missing_weights_fail_closed_with_one_log_line(
    make_settings: Callable[..., Any], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    core = Core(make_settings(local_classifier=str(tmp_path / "absent"), classifier="local"), Recorder())
    await core.start()
    try:
        with caplog.at_level(logging.WARNING, logger="bot.policy.layers"):
            for _ in range(3):
                answer = await core.submit(ANN, "a lighthouse at dawn", TINY)
                is_refused(answer, None, reason="unchecked")
                assert answer.text == CANNOT_CHECK
    finally:
        await core.close()
    lines = [r.getMessage() for r in caplog.records if r.name == "bot.policy.layers"]
    assert len(lines) == 1 and "absent" in lines[0] and "PROMPTREEL_LOCAL_CLASSIFIER" in lines[0]
