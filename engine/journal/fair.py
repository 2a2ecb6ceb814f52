"""Fair ordering of waiting jobs, queue positions with ETAs, and the render speeds behind them.

Order is round-robin by user within a priority: each user's first waiting job comes before
anyone's second, so one person sending fifty prompts cannot push everyone else back. A job
that is already rendering counts as its owner's first round. Everything here is plain SQL
over the journal's connection, so the bot can answer "where is my job" without a worker.
The functions take a connection because claims run them under the write lock; `Fair` gives
them to the rest of the bot as journal methods.
"""

from __future__ import annotations

import math
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from engine.journal.base import JournalBase
from engine.journal.jobs import Job

# Seconds per frame-step assumed for a model that has not rendered anything yet.
DEFAULT_SEC_PER_COST = 0.05
# Weight of the newest measurement in the running average of render speed.
SPEED_ALPHA = 0.3

_FAIR_ORDER = """
SELECT j.id, j.user_id, j.model, j.cost, j.batch_key,
       ROW_NUMBER() OVER (PARTITION BY j.priority, j.user_id ORDER BY j.id)
         + COALESCE(r.running, 0) AS round
FROM jobs j
LEFT JOIN (SELECT user_id, COUNT(*) AS running FROM jobs WHERE state = 'running' GROUP BY user_id) r
  ON r.user_id = j.user_id
WHERE j.state = 'queued' {model_filter}
ORDER BY j.priority DESC, round, j.id
"""


@dataclass(frozen=True)
class Waiting:
    id: int
    user_id: str
    model: str
    cost: float
    batch_key: str


def fair_order(conn: sqlite3.Connection, models: Sequence[str] | None = None) -> list[Waiting]:
    """Every queued job, in the order workers will take them."""
    params: list[str] = []
    model_filter = ""
    if models:
        model_filter = f"AND j.model IN ({','.join('?' * len(models))})"
        params = list(models)
    rows = conn.execute(_FAIR_ORDER.format(model_filter=model_filter), params).fetchall()
    return [Waiting(r["id"], r["user_id"], r["model"], r["cost"], r["batch_key"]) for r in rows]


_HEAD = """
SELECT j.id, j.user_id, j.model, j.cost, j.batch_key, MIN(j.id) AS first,
       (SELECT COUNT(*) FROM jobs r WHERE r.state = 'running' AND r.user_id = j.user_id) AS running
FROM jobs j
WHERE j.state = 'queued' {model_filter}
  AND j.priority = (SELECT MAX(priority) FROM jobs WHERE state = 'queued' {top_filter})
GROUP BY j.user_id
ORDER BY running, first
LIMIT 1
"""


def head(conn: sqlite3.Connection, models: Sequence[str] | None = None) -> Waiting | None:
    """The job `fair_order` would put first, without ranking the whole queue.

    Only each user's oldest waiting job can come first (their later ones have higher rounds
    and ids), so one pass grouped by user finds it. Claims run this under the write lock, so
    its cost is paid by every writer; with a long queue it is far cheaper than the ranking.
    """
    params: list[str] = []
    model_filter = top_filter = ""
    if models:
        marks = ",".join("?" * len(models))
        model_filter, top_filter = f"AND j.model IN ({marks})", f"AND model IN ({marks})"
        params = [*models, *models]
    row = conn.execute(_HEAD.format(model_filter=model_filter, top_filter=top_filter), params).fetchone()
    if row is None:
        return None
    return Waiting(row["id"], row["user_id"], row["model"], row["cost"], row["batch_key"])


def sec_per_cost(conn: sqlite3.Connection, model: str) -> float:
    row = conn.execute("SELECT sec_per_cost FROM speeds WHERE model = ?", (model,)).fetchone()
    return row[0] if row else DEFAULT_SEC_PER_COST


def record_speed(conn: sqlite3.Connection, model: str, sample: float, now: float | None = None) -> None:
    """Fold one render's measured seconds per frame-step into the model's running average."""
    now = time.time() if now is None else now
    conn.execute(
        """INSERT INTO speeds (model, sec_per_cost, samples, updated_at) VALUES (?, ?, 1, ?)
           ON CONFLICT(model) DO UPDATE SET
             sec_per_cost = sec_per_cost * (1 - ?) + excluded.sec_per_cost * ?,
             samples = samples + 1, updated_at = excluded.updated_at""",
        (model, sample, now, SPEED_ALPHA, SPEED_ALPHA),
    )


