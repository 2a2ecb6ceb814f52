"""Shared fixtures for the engine tests: a warm tiny Renderer per session, and isolated settings.

The tiny model is built and saved once (`tiny_models_dir`, tests/conftest.py); everything else
loads it from disk, the way a worker does. Settings come from `tests.helpers.isolated_settings`:
explicit values only, `.env` ignored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
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


# --- a worker on this test's journal -------------------------------------------------------------


@pytest.fixture
def settings(
    make_settings: Callable[..., Any], tiny_models_dir: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> Any:
    """Worker settings on this test's data dir and the tiny model; a module adds its own values
    with a `WORKER_SETTINGS` dict (e.g. `max_batch`, short storage timeouts)."""
    return make_settings(
        data_dir=tmp_path / "data",
        models_dir=tiny_models_dir,
        lease_seconds=30.0,
        max_attempts=3,
        progress_interval_seconds=0.0,
        **getattr(request.module, "WORKER_SETTINGS", {}),
    )


@pytest.fixture
def db(settings: Any) -> Iterator[Any]:
    """The test's own connection to the worker's database, on real time."""
    from engine.journal import Journal

    journal = Journal(settings.resolved_db_path, lease_seconds=settings.lease_seconds)
    yield journal
    journal.close()


@pytest.fixture
def make_worker(settings: Any, tiny_renderer: Any) -> Iterator[Callable[..., Any]]:
    """`make_worker(**kwargs)`: a `Worker` on the test's journal with the warm tiny renderer,
    stopped and closed at teardown."""
    from engine.worker import Worker

    made: list[Any] = []

    def make(**kwargs: Any) -> Any:
        kwargs.setdefault("renderer", tiny_renderer)
        kwargs.setdefault("name", "w-test")
        kwargs.setdefault("idle_poll", 0.05)
        worker = Worker(kwargs.pop("settings", settings), **kwargs)
        made.append(worker)
        return worker

    yield make
    for worker in made:
        worker.stop.set()
        worker.journal.close()
