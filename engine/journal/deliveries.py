"""Replies owed to requesters: recorded before and after each is sent, under a lease.

A sender begins a delivery (it becomes `sending`, owned by that sender, with a lease it renews
while the send is in progress) and finishes it (`sent`). A reply whose sender vanished is
offered again once its lease has expired, never while it is live, so two bot processes on one
journal cannot both send it; the taker is told (`delivery_attempts` > 0) that an earlier try
may already be out, so a surface that can look (Discord) checks before sending again.
"""

from __future__ import annotations

import json
from typing import Any

from engine.journal.base import JournalBase
from engine.journal.jobs import Job

# Owed now: pending and due, or being sent by someone whose lease has run out.
_OWED = (
    "((delivery = 'pending' AND COALESCE(delivery_after, 0) <= ?)"
    " OR (delivery = 'sending' AND COALESCE(delivery_lease_until, 0) < ?))"
)


class Deliveries(JournalBase):
    def deliverable(self, adapter: str) -> list[Job]:
        """Jobs whose requester is owed a reply now, by this adapter."""
        now = self.clock()
        return self._jobs(f"adapter = ? AND {_OWED}", (adapter, now, now))

    def begin_delivery(
        self, job_id: int, *, seen_attempts: int | None = None, owner: str | None = None
    ) -> bool:
        """Take a reply to send it now; False if it is not owed or another sender holds it.

        A sender passes the `delivery_attempts` it read with the job: of two senders (two bot
        processes on one file) that read the same row, only the first to begin wins.
        """
        owner = owner or self.name
        now = self.clock()
        fence = "" if seen_attempts is None else " AND delivery_attempts = ?"
        with self.atomic():
            cur = self.conn.execute(
                "UPDATE jobs SET delivery = 'sending', delivery_attempts = delivery_attempts + 1,"
                " delivery_owner = ?, delivery_lease_until = ?"
                " WHERE id = ? AND (delivery = 'pending' OR (delivery = 'sending' AND"
                f" (COALESCE(delivery_lease_until, 0) < ? OR delivery_owner = ?))){fence}",
                (owner, now + self.delivery_lease_seconds, job_id, now, owner)
                + (() if seen_attempts is None else (seen_attempts,)),
            )
        return cur.rowcount == 1

    def renew_delivery(self, job_id: int, *, owner: str | None = None) -> bool:
        """Keep the lease of a send in progress; False if it was taken over (it had expired)."""
        with self.atomic():
            cur = self.conn.execute(
                "UPDATE jobs SET delivery_lease_until = ?"
                " WHERE id = ? AND delivery = 'sending' AND delivery_owner = ?",
                (self.clock() + self.delivery_lease_seconds, job_id, owner or self.name),
            )
        return cur.rowcount == 1

    def finish_delivery(self, job_id: int, **reply: Any) -> None:
        """The reply went out: record it, whoever holds the lease now."""
        now = self.clock()
        with self.atomic():
            row = self.conn.execute("SELECT reply FROM jobs WHERE id = ?", (job_id,)).fetchone()
            merged = json.loads(row[0] or "{}") | reply if row else reply
            self.conn.execute(
                """UPDATE jobs SET delivery = 'sent', delivered_at = ?, reply = ?,
                       delivery_owner = NULL, delivery_lease_until = NULL,
                       state = CASE WHEN state = 'rendered' THEN 'delivered' ELSE state END
                   WHERE id = ?""",
                (now, json.dumps(merged), job_id),
            )

    def delivery_failed(
        self, job_id: int, error: str, *, retry_in: float | None, owner: str | None = None
    ) -> None:
        """Keep the clip and try again later, or give up (retry_in=None) and say why.

        Only the sender holding the delivery may say so: one whose lease ran out and was taken
        over must not undo the newer sender's work.
        """
        with self.atomic():
            self.conn.execute(
                "UPDATE jobs SET delivery = ?, delivery_after = ?, error = ?,"
                " delivery_owner = NULL, delivery_lease_until = NULL"
                " WHERE id = ? AND delivery = 'sending' AND delivery_owner = ?",
                (
                    "pending" if retry_in is not None else "failed",
                    self.clock() + retry_in if retry_in is not None else None,
                    error,
                    job_id,
                    owner or self.name,
                ),
            )