def active_workers(conn: sqlite3.Connection, model: str, now: float, window: float) -> int:
    row = conn.execute(
        "SELECT COUNT(*) FROM workers WHERE model = ? AND last_seen >= ?", (model, now - window)
    ).fetchone()
    return max(1, row[0])


@dataclass(frozen=True)
class Position:
    position: int  # 1 = next to start
    eta_s: float  # until this job's clip should be ready


def model_positions(
    conn: sqlite3.Connection, model: str, now: float, worker_window: float
) -> dict[int, Position]:
    """Position and ETA of every queued job of one model, from measured render speed.

    Jobs of other models are rendered by other workers, so only the same model's queue counts:
    the work still left on running jobs and every job ahead, shared among the live workers, plus
    the job's own render.
    """
    order = fair_order(conn, [model])
    if not order:
        return {}
    running = conn.execute(
        """SELECT COALESCE(SUM(cost * (1.0 - COALESCE(progress_step, 0) * 1.0
                                      / MAX(COALESCE(progress_total, 1), 1))), 0)
           FROM jobs WHERE state = 'running' AND model = ?""",
        (model,),
    ).fetchone()[0]
    speed = sec_per_cost(conn, model)
    workers = active_workers(conn, model, now, worker_window)
    positions = {}
    ahead = running
    for number, job in enumerate(order, start=1):
        positions[job.id] = Position(number, ahead * speed / workers + job.cost * speed)
        ahead += job.cost
    return positions


def position_of(conn: sqlite3.Connection, job_id: int, now: float, worker_window: float) -> Position | None:
    row = conn.execute("SELECT model, state FROM jobs WHERE id = ?", (job_id,)).fetchone()
    if row is None or row["state"] != "queued":
        return None
    return model_positions(conn, row["model"], now, worker_window).get(job_id)


class Fair(JournalBase):
    """The journal's questions about order and time: what runs next, where a job stands, how long."""

    def waiting(self, *, guild_id: str | None = None) -> list[Job]:
        """Running jobs first, then queued ones in the order they will start."""
        running = self._jobs("state = 'running'")
        order = {w.id: i for i, w in enumerate(fair_order(self.conn))}
        queued = sorted(self._jobs("state = 'queued'"), key=lambda j: order.get(j.id, 0))
        jobs = running + queued
        return [j for j in jobs if guild_id is None or j.guild_id == guild_id]

    def position(self, job_id: int) -> Position | None:
        now = self.clock()
        return position_of(self.conn, job_id, now, worker_window=2 * self.lease_seconds)

    def positions(self, adapter: str) -> list[tuple[Job, Position]]:
        """Every queued job of an adapter with where it stands, for refreshing status messages."""
        jobs = self._jobs("state = 'queued' AND adapter = ?", (adapter,))
        now, window = self.clock(), 2 * self.lease_seconds
        by_model = {m: model_positions(self.conn, m, now, window) for m in {j.model for j in jobs}}
        return [(j, by_model[j.model][j.id]) for j in jobs if j.id in by_model[j.model]]

    def sec_per_cost(self, model: str) -> float:
        return sec_per_cost(self.conn, model)

    def record_speed(self, model: str, seconds_per_frame_step: float) -> None:
        with self.atomic():
            record_speed(self.conn, model, seconds_per_frame_step, self.clock())

    def seconds_until_free(
        self, slots: int, *, user_id: str | None = None, guild_id: str | None = None
    ) -> float:
        """Roughly when `slots` of the matching waiting jobs will have finished (at least 5 s)."""
        where, params = "1 = 1", ()
        if user_id is not None:
            where, params = "user_id = ?", (user_id,)
        elif guild_id is not None:
            where, params = "guild_id = ?", (guild_id,)
        rows: list[Any] = self.conn.execute(
            f"SELECT model, cost, COALESCE(progress_step, 0), COALESCE(progress_total, 0) FROM jobs"
            f" WHERE state IN ('queued', 'running') AND {where} ORDER BY state = 'running' DESC, id LIMIT ?",
            (*params, max(1, slots)),
        ).fetchall()
        speeds = {model: sec_per_cost(self.conn, model) for model in {row[0] for row in rows}}
        total = 0.0
        for model, cost, step, steps in rows:
            done = step / steps if steps else 0.0
            total += cost * (1 - done) * speeds[model]
        return max(5.0, math.ceil(total))
