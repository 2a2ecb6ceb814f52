"""The durable job journal: every job's life, from queued to delivered, in one SQLite table.

Workers claim jobs under a lease (owner + expiry) and must present their owner name and
attempt number to report progress or finish: a worker that stalled past its lease and was
replaced cannot overwrite the newer attempt. Delivery is recorded before and after the reply
is sent, so a restart knows which replies are owed and which may already be out.

`Journal` is synchronous and owns one connection; the bot uses it through `AsyncJournal`,
which runs every call on the journal's own thread.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from engine import scheduler
from engine.db import DbThread, connect, transaction
from engine.jobs import Job, JobState
from engine.request import RenderRequest


def write_audit(
    conn: sqlite3.Connection,
    action: str,
    *,
    now: float,
    actor_id: str | None,
    guild_id: str | None = None,
    user_id: str | None = None,
    category: str | None = None,
    detail: str | None = None,
) -> None:
    """One audit row; callers inside a transaction of their own use this directly."""
    conn.execute(
        "INSERT INTO audit (at, guild_id, actor_id, user_id, action, category, detail)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (now, guild_id, actor_id, user_id, action, category, detail),
    )


class Journal:
    def __init__(
        self,
        path: Path | str,
        *,
        lease_seconds: float = 60.0,
        max_attempts: int = 3,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = Path(path)
        self.conn = connect(self.path)
        self.lease_seconds = lease_seconds
        self.max_attempts = max_attempts
        self.clock = clock

    def close(self) -> None:
        self.conn.close()

    # --- reading -----------------------------------------------------------------------------

    def get(self, job_id: int) -> Job | None:
        row = self.conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return Job.from_row(row) if row else None

    def _jobs(self, where: str, params: Sequence[Any] = (), tail: str = "ORDER BY id") -> list[Job]:
        rows = self.conn.execute(f"SELECT * FROM jobs WHERE {where} {tail}", params).fetchall()
        return [Job.from_row(r) for r in rows]

    def history(self, user_id: str, limit: int = 10) -> list[Job]:
        return self._jobs(
            "user_id = ? AND state != 'refused'", (user_id,), f"ORDER BY id DESC LIMIT {limit:d}"
        )

    def count_waiting(self, *, user_id: str | None = None, guild_id: str | None = None) -> int:
        sql = "SELECT COUNT(*) FROM jobs WHERE state IN ('queued', 'running')"
        params: list[str] = []
        if user_id is not None:
            sql += " AND user_id = ?"
            params.append(user_id)
        if guild_id is not None:
            sql += " AND guild_id = ?"
            params.append(guild_id)
        return self.conn.execute(sql, params).fetchone()[0]

    def waiting(self, *, guild_id: str | None = None) -> list[Job]:
        """Running jobs first, then queued ones in the order they will start."""
        running = self._jobs("state = 'running'")
        order = {w.id: i for i, w in enumerate(scheduler.fair_order(self.conn))}
        queued = sorted(self._jobs("state = 'queued'"), key=lambda j: order.get(j.id, 0))
        jobs = running + queued
        return [j for j in jobs if guild_id is None or j.guild_id == guild_id]

    def position(self, job_id: int) -> scheduler.Position | None:
        now = self.clock()
        return scheduler.position_of(self.conn, job_id, now, worker_window=2 * self.lease_seconds)

    def positions(self, adapter: str) -> list[tuple[Job, scheduler.Position]]:
        """Every queued job of an adapter with where it stands, for refreshing status messages."""
        jobs = self._jobs("state = 'queued' AND adapter = ?", (adapter,))
        now, window = self.clock(), 2 * self.lease_seconds
        by_model = {m: scheduler.model_positions(self.conn, m, now, window) for m in {j.model for j in jobs}}
        return [(j, by_model[j.model][j.id]) for j in jobs if j.id in by_model[j.model]]

    def unfinished(self, adapter: str | None = None) -> list[Job]:
        """Jobs whose requester still expects a reply: the set a restarted bot must follow."""
        sql = "state IN ('queued', 'running') OR (state IN ('rendered','failed','dead','cancelled') "
        sql += "AND delivery IN ('pending', 'sending'))"
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
        with transaction(self.conn):
            return self._insert(request, **job)

    def enqueue_if(
        self, request: RenderRequest, admit: Callable[[sqlite3.Connection], Any], **job: Any
    ) -> tuple[Job, Any]:
        """Run an admission check and insert the job in one write transaction.

        `admit` returns None to admit, or a refusal object with a `reason` attribute; a refused
        job is still recorded (state `refused`) so moderators can see what was turned away.
        """
        with transaction(self.conn):
            refusal = admit(self.conn)
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
        row = self.conn.execute(
            """INSERT INTO jobs (created_at, user_id, user_name, guild_id, channel_id, adapter, priority,
                   model, batch_key, request, cost, state, reply, parent_id, error, finished_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *""",
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
                float(request.frames * request.steps),
                str(state),
                json.dumps(reply or {}),
                parent_id,
                error,
                now if state != JobState.QUEUED else None,
            ),
        ).fetchone()
        return Job.from_row(row)

    def update_reply(self, job_id: int, **changes: Any) -> None:
        """Merge adapter data (a status message id, say) into the job's reply record."""
        with transaction(self.conn):
            row = self.conn.execute("SELECT reply FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                return
            reply = json.loads(row[0] or "{}") | changes
            self.conn.execute("UPDATE jobs SET reply = ? WHERE id = ?", (json.dumps(reply), job_id))

    # --- workers -----------------------------------------------------------------------------

    def claim(self, owner: str, *, models: Sequence[str] | None = None, max_batch: int = 1) -> list[Job]:
        """Take the next job in fair order, plus compatible ones behind it up to `max_batch`."""
        now = self.clock()
        with transaction(self.conn):
            if max_batch == 1:
                first = scheduler.head(self.conn, models)
                ids = [first.id] if first else []
            else:
                order = scheduler.fair_order(self.conn, models)
                key = order[0].batch_key if order else None
                ids = [w.id for w in order if w.batch_key == key][:max_batch]
            if not ids:
                return []
            marks = ",".join("?" * len(ids))
            rows = self.conn.execute(
                f"""UPDATE jobs SET state = 'running', owner = ?, lease_until = ?, attempts = attempts + 1,
                        started_at = ?, progress_step = 0, progress_total = NULL
                    WHERE state = 'queued' AND id IN ({marks}) RETURNING *""",
                (owner, now + self.lease_seconds, now, *ids),
            ).fetchall()
        jobs = {r["id"]: Job.from_row(r) for r in rows}
        return [jobs[i] for i in ids if i in jobs]

    def _fenced(self, sql: str, job_id: int, owner: str, attempt: int, *params: Any) -> bool:
        with transaction(self.conn):
            cur = self.conn.execute(
                f"{sql} WHERE id = ? AND owner = ? AND attempts = ? AND state = 'running'",
                (*params, job_id, owner, attempt),
            )
        return cur.rowcount == 1

    def heartbeat(self, owner: str, model: str) -> None:
        """Renew the leases of everything this worker runs, and say the worker is alive."""
        now = self.clock()
        with transaction(self.conn):
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

    def cancel_requested(self, job_id: int) -> bool:
        row = self.conn.execute("SELECT cancel_requested FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return bool(row and row[0])

    def complete(self, job_id: int, owner: str, attempt: int, clip_path: str, render_seconds: float) -> bool:
        """Mark a render done, unless this worker lost the job to another attempt meanwhile."""
        now = self.clock()
        done = self._fenced(
            "UPDATE jobs SET state = 'rendered', clip_path = ?, render_seconds = ?, finished_at = ?,"
            " owner = NULL, lease_until = NULL, delivery = 'pending'",
            job_id, owner, attempt, clip_path, render_seconds, now,
        )  # fmt: skip
        return done

    def record_speed(self, model: str, seconds_per_frame_step: float) -> None:
        with transaction(self.conn):
            scheduler.record_speed(self.conn, model, seconds_per_frame_step, self.clock())

    def finish_cancelled(self, job_id: int, owner: str, attempt: int) -> bool:
        return self._fenced(
            "UPDATE jobs SET state = 'cancelled', finished_at = ?, owner = NULL, lease_until = NULL,"
            " delivery = 'pending'",
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
            " finished_at = ?, delivery = ?",
            job_id, owner, attempt, str(new), reason,
            self.clock() if terminal else None, "pending" if terminal else None,
        )  # fmt: skip
        return new if ok else None

    def requeue_expired(self) -> list[tuple[int, JobState]]:
        """Return jobs whose worker vanished to the queue; past max attempts they are dead."""
        now = self.clock()
        with transaction(self.conn):
            rows = self.conn.execute(
                """UPDATE jobs SET
                     state = CASE WHEN cancel_requested THEN 'cancelled'
                                  WHEN attempts >= ? THEN 'dead' ELSE 'queued' END,
                     error = CASE WHEN attempts >= ? AND NOT cancel_requested
                                  THEN 'gave up after ' || attempts || ' tries (worker lost)'
                                  ELSE error END,
                     delivery = CASE WHEN cancel_requested OR attempts >= ? THEN 'pending' ELSE delivery END,
                     finished_at = CASE WHEN cancel_requested OR attempts >= ? THEN ? ELSE NULL END,
                     owner = NULL, lease_until = NULL
                   WHERE state = 'running' AND lease_until < ? RETURNING id, state""",
                (self.max_attempts, self.max_attempts, self.max_attempts, self.max_attempts, now, now),
            ).fetchall()
        return [(r["id"], JobState(r["state"])) for r in rows]

    # --- users and moderators --------------------------------------------------------------

    def _cancel_where(self, where: str, params: tuple[Any, ...], by: str) -> list[int]:
        """Cancel matching waiting jobs at once, and ask workers to stop the running ones."""
        now = self.clock()
        with transaction(self.conn):
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

    def audit(self, action: str, **entry: Any) -> None:
        with transaction(self.conn):
            write_audit(self.conn, action, now=self.clock(), **entry)

    def audit_log(self, guild_id: str | None, limit: int = 20) -> list[dict[str, Any]]:
        sql = "SELECT * FROM audit" + (" WHERE guild_id = ?" if guild_id is not None else "")
        rows = self.conn.execute(sql + f" ORDER BY id DESC LIMIT {limit:d}", (guild_id,) if guild_id else ())
        return [dict(r) for r in rows]

    def get_value(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_value(self, key: str, value: str) -> None:
        with transaction(self.conn):
            self.conn.execute("INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)", (key, value))

    # --- delivery ----------------------------------------------------------------------------

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
        with transaction(self.conn):
            cur = self.conn.execute(
                "UPDATE jobs SET delivery = 'sending', delivery_attempts = delivery_attempts + 1"
                f" WHERE id = ? AND delivery IN ('pending', 'sending'){fence}",
                (job_id,) if seen_attempts is None else (job_id, seen_attempts),
            )
        return cur.rowcount == 1

    def finish_delivery(self, job_id: int, **reply: Any) -> None:
        now = self.clock()
        with transaction(self.conn):
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
        with transaction(self.conn):
            self.conn.execute(
                "UPDATE jobs SET delivery = ?, delivery_after = ?, error = ? WHERE id = ?",
                (
                    "pending" if retry_in is not None else "failed",
                    self.clock() + retry_in if retry_in is not None else None,
                    error,
                    job_id,
                ),
            )


class AsyncJournal:
    """The journal for the event loop: the same methods, awaited, run on the journal's thread."""

    def __init__(self, path: Path | str, **kwargs: Any) -> None:
        self._thread = DbThread(lambda: Journal(path, **kwargs))
        self.sync: Journal = self._thread.obj

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self.sync, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            return await self._thread.call(method, *args, **kwargs)

        return call

    async def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run `fn(journal, ...)` on the journal's thread, for work that spans several calls."""
        return await self._thread.call(fn, self.sync, *args, **kwargs)

    async def close(self) -> None:
        self._thread.close()
