"""Fixtures shared by the whole suite: a controllable clock and a journal on a real SQLite file.

The tiny model is built once per session here and shared by every folder's tests; settings
fixtures, which differ between the engine and the bot, live in each folder's conftest.py.
No test sees the developer's own `PROMPTREEL_*` / `DISCORD_*` variables (`_clean_env`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest


class Clock:
    """A clock tests move by hand: `Journal(..., clock=clock)`, then `clock.advance(61)`."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def journal_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "promptreel.db"


@pytest.fixture
def open_journal(journal_path: Path, clock: Clock) -> Iterator[Callable[..., Any]]:
    """`open_journal(**kwargs)`: a Journal on this test's database file, closed at teardown.

    Defaults to the test's `clock`, a 30 s lease and 3 attempts; each call opens a new
    connection, which is how a second process or a restarted bot sees the same file.
    """
    from engine.journal import Journal

    opened: list[Any] = []

    def open_(**kwargs: Any) -> Any:
        kwargs.setdefault("clock", clock)
        kwargs.setdefault("lease_seconds", 30.0)
        kwargs.setdefault("max_attempts", 3)
        journal = Journal(kwargs.pop("path", journal_path), **kwargs)
        opened.append(journal)
        return journal

    yield open_
    for journal in opened:
        journal.close()


@pytest.fixture
def journal(open_journal: Callable[..., Any]) -> Any:
    return open_journal()


@pytest.fixture(scope="session", autouse=True)
def _clean_env() -> Iterator[None]:
    """No `PROMPTREEL_*` or `DISCORD_*` variable from the developer's shell reaches a test.

    Session-wide, so the session- and module-scoped fixtures (the shared renderers, the CLI and
    console runs) see the clean environment too; a test that needs a variable sets it itself
    with `monkeypatch.setenv`.
    """
    with pytest.MonkeyPatch.context() as mp:
        for name in list(os.environ):
            if name.startswith(("PROMPTREEL_", "DISCORD_")):
                mp.delenv(name)
        yield


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """Torch on one intra-op thread for the whole run.

    The tiny models' ops take microseconds, so more threads only add overhead; and on a CI box
    whose cores are shared, OpenMP threads spin-waiting on each other make renders many times
    slower. The event loop of the bots under test also keeps a core this way.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A models dir holding the tiny model, built and saved once for the whole session."""
    from engine.tiny import ensure_tiny_model

    models_dir = tmp_path_factory.mktemp("models")
    ensure_tiny_model(models_dir / "tiny")
    return models_dir


def pytest_configure(config: pytest.Config) -> None:
    """`kill -USR1 <pytest pid>` writes every asyncio task's stack and every thread's to
    `$TMPDIR/promptreel-tasks.txt`: a hung async test shows where it waits."""
    import faulthandler
    import signal
    import tempfile

    def dump(signum: int, frame: Any) -> None:
        import asyncio

        with open(Path(tempfile.gettempdir()) / "promptreel-tasks.txt", "a") as out:
            try:
                tasks = asyncio.all_tasks(asyncio.get_running_loop())
            except RuntimeError:
                tasks = set()
            for task in tasks:
                out.write(f"{task!r}\n")
                coro: Any = task.get_coro()
                while coro is not None:  # the await chain, which print_stack leaves out
                    frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
                    if frame is not None:
                        out.write(f"  {frame.f_code.co_filename}:{frame.f_lineno} {frame.f_code.co_name}\n")
                    coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
                    if coro is not None and not hasattr(coro, "cr_frame") and not hasattr(coro, "gi_frame"):
                        out.write(f"  awaiting {coro!r}\n")
                        break
            out.flush()
            faulthandler.dump_traceback(out, all_threads=True)

    if hasattr(signal, "SIGUSR1"):
        signal.signal(signal.SIGUSR1, dump)
