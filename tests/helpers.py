"""Helpers shared by every test folder (plain functions; the fixtures are in the conftest.py files)."""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import sqlite3
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import imageio_ffmpeg
import numpy as np
import pytest

from engine.settings import EngineSettings

S = TypeVar("S", bound=EngineSettings)

# What every suite's settings share: the built-in tiny model on the CPU, never the hub, and none
# of the options that change the output or the memory use.
TEST_DEFAULTS: dict[str, Any] = {
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


def isolated_settings(cls: type[S], **values: Any) -> S:
    """`cls` (EngineSettings or bot.config.Settings) from TEST_DEFAULTS and `values` only.

    `.env` is never read; `PROMPTREEL_*` / `DISCORD_*` variables are removed for the whole run by
    the autouse fixture in tests/conftest.py. Each folder's `make_settings` adds what it needs.
    """
    return cls(_env_file=None, **{**TEST_DEFAULTS, **values})


REPO = Path(__file__).resolve().parents[1]


def child_env(**values: str) -> dict[str, str]:
    """The environment for a subprocess under test: this one without `PROMPTREEL_*` / `DISCORD_*`,
    this checkout first on the import path (a subprocess started in a temporary folder would
    otherwise import whatever copy is installed), torch's OpenMP on one thread (as
    `_one_torch_thread` does in-process), then `values`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PROMPTREEL_", "DISCORD_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [env.get("PYTHONPATH")])])
    # The tiny model gains nothing from threads; on shared CI cores their spin-waits cost a lot.
    env["OMP_NUM_THREADS"] = "1"
    env.update(values)
    return env


def decode_video(path: str | Path) -> tuple[np.ndarray, dict[str, Any]]:
    """Every frame of a clip as ffmpeg decodes it, as (F, H, W, 3) uint8, and ffmpeg's metadata.

    `-fps_mode passthrough`: ffmpeg neither duplicates nor drops a frame, so `len(frames)` is
    the number of frames in the file. `meta` has `size` (width, height), `codec`, `pix_fmt`, `fps`.
    """
    reader = imageio_ffmpeg.read_frames(str(path), output_params=["-fps_mode", "passthrough"])
    meta = next(reader)
    width, height = meta["size"]
    frames = [np.frombuffer(buf, np.uint8).reshape(height, width, 3) for buf in reader]
    return (np.stack(frames) if frames else np.empty((0, height, width, 3), np.uint8)), meta


# --- storage faults: real locks, real full disks, real unwritable folders --------------------------


class WriteLock:
    """Another connection holding the journal's write lock (BEGIN IMMEDIATE) until `release()`.

    What a second process does mid-write: readers carry on (WAL), every writer waits for the
    busy timeout and then fails with "database is locked". `fresh=True` first makes `path` an
    empty WAL file (user_version 0), like a process that is still creating the journal.
    """

    def __init__(self, path: Path, *, fresh: bool = False) -> None:
        self.released = False
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        if fresh:
            self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("BEGIN IMMEDIATE")

    def release(self) -> None:
        """Let writers through (again harmless)."""
        if self.released:
            return
        self.released = True
        self.conn.execute("ROLLBACK")
        self.conn.close()

    def __enter__(self) -> WriteLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class LogWatch(logging.Handler):
    """Every record a logger (and its children) emits, from any thread, and a way to wait for some.

    `with LogWatch("engine.worker") as logs: ...; logs.wait_for(lambda rs: ..., timeout=30)`.
    """

    def __init__(self, name: str, level: int = logging.DEBUG) -> None:
        super().__init__(level)
        self.logger = logging.getLogger(name)
        self.records: list[logging.LogRecord] = []
        self._changed = threading.Condition()

    def emit(self, record: logging.LogRecord) -> None:
        with self._changed:
            self.records.append(record)
            self._changed.notify_all()

    def lines(self, level: int = logging.DEBUG, containing: str = "", *, exactly: bool = False) -> list[str]:
        """Messages at `level` or above (only at `level` with `exactly`) that contain `containing`."""
        with self._changed:
            found = [
                r
                for r in self.records
                if (r.levelno == level if exactly else r.levelno >= level) and containing in r.getMessage()
            ]
        return [r.getMessage() for r in found]

    def wait_for(self, ready: Callable[[LogWatch], bool], timeout: float) -> bool:
        """Block until `ready(self)` holds (checked on every record), or `timeout` seconds pass."""
        with self._changed:
            return self._changed.wait_for(lambda: ready(self), timeout)

    def __enter__(self) -> LogWatch:
        self._level = self.logger.level
        self.logger.setLevel(min(self.level, self.logger.getEffectiveLevel()))
        self.logger.addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        self.logger.removeHandler(self)
        self.logger.setLevel(self._level)


def _mount(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["mount", *args], capture_output=True, text=True, timeout=30)


def _umount(path: Path) -> None:
    if subprocess.run(["umount", str(path)], capture_output=True, timeout=30).returncode != 0:
        # Still in use (a file left open by a failed test): detach it now, free it when closed.
        subprocess.run(["umount", "--lazy", str(path)], capture_output=True, timeout=30, check=True)


class SmallDisk:
    """A real file system of `size_kib` (tmpfs), which a test fills to the last byte and frees.

    Needs the right to mount (root in a container that allows it); without it the test is skipped.
    """

    def __init__(self, path: Path, size_kib: int) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        proc = _mount("-t", "tmpfs", "-o", f"size={size_kib}k", "tmpfs", str(path))
        if proc.returncode != 0:
            pytest.skip(f"a small disk needs mount privileges: {proc.stderr.strip()}")
        self._ballast = path / "ballast"

    def fill(self) -> None:
        """Write a file until the disk refuses another byte (ENOSPC)."""
        with self._ballast.open("ab", buffering=0) as out:
            for chunk in (1 << 16, 1 << 10, 1):
                try:
                    while True:
                        out.write(b"\0" * chunk)
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC, exc

    def free(self) -> None:
        self._ballast.unlink(missing_ok=True)

    def close(self) -> None:
        _umount(self.path)


@contextlib.contextmanager
def read_only_mount(folder: Path) -> Iterator[Path]:
    """`folder` bind-mounted onto itself read-only: writing fails with EROFS, even for root.

    Skips the test where mounting is not allowed.
    """
    folder.mkdir(parents=True, exist_ok=True)
    proc = _mount("--bind", "-o", "ro", str(folder), str(folder))
    if proc.returncode != 0:
        pytest.skip(f"a read-only folder for root needs mount privileges: {proc.stderr.strip()}")
    try:
        with contextlib.suppress(OSError):
            (folder / ".probe").touch()
            pytest.fail("the read-only mount still takes files")
        yield folder
    finally:
        _umount(folder)


def run_until_idle(worker: Any, timeout: float = 120) -> None:
    """`worker.run(exit_when_idle=True)` on a thread, but a worker that never goes idle fails the
    test (after stopping it), and an exception inside it is raised here."""
    import threading

    import pytest

    errors: list[BaseException] = []

    def run() -> None:
        try:
            worker.run(exit_when_idle=True)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        worker.stop.set()
        thread.join(30)
        pytest.fail(f"worker still busy after {timeout:.0f} s: a job never left the queue")
    if errors:
        raise errors[0]
