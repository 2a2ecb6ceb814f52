"""Shared fixtures for the engine tests: one tiny model built per session, and isolated settings.

The tiny model is built and saved once (`tiny_models_dir`); everything else loads it from disk,
the way a worker does. Settings are always built from explicit values with `.env` ignored, so a
developer's own `PROMPTREEL_*` environment cannot leak into a test.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest


def _isolated_settings(data_dir: Path, **overrides: Any) -> Any:
    from engine.settings import EngineSettings

    values: dict[str, Any] = {
        "data_dir": data_dir,
        "models_dir": None,
        "model": "tiny",
        "model_path": None,
        "offline": True,
        "device": "cpu",
        "dtype": "auto",
        "cpu_offload": False,
        "vae_tiling": False,
        "vae_slicing": False,
        "attention_backend": None,
        "first_block_cache": 0.0,
        "compile": False,
    }
    values.update(overrides)
    return EngineSettings(_env_file=None, **values)


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Any]:
    """`make_settings(**overrides)`: EngineSettings rooted in this test's tmp_path."""

    def make(**overrides: Any) -> Any:
        overrides.setdefault("data_dir", tmp_path)
        return _isolated_settings(**overrides)

    return make


@pytest.fixture(scope="session")
def tiny_renderer(tiny_models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A warm Renderer for the tiny preset, loaded from the session's saved model."""
    from engine.render import Renderer

    settings = _isolated_settings(tmp_path_factory.mktemp("data"), models_dir=tiny_models_dir)
    return Renderer(settings, "tiny")
