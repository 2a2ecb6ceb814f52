"""Clips the output check held: listed for moderators, then released (delivered) or rejected.

Each decision is one UPDATE fenced on the job still being `held` and no reply to it being
sent right now, so of two moderators deciding at once (two bot processes, the dashboard and a
chat command) exactly one wins, and a release can never be mistaken by a sender still busy
with the "held for review" notice for that notice's own delivery. The decision makes the
requester owed a reply again (`delivery = 'pending'`), which the normal exactly-once
delivery machinery sends: the clip after a release, the rejection after a reject.
"""

from __future__ import annotations

from enum import StrEnum

from engine.journal.base import JournalBase
from engine.journal.jobs import Job


class Decision(StrEnum):
    """What became of a moderator's decision on a held job."""

    DONE = "done"
    NOT_HELD = "not_held"  # no such job, or it is not (or no longer) held
    BUSY = "busy"  # the requester's "held" notice is being sent this moment: try again shortly


_DECIDABLE = "id = ? AND state = 'held' AND COALESCE(delivery, '') != 'sending'"


class Held(JournalBase):
    def held_jobs(self, guild_id: str | None, *, limit: int = 25) -> list[Job]:
        """Held jobs, oldest first: one server's, or (None) every server's and every DM's."""
        if guild_id is None:
            return self._jobs("state = 'held'", (), f"ORDER BY id LIMIT {limit:d}")
        return self._jobs("state = 'held' AND guild_id = ?", (guild_id,), f"ORDER BY id LIMIT {limit:d}")

    def _decide(self, job_id: int, assignments: str) -> Decision:
        with self.atomic():
            cur = self.conn.execute(
                f"UPDATE jobs SET {assignments}, delivery = 'pending', delivery_after = NULL,"
                f" delivery_owner = NULL, delivery_lease_until = NULL WHERE {_DECIDABLE}",
                (job_id,),
            )
            if cur.rowcount == 1:
                return Decision.DONE
            row = self.conn.execute("SELECT state FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return Decision.BUSY if row is not None and row[0] == "held" else Decision.NOT_HELD

    def release_held(self, job_id: int) -> Decision:
        """A moderator found the held clip fine: it becomes `rendered` and is delivered as usual.

        `delivery_attempts` keeps counting from the notice, so a sender that read the job
        before the notice went out cannot begin this delivery with its stale copy.
        """
        return self._decide(job_id, "state = 'rendered'")

    def reject_held(self, job_id: int) -> tuple[Decision, str | None]:
        """A moderator rejected the held clip: `rejected`, its requester told; returns the clip's
        path for the caller to remove (the file is not the journal's to delete)."""
        with self.atomic():
            row = self.conn.execute("SELECT clip_path FROM jobs WHERE id = ?", (job_id,)).fetchone()
            decision = self._decide(job_id, "state = 'rejected', clip_path = NULL")
        return decision, (row[0] if row is not None and decision is Decision.DONE else None)
