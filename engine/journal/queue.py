"""The jobs table as requesters and moderators see it: enqueue, look up, count, cancel.

Admission runs inside the transaction that inserts the job (`enqueue_if`), so a flood of
simultaneous prompts cannot slip past a limit between the check and the insert.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from engine.journal import fair
from engine.journal.base import JournalBase
from engine.journal.jobs import Job, JobState
from engine.request import RenderRequest


class Queue(JournalBase):
    # --- reading -----------------------------------------------------------------------------

    def get(self, job_id: int) -> Job | None:
        row = self.conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return Job.from_row(row) if row else None

    def history(self, user_id: str, limit: int = 10) -> list[Job]:
        return self._jobs(
            "user_id = ? AND state != 'refused'", (user_id,), f"ORDER BY id DESC LIMIT {limit:d}"
        )

    def count_admitted_since(
        self, since: float, *, user_id: str | None = None, guild_id: str | None = None
    ) -> int:
        """Jobs admitted since `since` (a daily quota's day), of one member or one server.

        Refused prompts do not count, nor jobs cancelled before a worker started them: neither
        used the GPU a quota pays for. The (user_id, state) and (guild_id, state) indexes narrow
        it to one member's or server's jobs.
        """
        column, value = ("user_id", user_id) if user_id is not None else ("guild_id", guild_id)
        if value is None:
            raise ValueError("count_admitted_since needs a user_id or a guild_id")
        return self.conn.execute(
            f"SELECT COUNT(*) FROM jobs WHERE {column} = ? AND created_at >= ? AND state != 'refused'"
            " AND NOT (state = 'cancelled' AND started_at IS NULL)",
            (value, since),
        ).fetchone()[0]

    def count_waiting(
        self, *, user_id: str | None = None, guild_id: str | None = None, model: str | None = None
    ) -> int:
        """Queued and running jobs, overall or of one member, server or model.

        The overall and per-server numbers are kept by triggers (see migration 3): admission
        asks them for every prompt, and counting a long queue each time would grow with it.
        """
        if user_id is not None:
            sql = "SELECT COUNT(*) FROM jobs WHERE user_id = ? AND state IN ('queued', 'running')"
            params = [user_id]
            for column, value in (("guild_id", guild_id), ("model", model)):
                if value is not None:
                    sql += f" AND {column} = ?"
                    params.append(value)
            return self.conn.execute(sql, params).fetchone()[0]
        if model is not None:
            running = self.conn.execute(
                "SELECT COUNT(*) FROM jobs WHERE state = 'running' AND model = ?", (model,)
            ).fetchone()[0]
            return running + self._kept_count(f"queued:{model}")
        return self._kept_count("*" if guild_id is None else f"guild:{guild_id}")

    def _kept_count(self, scope: str) -> int:
        row = self.conn.execute("SELECT n FROM job_counts WHERE scope = ?", (scope,)).fetchone()
        return row[0] if row else 0

    def running(self) -> list[Job]:
        return self._jobs("state = 'running'")

    def unfinished(self, adapter: str | None = None) -> list[Job]:
        """Jobs whose requester still expects a reply: the set a restarted bot must follow."""
        sql = "state IN ('queued', 'running') OR (state IN ('rendered', 'failed', 'dead', 'cancelled', "
        sql += "'held', 'rejected') AND delivery IN ('pending', 'sending'))"
        if adapter is not None:
            return self._jobs(f"({sql}) AND adapter = ?", (adapter,))
        return self._jobs(sql)

    def stats(self) -> dict[str, Any]:
        times = [
            r[0]
            for r in self.conn.execute(
                "SELECT render_seconds FROM jobs WHERE render_seconds IS NOT NULL ORDER BY render_seconds"
            )
        ]
        counts = dict(self.conn.execute("SELECT state, COUNT(*) FROM jobs GROUP BY state").fetchall())
        median = times[len(times) // 2] if times else None
        return {"renders": len(times), "median_render_s": median, "states": counts}

    # --- intake ------------------------------------------------------------------------------

    def enqueue(self, request: RenderRequest, **job: Any) -> Job:
        with self.atomic():
            return self._insert(request, **job)

    def enqueue_if(self, request: RenderRequest, admit: Callable[[Any], Any], **job: Any) -> tuple[Job, Any]:
        """Run an admission check and insert the job in one write transaction.

        `admit(journal)` may call any journal method (they join the transaction) and returns
        None to admit, or a refusal object with a `reason` attribute; a refused job is still
        recorded (state `refused`) so moderators can see what was turned away.
        """
        with self.atomic():
            refusal = admit(self)
            if refusal is None:
                return self._insert(request, **job), None
            return self._insert(request, state=JobState.REFUSED, error=refusal.reason, **job), refusal

    def _insert(
        self,
        request: RenderRequest,
        *,
        user_id: str,
        adapter: str,
        user_name: str | None = None,
        guild_id: str | None = None,
        channel_id: str | None = None,
        priority: int = 0,
        reply: dict[str, Any] | None = None,
        parent_id: int | None = None,
        state: JobState = JobState.QUEUED,
        error: str | None = None,
    ) -> Job:
        now = self.clock()
        cost = float(request.frames * request.steps)
        tag = None
        if state == JobState.QUEUED:
            # Service is counted in estimated GPU seconds, so a long clip weighs what it costs.
            service = cost * fair.sec_per_cost(self.conn, request.model)
            tag = fair.start_tag(self.conn, user_id, service)
        row = self.conn.execute(
            """INSERT INTO jobs (created_at, user_id, user_name, guild_id, channel_id, adapter, priority,
                   model, batch_key, request, cost, state, reply, parent_id, error, finished_at, start_tag)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *""",
            (
                now,
                user_id,
                user_name,
                guild_id,
                channel_id,
                adapter,
                priority,
                request.model,
                json.dumps(request.batch_key()),
                json.dumps(request.to_dict()),
                cost,
                str(state),
                json.dumps(reply or {}),
                parent_id,
                error,
                now if state != JobState.QUEUED else None,
                tag,
            ),
        ).fetchone()
        return Job.from_row(row)

    def update_reply(self, job_id: int, **changes: Any) -> None:
        """Merge adapter data (a status message id, say) into the job's reply record."""
        with self.atomic():
            row = self.conn.execute("SELECT reply FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                return
            reply = json.loads(row[0] or "{}") | changes
            self.conn.execute("UPDATE jobs SET reply = ? WHERE id = ?", (json.dumps(reply), job_id))

    # --- cancelling --------------------------------------------------------------------------

    def _cancel_where(self, where: str, params: tuple[Any, ...], by: str) -> list[int]:
        """Cancel matching waiting jobs at once, and ask workers to stop the running ones."""
        now = self.clock()
        with self.atomic():
            ids = [
                r[0]
                for r in self.conn.execute(
                    f"SELECT id FROM jobs WHERE {where} AND state IN ('queued', 'running')", params
                )
            ]
            self.conn.execute(
                "UPDATE jobs SET state = 'cancelled', cancelled_by = ?, finished_at = ?,"
                f" delivery = 'pending' WHERE {where} AND state = 'queued'",
                (by, now, *params),
            )
            self.conn.execute(
                f"UPDATE jobs SET cancel_requested = 1, cancelled_by = ? WHERE {where} AND state = 'running'",
                (by, *params),
            )
        return ids

    def cancel(self, job_id: int, *, by: str) -> Job | None:
        """Cancel a waiting job at once, or ask the worker rendering it to stop at the next step."""
        self._cancel_where("id = ?", (job_id,), by)
        return self.get(job_id)

    def clear(self, *, guild_id: str | None, by: str) -> list[int]:
        """Cancel every waiting job of a guild (or all of them): the moderators' panic button."""
        if guild_id is None:
            return self._cancel_where("1 = 1", (), by)
        return self._cancel_where("guild_id = ?", (guild_id,), by)
