"""The journal for the event loop: every call runs on the journal's own thread.

The loop never touches SQLite directly, so a slow disk or a lock held by another process can
stall a journal call but never the bot. That includes opening (and migrating) the file and
closing it: `await AsyncJournal.open(...)` and `await journal.close()` wait off the loop.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
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
        self._made = self._executor.submit(factory)
        self._obj: Any = None

    def wait_built(self) -> Any:
        """Block until the object is built (for callers outside the event loop)."""
        try:
            self._obj = self._made.result()
        except BaseException:
            self._executor.shutdown(wait=False)
            raise
        return self._obj

    async def built(self) -> Any:
        """Wait, off the loop, until the object is built."""
        try:
            self._obj = await asyncio.wrap_future(self._made)
        except BaseException:
            # Given up on (cancelled) or failed: whatever the thread still builds is closed.
            self._made.add_done_callback(_close_result)
            self._executor.shutdown(wait=False)
            raise
        return self._obj

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        # The caller's context variables go along, as with asyncio.to_thread: work done on the
        # journal's thread for a request (the sentences of a refusal) sees that request's language.
        context = contextvars.copy_context()
        return await loop.run_in_executor(self._executor, partial(context.run, fn, *args, **kwargs))

    @property
    def obj(self) -> Any:
        return self._obj

    async def close(self) -> None:
        """Close the object after every call already waiting on the thread, without blocking the loop."""
        close = getattr(self._obj, "close", None)
        if close is not None:
            await self.call(close)
        await asyncio.to_thread(self._executor.shutdown, wait=True)


def _close_result(future: Future[Any]) -> None:
    if not future.cancelled() and future.exception() is None:
        close = getattr(future.result(), "close", None)
        if close is not None:
            close()


class Checkpointer:
    """Folds the write-ahead log into the database on a thread and connection of its own.

    Left to SQLite, the commit that crosses the log's size limit does the checkpoint, so every
    thousandth answer to a member waited several milliseconds for disk work. A passive
    checkpoint here takes no lock that writers wait for, and keeps the log small enough that
    the commits' own checkpoints rarely run.
    """

    def __init__(self, path: Path | str, every_s: float = CHECKPOINT_EVERY_S, **connection: Any) -> None:
        self.path = path
        self.every_s = every_s
        self._connection = connection
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="promptreel-checkpoint", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            conn = open_connection(self.path, **self._connection)
        except (sqlite3.Error, OSError) as exc:  # commits checkpoint by themselves meanwhile
            log.warning(
                "journal checkpointer could not open %s (%s); commits will checkpoint", self.path, exc
            )
            return
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
    """The same methods as `Journal`, awaited.

    On the event loop, make one with `await AsyncJournal.open(path, ...)`: opening can wait for
    a lock or run migrations, and must not stall the loop. The plain constructor blocks until
    the journal is open, for code that runs outside a loop.
    """

    def __init__(self, path: Path | str, *, checkpoint: bool = True, **kwargs: Any) -> None:
        self._begin(path, kwargs, checkpoint)
        self._finish(self._thread.wait_built())

    @classmethod
    async def open(cls, path: Path | str, *, checkpoint: bool = True, **kwargs: Any) -> AsyncJournal:
        """Open (and migrate) the journal on its own thread while the loop carries on.

        Raises what `Journal` raises: `JournalError` when the file cannot be used, a lock
        fault (`engine.journal.is_lock_fault`) when another process held the lock too long.
        """
        self = cls.__new__(cls)
        self._begin(path, kwargs, checkpoint)
        self._finish(await self._thread.built())
        return self

    def _begin(self, path: Path | str, kwargs: dict[str, Any], checkpoint: bool) -> None:
        self.path = Path(path)
        self._thread = DbThread(lambda: Journal(path, **kwargs))
        self._busy_timeout = kwargs.get("busy_timeout")
        self._checkpoint = checkpoint
        self._closed = False

    def _finish(self, journal: Journal) -> None:
        self.sync: Journal = journal
        extra = {} if self._busy_timeout is None else {"busy_timeout": self._busy_timeout}
        self._checkpointer = Checkpointer(self.path, **extra) if self._checkpoint else None

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("_") or name in ("sync", "path"):
            raise AttributeError(name)  # not set up yet: never look it up on `sync`
        method = getattr(self.sync, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            return await self._thread.call(method, *args, **kwargs)

        return call

    async def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run `fn(journal, ...)` on the journal's thread, for work that spans several calls."""
        return await self._thread.call(fn, self.sync, *args, **kwargs)

    async def close(self) -> None:
        """Stop the checkpointer, then close the connection after the calls still waiting; off the loop.

        Closing twice is harmless (a bot that failed to start is closed by its starter too).
        """
        if self._closed:
            return
        self._closed = True
        if self._checkpointer is not None:
            await asyncio.to_thread(self._checkpointer.stop)
        await self._thread.close()
