"""What every part of the journal shares: its connection, clock and limits, and a transaction."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any

from engine.journal.connection import transaction
from engine.journal.jobs import Job


class JournalBase:
    """The state the journal's parts (queue, claims, deliveries, ...) read; see `Journal`."""

    conn: sqlite3.Connection
    clock: Callable[[], float]
    lease_seconds: float
    max_attempts: int
    # Who this connection is, as the owner of the replies it sends (host, process, instance).
    name: str
    delivery_lease_seconds: float

    def atomic(self) -> AbstractContextManager[sqlite3.Connection]:
        """Several journal calls in one write transaction: all of them happen, or none."""
        return transaction(self.conn)

    def _jobs(self, where: str, params: Sequence[Any] = (), tail: str = "ORDER BY id") -> list[Job]:
        rows = self.conn.execute(f"SELECT * FROM jobs WHERE {where} {tail}", params).fetchall()
        return [Job.from_row(r) for r in rows]
