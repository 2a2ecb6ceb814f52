"""`Journal`: one connection to the journal file, with every statement the project runs on it."""

from __future__ import annotations

import os
import secrets
import socket
import time
from collections.abc import Callable
from pathlib import Path

from engine.journal.audit import Audit
from engine.journal.claims import Claims
from engine.journal.connection import BUSY_TIMEOUT_S
from engine.journal.deliveries import Deliveries
from engine.journal.fair import Fair
from engine.journal.held import Held
from engine.journal.observe import Observe
from engine.journal.posts import Posts
from engine.journal.prints import Prints
from engine.journal.privacy import Privacy
from engine.journal.queue import Queue
from engine.journal.schema import connect
from engine.journal.servers import Servers


class Journal(Queue, Claims, Deliveries, Held, Fair, Servers, Audit, Observe, Privacy, Prints, Posts):
    """Synchronous, on the thread that opened it; the event loop uses `AsyncJournal`."""

    def __init__(
        self,
        path: Path | str,
        *,
        lease_seconds: float = 60.0,
        max_attempts: int = 3,
        clock: Callable[[], float] = time.time,
        delivery_lease_seconds: float = 30.0,
        name: str | None = None,
        busy_timeout: float = BUSY_TIMEOUT_S,
    ) -> None:
        """Opens (and migrates) the file; raises `JournalError` when it cannot be used at all.

        `busy_timeout`: seconds a write waits for another process's lock before it fails.
        """
        self.path = Path(path)
        self.conn = connect(self.path, busy_timeout=busy_timeout)
        self.lease_seconds = lease_seconds
        self.max_attempts = max_attempts
        self.clock = clock
        self.delivery_lease_seconds = delivery_lease_seconds
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"

    def checkpoint(self) -> None:
        """Fold the write-ahead log into the database file now rather than at some later commit."""
        self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        self.conn.close()
