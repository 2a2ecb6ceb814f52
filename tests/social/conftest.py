"""Fixtures for the social networks' tests: settings, the loopback fakes, a running bot.

`make_settings` roots everything in this test's tmp_path with the tiny model and a worker
thread; polls are frequent so a mention is picked up quickly (tests still wait on what the
fake saw, never on time). `run_bot(settings, *adapters)` is the real Core serving them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from bot.core import Core
from tests.fakediscord.fixtures import fake_discord
from tests.helpers import isolated_settings
from tests.social.fakemastodon import FakeMastodon

__all__ = ["fake_discord"]

TINY_FLAGS = "--frames 3 --steps 1 --width 32 --height 32"


@pytest.fixture
def make_settings(tmp_path: Path, tiny_models_dir: Path) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "data_dir": tmp_path / "data",
            "models_dir": tiny_models_dir,
            "offline": False,
            "in_process_worker": True,
            "rate_burst": 50,
            "rate_per_minute": 60.0,
            "max_waiting_per_user": 50,
            "max_waiting_per_guild": 1000,
            "social_poll_seconds": 0.1,
            "social_media_poll_seconds": 0.02,
            "social_deleted_check_seconds": 0.0,
            "delivery_lease_seconds": 1.0,
        }
        return isolated_settings(Settings, **{**values, **overrides})

    return make


@pytest.fixture
async def fake_mastodon() -> AsyncIterator[FakeMastodon]:
    fake = FakeMastodon()
    await fake.start()
    yield fake
    await fake.stop()


@contextlib.asynccontextmanager
async def run_bot(settings: Settings, *adapters: Any, grace: float = 30.0) -> AsyncIterator[Core]:
    """The real Core serving `adapters`, started and closed like `python -m bot` does."""
    core = Core(settings, adapters[0], also=adapters[1:])
    await core.start()
    for dispatcher in core.dispatchers.values():
        dispatcher.stop_grace = grace
    try:
        yield core
    finally:
        await asyncio.wait_for(core.close(), 60)


@pytest.fixture
async def fake_bluesky() -> AsyncIterator[Any]:
    from tests.social.fakebluesky import FakeBluesky

    fake = FakeBluesky()
    await fake.start()
    yield fake
    await fake.stop()
