"""Replies owed to requesters: recorded before and after each is sent.

A restart reads which replies are owed ('pending') and which may already be out ('sending'),
so a reply is never lost and an adapter can look for an earlier one before sending again.
"""

from __future__ import annotations

import json
from typing import Any

from engine.journal.base import JournalBase
from engine.journal.jobs import Job


class Deliveries(JournalBase):
    def deliverable(self, adapter: str, *, include_sending: bool = False) -> list[Job]:
        """Jobs whose requester is owed a reply now; 'sending' ones only after a restart."""
        states = "('pending', 'sending')" if include_sending else "('pending')"
        return self._jobs(
            f"adapter = ? AND delivery IN {states} AND COALESCE(delivery_after, 0) <= ?",
            (adapter, self.clock()),
        )

    def begin_delivery(self, job_id: int, *, seen_attempts: int | None = None) -> bool:
        """Record that a reply is about to go out; False if another sender already took it.

        A sender passes the `delivery_attempts` it read with the job: of two senders (two bot
        processes on one file) that read the same row, only the first to begin wins.
        """
        fence = "" if seen_attempts is None else " AND delivery_attempts = ?"
        with self.atomic():
            cur = self.conn.execute(
                "UPDATE jobs SET delivery = 'sending', delivery_attempts = delivery_attempts + 1"
                f" WHERE id = ? AND delivery IN ('pending', 'sending'){fence}",
                (job_id,) if seen_attempts is None else (job_id, seen_attempts),
            )
        return cur.rowcount == 1

    def finish_delivery(self, job_id: int, **reply: Any) -> None:
        now = self.clock()
        with self.atomic():
            row = self.conn.execute("SELECT reply FROM jobs WHERE id = ?", (job_id,)).fetchone()
            merged = json.loads(row[0] or "{}") | reply if row else reply
            self.conn.execute(
                """UPDATE jobs SET delivery = 'sent', delivered_at = ?, reply = ?,
                       state = CASE WHEN state = 'rendered' THEN 'delivered' ELSE state END
                   WHERE id = ?""",
                (now, json.dumps(merged), job_id),
            )

    def delivery_failed(self, job_id: int, error: str, *, retry_in: float | None) -> None:
        """Keep the clip and try again later, or give up (retry_in=None) and say why."""
        with self.atomic():
            self.conn.execute(
                "UPDATE jobs SET delivery = ?, delivery_after = ?, error = ? WHERE id = ?",
                (
                    "pending" if retry_in is not None else "failed",
                    self.clock() + retry_in if retry_in is not None else None,
                    error,
                    job_id,
                ),
            )
