"""Workers' side of the journal: claims under a lease, fenced progress and results, lost workers.

Workers claim jobs under a lease (owner + expiry) and must present their owner name and
attempt number to report progress or finish: a worker that stalled past its lease and was
replaced cannot overwrite the newer attempt.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from engine.journal import fair
from engine.journal.base import JournalBase
from engine.journal.jobs import Job, JobState
from engine.journal.servers import output_threshold


class Claims(JournalBase):
    def claim(self, owner: str, *, models: Sequence[str] | None = None, max_batch: int = 1) -> list[Job]:
        """Take the next job in fair order, plus the compatible ones right behind it, up to `max_batch`.

        A batch only ever takes from the head of the order: a compatible job further back would
        jump the members in between.
        """
        now = self.clock()
        with self.atomic():
            taken: list[fair.Waiting] = []
            for waiting in fair.fair_order(self.conn, models, limit=max(1, max_batch)):
                if taken and waiting.batch_key != taken[0].batch_key:
                    break
                taken.append(waiting)
            if not taken:
                return []
            ids = [w.id for w in taken]
            fair.advance_clock(self.conn, max(w.start_tag or 0.0 for w in taken))
            marks = ",".join("?" * len(ids))
            rows = self.conn.execute(
                f"""UPDATE jobs SET state = 'running', owner = ?, lease_until = ?, attempts = attempts + 1,
                        started_at = ?, progress_step = 0, progress_total = NULL, delay = NULL,
                        preview_path = NULL, preview_step = NULL
                    WHERE state = 'queued' AND id IN ({marks}) RETURNING *""",
                (owner, now + self.lease_seconds, now, *ids),
            ).fetchall()
        jobs = {r["id"]: Job.from_row(r) for r in rows}
        return [jobs[i] for i in ids if i in jobs]

    def _fenced(self, sql: str, job_id: int, owner: str, attempt: int, *params: Any) -> bool:
        with self.atomic():
            cur = self.conn.execute(
                f"{sql} WHERE id = ? AND owner = ? AND attempts = ? AND state = 'running'",
                (*params, job_id, owner, attempt),
            )
        return cur.rowcount == 1

    def heartbeat(self, owner: str, model: str) -> None:
        """Renew the leases of everything this worker runs, and say the worker is alive."""
        now = self.clock()
        with self.atomic():
            self.conn.execute(
                "UPDATE jobs SET lease_until = ? WHERE owner = ? AND state = 'running'",
                (now + self.lease_seconds, owner),
            )
            self.conn.execute(
                "INSERT INTO workers (name, model, last_seen) VALUES (?, ?, ?) "
                "ON CONFLICT(name) DO UPDATE SET model = excluded.model, last_seen = excluded.last_seen",
                (owner, model, now),
            )

    def progress(self, job_id: int, owner: str, attempt: int, step: int, total: int) -> bool:
        now = self.clock()
        return self._fenced(
            "UPDATE jobs SET progress_step = ?, progress_total = ?, lease_until = ?",
            job_id, owner, attempt, step, total, now + self.lease_seconds,
        )  # fmt: skip

    def preview(self, job_id: int, owner: str, attempt: int, path: str, step: int) -> bool:
        """Record the running job's latest live preview (fenced like progress); False if it was lost."""
        return self._fenced(
            "UPDATE jobs SET preview_path = ?, preview_step = ?", job_id, owner, attempt, path, step
        )

    def cancel_requested(self, job_id: int) -> bool:
        row = self.conn.execute("SELECT cancel_requested FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return bool(row and row[0])

    def complete(
        self,
        job_id: int,
        owner: str,
        attempt: int,
        clip_path: str,
        render_seconds: float,
        *,
        check_score: float | None = None,
        default_threshold: float | None = None,
    ) -> bool:
        """Record a finished render, unless this worker lost the job to another attempt meanwhile.

        With an output check's `check_score`, the job becomes `held` instead of `rendered` when
        the score reaches its server's threshold (the server's `output_threshold` setting, for
        a DM job the bot-wide one, else `default_threshold`), decided in this one transaction,
        with its audit row: there is no moment at which a flagged clip is deliverable. A held
        job's requester is owed a reply (that it is held), so its delivery is `pending` too.
        A score needs the worker's `default_threshold`: no silent default of the journal's own.
        """
        if check_score is not None and default_threshold is None:
            raise TypeError("complete(check_score=...) needs default_threshold")
        now = self.clock()
        with self.atomic():
            row = self.conn.execute(
                "SELECT guild_id, user_id FROM jobs"
                " WHERE id = ? AND owner = ? AND attempts = ? AND state = 'running'",
                (job_id, owner, attempt),
            ).fetchone()
            if row is None:
                return False
            threshold = None
            if check_score is not None and default_threshold is not None:
                threshold = output_threshold(self.conn, row["guild_id"], default_threshold)
            held = threshold is not None and check_score is not None and check_score >= threshold
            self.conn.execute(
                "UPDATE jobs SET state = ?, clip_path = ?, render_seconds = ?, finished_at = ?,"
                " owner = NULL, lease_until = NULL, delivery = 'pending', delay = NULL, preview_path = NULL,"
                " preview_step = NULL, check_score = ?, check_threshold = ? WHERE id = ?",
                (
                    str(JobState.HELD if held else JobState.RENDERED),
                    clip_path, render_seconds, now, check_score, threshold, job_id,
                ),
            )  # fmt: skip
            if held:
                self.conn.execute(
                    "INSERT INTO audit (at, guild_id, actor_id, user_id, action, category, detail)"
                    " VALUES (?, ?, NULL, ?, 'held', 'output check', ?)",
                    (now, row["guild_id"], row["user_id"],
                     f"job {job_id}: score {check_score:.3f} >= {threshold:.3f}"),
                )  # fmt: skip
        return True

    def finish_cancelled(self, job_id: int, owner: str, attempt: int) -> bool:
        return self._fenced(
            "UPDATE jobs SET state = 'cancelled', finished_at = ?, owner = NULL, lease_until = NULL,"
            " delivery = 'pending', delay = NULL, preview_path = NULL, preview_step = NULL",
            job_id, owner, attempt, self.clock(),
        )  # fmt: skip

    def fail(
        self, job_id: int, owner: str, attempt: int, reason: str, *, retry: bool = True
    ) -> JobState | None:
        """Record a failed attempt: back to the queue while attempts remain, else failed or dead."""
        if retry and attempt < self.max_attempts:
            new = JobState.QUEUED
        else:
            new = JobState.DEAD if retry else JobState.FAILED
        terminal = new != JobState.QUEUED
        ok = self._fenced(
            "UPDATE jobs SET state = ?, error = ?, owner = NULL, lease_until = NULL,"
            " finished_at = ?, delivery = ?, delay = NULL, preview_path = NULL, preview_step = NULL",
            job_id, owner, attempt, str(new), reason,
            self.clock() if terminal else None, "pending" if terminal else None,
        )  # fmt: skip
        return new if ok else None

    def release(self, job_id: int, owner: str, attempt: int) -> bool:
        """Give a claimed job back to the queue as if it had never been claimed.

        For a worker stopped by its machine (a shutdown, storage that will not take the clip),
        not by the job: the attempt is not counted, so such stops never make a job `dead`.
        """
        return self._fenced(
            "UPDATE jobs SET state = 'queued', attempts = attempts - 1, owner = NULL, lease_until = NULL,"
            " started_at = NULL, progress_step = NULL, progress_total = NULL, delay = NULL,"
            " preview_path = NULL, preview_step = NULL",
            job_id, owner, attempt,
        )  # fmt: skip

    def note_delay(self, job_id: int, owner: str, attempt: int, why: str | None) -> bool:
        """Record (or, with None, clear) why the machine holds this running job up."""
        return self._fenced("UPDATE jobs SET delay = ?", job_id, owner, attempt, why)

    def delayed(self, adapter: str) -> list[Job]:
        """This adapter's running jobs that the machine holds up, for telling their requesters."""
        return self._jobs("state = 'running' AND delay IS NOT NULL AND adapter = ?", (adapter,))

    def requeue_expired(self) -> list[tuple[int, JobState]]:
        """Return jobs whose worker vanished to the queue; past max attempts they are dead."""
        now = self.clock()
        with self.atomic():
            rows = self.conn.execute(
                """UPDATE jobs SET
                     state = CASE WHEN cancel_requested THEN 'cancelled'
                                  WHEN attempts >= ? THEN 'dead' ELSE 'queued' END,
                     error = CASE WHEN attempts >= ? AND NOT cancel_requested
                                  THEN 'gave up after ' || attempts || ' tries (worker lost)'
                                  ELSE error END,
                     delivery = CASE WHEN cancel_requested OR attempts >= ? THEN 'pending' ELSE delivery END,
                     finished_at = CASE WHEN cancel_requested OR attempts >= ? THEN ? ELSE NULL END,
                     owner = NULL, lease_until = NULL, delay = NULL, preview_path = NULL, preview_step = NULL
                   WHERE state = 'running' AND lease_until < ? RETURNING id, state""",
                (self.max_attempts, self.max_attempts, self.max_attempts, self.max_attempts, now, now),
            ).fetchall()
        return [(r["id"], JobState(r["state"])) for r in rows]
