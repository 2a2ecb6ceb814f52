"""Shared fixtures for the chat-side tests: one warm tiny Renderer per session, isolated settings.

The tiny model is built once per session into a shared folder (`tiny_models_dir`); every Core,
worker and console subprocess loads it from there, the way a real worker loads weights. Settings
come from `tests.helpers.isolated_settings`: explicit values only, `.env` ignored.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from tests.helpers import isolated_settings


@pytest.fixture(scope="session")
def renderer(tiny_models_dir: Path) -> Any:
    """One warm tiny Renderer shared by the in-process tests (workers take it as `renderer=`)."""
    from engine.render import Renderer

    # offline=False as these tests always had it; the tiny model loads from models_dir either way.
    return Renderer(isolated_settings(Settings, models_dir=tiny_models_dir, offline=False), "tiny")


@pytest.fixture
def make_settings(tmp_path: Path, tiny_models_dir: Path) -> Callable[..., Settings]:
    """`make_settings(**overrides)`: bot Settings rooted in this test's tmp_path, no worker thread."""

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "data_dir": tmp_path,
            "models_dir": tiny_models_dir,
            "offline": False,  # as above
            "in_process_worker": False,
            "rate_burst": 50,
            "rate_per_minute": 60.0,
            "max_waiting_per_user": 50,
            "max_waiting_per_guild": 1000,
            "max_queue": 1000,
        }
        return isolated_settings(Settings, **{**values, **overrides})

    return make


@pytest.fixture
async def fake_moderation() -> Any:
    """A started loopback fake of OpenAI's moderation endpoint (`tests/bot/fake_moderation.py`)."""
    from tests.bot.fake_moderation import FakeModeration

    fake = await FakeModeration().start()
    yield fake
    await fake.stop()
