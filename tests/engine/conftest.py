"""Shared fixtures for the engine tests: a warm tiny Renderer per session, and isolated settings.

The tiny model is built and saved once (`tiny_models_dir`, tests/conftest.py); everything else
loads it from disk, the way a worker does. Settings come from `tests.helpers.isolated_settings`:
explicit values only, `.env` ignored.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from engine.settings import EngineSettings
from tests.helpers import isolated_settings


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., EngineSettings]:
    """`make_settings(**overrides)`: EngineSettings rooted in this test's tmp_path (models too)."""

    def make(**overrides: Any) -> EngineSettings:
        return isolated_settings(EngineSettings, **{"data_dir": tmp_path, **overrides})

    return make


@pytest.fixture(scope="session")
def tiny_renderer(tiny_models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A warm Renderer for the tiny preset, loaded from the session's saved model."""
    from engine.render import Renderer

    settings = isolated_settings(
        EngineSettings, data_dir=tmp_path_factory.mktemp("data"), models_dir=tiny_models_dir
    )
    return Renderer(settings, "tiny")
