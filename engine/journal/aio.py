"""The journal for the event loop: every call runs on the journal's own thread.

The loop never touches SQLite directly, so a slow disk or a lock held by another process can
stall a journal call but never the bot.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from engine.journal.connection import open_connection
from engine.journal.store import Journal

T = TypeVar("T")
log = logging.getLogger(__name__)
CHECKPOINT_EVERY_S = 1.0


class DbThread:
    """Runs blocking database work on one dedicated thread and lets the event loop await it."""

    def __init__(self, factory: Callable[[], Any]) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="promptreel-db")
        # Built on the thread that will use it, so the connection never changes threads.
        self._obj: Any = self._executor.submit(factory).result()

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, partial(fn, *args, **kwargs))

    @property
    def obj(self) -> Any:
        return self._obj

    def close(self) -> None:
        close = getattr(self._obj, "close", None)
        if close is not None:
            self._executor.submit(close).result()
        self._executor.shutdown(wait=True)


class Checkpointer:
    """Folds the write-ahead log into the database on a thread and connection of its own.

    Left to SQLite, the commit that crosses the log's size limit does the checkpoint, so every
    thousandth answer to a member waited several milliseconds for disk work. A passive
    checkpoint here takes no lock that writers wait for, and keeps the log small enough that
    the commits' own checkpoints rarely run.
    """

    def __init__(self, path: Path | str, every_s: float = CHECKPOINT_EVERY_S) -> None:
        self.path = path
        self.every_s = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="promptreel-checkpoint", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        conn = open_connection(self.path)
        failing = False
        try:
            while not self._stop.wait(self.every_s):
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                    failing = False
                except sqlite3.Error as exc:  # the next commit checkpoints instead; say so once
                    if not failing:
                        log.warning("journal checkpoint failed (%s); retrying", exc)
                    failing = True
        finally:
            conn.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


class AsyncJournal:
    """The same methods as `Journal`, awaited."""

    def __init__(self, path: Path | str, *, checkpoint: bool = True, **kwargs: Any) -> None:
        self._thread = DbThread(lambda: Journal(path, **kwargs))
        self.sync: Journal = self._thread.obj
        self._checkpointer = Checkpointer(path) if checkpoint else None

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self.sync, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            return await self._thread.call(method, *args, **kwargs)

        return call

    async def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run `fn(journal, ...)` on the journal's thread, for work that spans several calls."""
        return await self._thread.call(fn, self.sync, *args, **kwargs)

    async def close(self) -> None:
        if self._checkpointer is not None:
            await asyncio.to_thread(self._checkpointer.stop)
        self._thread.close()
