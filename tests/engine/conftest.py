"""Shared fixtures for the engine tests: one tiny model built per session, and isolated settings.

The tiny model is built and saved once (`tiny_models_dir`); everything else loads it from disk,
the way a worker does. Settings are always built from explicit values with `.env` ignored, so a
developer's own `PROMPTREEL_*` environment cannot leak into a test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
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


@pytest.fixture
def single_thread() -> Iterator[None]:
    """Run torch on one intra-op thread for the duration of a test.

    The tiny model's ops take microseconds, so extra threads only add overhead; and on a CI box
    whose cores are shared with other jobs, OpenMP threads spin-waiting on each other make a
    render some 20x slower. Restored afterwards so other tests see torch's default.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_renderer(tiny_models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A warm Renderer for the tiny preset, loaded from the session's saved model."""
    from engine.render import Renderer

    settings = _isolated_settings(tmp_path_factory.mktemp("data"), models_dir=tiny_models_dir)
    return Renderer(settings, "tiny")
