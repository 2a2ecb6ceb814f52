"""Journal calls a worker makes while the disk may be full or another process holds the lock.

A storage fault is the machine's, not the job's: a write that has to happen is waited out with
growing pauses, however long (`must`), and one that can be skipped (a progress step, a check)
is skipped, and not even tried again until the next retry is due, so a render is not slowed by
a busy timeout at every step (`may`). Each fault is logged once when it starts and once when it
ends (`Episodes`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from engine.journal import is_storage_fault
from engine.storage import Episodes

T = TypeVar("T")


class Stopping(Exception):
    """The worker was asked to stop while it waited for storage to work again."""


class Patience:
    def __init__(self, faults: Episodes, stop: threading.Event, db_path: Path) -> None:
        self.faults = faults
        self.stop = stop
        self.db_path = db_path
        self._next_try = 0.0  # while the journal fails: when a skippable write is tried again

    def trouble(self, exc: BaseException) -> str:
        return f"journal {self.db_path} cannot be written ({exc})"

    def failed(self, exc: BaseException) -> float:
        """Count a fault; the pause before the next try."""
        wait = self.faults.failed("journal", self.trouble(exc))
        self._next_try = time.monotonic() + wait
        return wait

    def worked(self) -> None:
        self.faults.worked("journal", f"journal {self.db_path} can be written")

    def must(
        self, write: Callable[[], T], *, on_first_fault: Callable[[BaseException], None] | None = None
    ) -> T:
        """`write()`, tried until no storage fault stops it; `Stopping` if the worker stops
        meanwhile. `on_first_fault(exc)`: told once, so whoever waits hears of the delay."""
        told = False
        while True:
            try:
                result = write()
            except Exception as exc:
                if not is_storage_fault(exc):
                    raise
                wait = self.failed(exc)
                if on_first_fault is not None and not told:
                    told = True
                    on_first_fault(exc)
                if self.stop.wait(wait):
                    raise Stopping() from exc
                continue
            self.worked()
            return result

    def may(self, call: Callable[[], T], otherwise: T, *, writes: bool = True) -> T:
        """`call()`, or `otherwise` on a storage fault (or while one is being waited out).

        Only a write that went through ends a fault: reads work under another's lock.
        """
        if writes and self.faults.failing("journal") and time.monotonic() < self._next_try:
            return otherwise
        try:
            result = call()
        except Exception as exc:
            if not is_storage_fault(exc):
                raise
            self.failed(exc)
            return otherwise
        if writes:
            self.worked()
        return result
