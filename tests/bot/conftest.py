"""Shared fixtures for the chat-side tests: one tiny model per session, isolated settings.

The tiny model is built once per session into a shared folder (`tiny_models_dir`); every Core,
worker and console subprocess loads it from there, the way a real worker loads weights. Settings
never read `.env` or the developer's own `PROMPTREEL_*` variables.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def renderer(tiny_models_dir: Path) -> Any:
    """One warm tiny Renderer shared by the in-process tests (workers take it as `renderer=`)."""
    from bot.config import Settings
    from engine.render import Renderer

    return Renderer(Settings(_env_file=None, models_dir=tiny_models_dir, device="cpu"), "tiny")


@pytest.fixture
def make_settings(tmp_path: Path, tiny_models_dir: Path) -> Callable[..., Any]:
    """`make_settings(**overrides)`: bot Settings rooted in this test's tmp_path, no worker thread."""
    from bot.config import Settings

    def make(**overrides: Any) -> Any:
        values: dict[str, Any] = {
            "data_dir": tmp_path,
            "models_dir": tiny_models_dir,
            "model": "tiny",
            "device": "cpu",
            "in_process_worker": False,
            "rate_burst": 50,
            "rate_per_minute": 60.0,
            "max_waiting_per_user": 50,
            "max_waiting_per_guild": 1000,
            "max_queue": 1000,
        }
        values.update(overrides)
        return Settings(_env_file=None, **values)

    return make
