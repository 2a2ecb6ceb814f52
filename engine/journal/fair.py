"""Fair ordering of waiting jobs, queue positions with ETAs, and the render speeds behind them.

The order is start-time fair queuing over members (requesters). Each member has a virtual
finish time; a job's start tag is fixed at admission as the later of the member's finish time
and the queue's virtual time (the start tag of the latest job a worker took), and the member's
finish time moves on by the job's estimated GPU seconds. Workers take jobs by priority, then
start tag, then id. So, over time and across restarts (the tags live in the journal), a member
waits behind everyone who has been served less, a long clip counts for what it costs, and a
member coming back after a quiet spell gets no credit saved up: they start at the queue's
present.

Because a job's place is fixed when it is admitted, a position is a count of the jobs ahead
of it (indexed, never a ranking of the whole queue), and nothing needs recomputing for
everyone when one job finishes. The functions take a connection because claims run them
under the write lock; `Fair` gives them to the rest of the project as journal methods.
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
# A position is counted from whichever end of the queue is nearer, up to this many jobs: a
# newcomer is near the front, a flooder's latest job near the back.
COUNT_CAP = 512

FAIR_KEY = "priority DESC, start_tag, id"


@dataclass(frozen=True)
class Waiting:
    id: int
    user_id: str
    model: str
    cost: float
    batch_key: str
    start_tag: float


def _model_filter(models: Sequence[str] | None) -> tuple[str, list[str]]:
    if not models:
        return "", []
    return f" AND model IN ({','.join('?' * len(models))})", list(models)


def fair_order(
    conn: sqlite3.Connection, models: Sequence[str] | None = None, limit: int | None = None
) -> list[Waiting]:
    """Queued jobs in the order workers will take them (the first `limit` of them)."""
    where, params = _model_filter(models)
    tail = "" if limit is None else f" LIMIT {int(limit):d}"
    rows = conn.execute(
        "SELECT id, user_id, model, cost, batch_key, start_tag FROM jobs"
        f" WHERE state = 'queued'{where} ORDER BY {FAIR_KEY}{tail}",
        params,
    ).fetchall()
    return [Waiting(*r) for r in rows]


# --- tags ------------------------------------------------------------------------------------


def start_tag(conn: sqlite3.Connection, member: str, service: float) -> float:
    """Place a member's new job: its start tag, and the member's finish time moved past it."""
    vtime = conn.execute("SELECT vtime FROM fair_clock").fetchone()[0]
    row = conn.execute("SELECT finish FROM fair_members WHERE member = ?", (member,)).fetchone()
    start = max(vtime, row[0] if row else 0.0)
    conn.execute(
        "INSERT INTO fair_members (member, finish) VALUES (?, ?)"
        " ON CONFLICT(member) DO UPDATE SET finish = excluded.finish",
        (member, start + service),
    )
    return start


def advance_clock(conn: sqlite3.Connection, started: float) -> None:
    """A worker took a job with this start tag: the queue's virtual time is at least that."""
    conn.execute("UPDATE fair_clock SET vtime = MAX(vtime, ?)", (started,))


# --- speeds ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Speed:
    sec_per_cost: float  # seconds per frame-step of denoising
    overhead_s: float  # seconds each job costs besides (encoding, storing the clip)

    def of(self, cost: float, jobs: int = 1) -> float:
        return cost * self.sec_per_cost + jobs * self.overhead_s


def speed_of(conn: sqlite3.Connection, model: str) -> Speed:
    row = conn.execute("SELECT sec_per_cost, overhead_s FROM speeds WHERE model = ?", (model,)).fetchone()
    return Speed(row[0], row[1]) if row else Speed(DEFAULT_SEC_PER_COST, 0.0)


def sec_per_cost(conn: sqlite3.Connection, model: str) -> float:
    return speed_of(conn, model).sec_per_cost


def record_speed(
    conn: sqlite3.Connection,
    model: str,
    sample: float,
    now: float | None = None,
    overhead_s: float | None = None,
) -> None:
    """Fold one render's measured seconds per frame-step (and per-job overhead, when measured)
    into the model's running averages."""
    now = time.time() if now is None else now
    conn.execute(
        """INSERT INTO speeds (model, sec_per_cost, samples, updated_at, overhead_s) VALUES (?, ?, 1, ?, ?)
           ON CONFLICT(model) DO UPDATE SET
             sec_per_cost = sec_per_cost * (1 - ?) + excluded.sec_per_cost * ?,
             overhead_s = CASE WHEN ? IS NULL THEN overhead_s
                               ELSE overhead_s * (1 - ?) + excluded.overhead_s * ? END,
             samples = samples + 1, updated_at = excluded.updated_at""",
        (
            model,
            sample,
            now,
            overhead_s or 0.0,
            SPEED_ALPHA,
            SPEED_ALPHA,
            overhead_s,
            SPEED_ALPHA,
            SPEED_ALPHA,
        ),
    )


def active_workers(conn: sqlite3.Connection, model: str, now: float, window: float) -> int:
    row = conn.execute(
        "SELECT COUNT(*) FROM workers WHERE model = ? AND last_seen >= ?", (model, now - window)
    ).fetchone()
    return max(1, row[0])


def running_cost(conn: sqlite3.Connection, model: str) -> tuple[int, float]:
    """The model's running jobs, and the frame-steps they still have to render."""
    row = conn.execute(
        """SELECT COUNT(*), COALESCE(SUM(cost * (1.0 - COALESCE(progress_step, 0) * 1.0
                                      / MAX(COALESCE(progress_total, 1), 1))), 0)
           FROM jobs WHERE state = 'running' AND model = ?""",
        (model,),
    ).fetchone()
    return row[0], row[1]


# --- positions -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Position:
    position: int  # 1 = next to start
    eta_s: float  # until this job's clip should be ready
    starts_in_s: float = 0.0  # until a worker should take it


def _count(
    conn: sqlite3.Connection, model: str, job: sqlite3.Row, side: str, cap: int | None
) -> tuple[int, float]:
    """(jobs, frame-steps) queued for `model` on one `side` of `job` in the fair order, stopping
    at `cap`. Each half is one index range (an OR of the two would walk the whole index)."""
    prio, tag, jid = job["priority"], job["start_tag"], job["id"]
    higher, row = (
        ("priority > ?", "(start_tag, id) < (?, ?)")
        if side == "ahead"
        else ("priority < ?", "(start_tag, id) > (?, ?)")
    )
    n_total, cost_total = 0, 0.0
    for where, params in ((higher, (prio,)), (f"priority = ? AND {row}", (prio, tag, jid))):
        left = None if cap is None else cap - n_total
        if left is not None and left <= 0:
            break
        tail = "" if left is None else f" LIMIT {left:d}"
        n, cost = conn.execute(
            f"SELECT COUNT(*), COALESCE(SUM(cost), 0) FROM (SELECT cost FROM jobs"
            f" WHERE state = 'queued' AND model = ? AND {where}{tail})",
            (model, *params),
        ).fetchone()
        n_total, cost_total = n_total + n, cost_total + cost
    return n_total, cost_total


def _ahead(conn: sqlite3.Connection, job: sqlite3.Row) -> tuple[int, float]:
    """Queued jobs of the job's model that workers take before it, and their frame-steps."""
    model = job["model"]
    n, cost = _count(conn, model, job, "ahead", COUNT_CAP)
    if n < COUNT_CAP:
        return n, cost
    n_after, cost_after = _count(conn, model, job, "behind", COUNT_CAP)
    if n_after < COUNT_CAP:
        total = conn.execute(
            "SELECT n, cost FROM job_counts WHERE scope = ?", (f"queued:{model}",)
        ).fetchone()
        return total[0] - n_after - 1, total[1] - cost_after - job["cost"]
    return _count(conn, model, job, "ahead", None)


def position_of(conn: sqlite3.Connection, job_id: int, now: float, worker_window: float) -> Position | None:
    """Where a queued job stands: its place in the order and when its clip should be ready.

    Jobs of other models are rendered by other workers, so only the same model's queue counts:
    the work still left on running jobs and every job ahead, shared among the live workers, plus
    the job's own render.
    """
    job = conn.execute(
        "SELECT id, model, state, priority, start_tag, cost FROM jobs WHERE id = ?", (job_id,)
    ).fetchone()
    if job is None or job["state"] != "queued":
        return None
    ahead, ahead_cost = _ahead(conn, job)
    speed = speed_of(conn, job["model"])
    workers = active_workers(conn, job["model"], now, worker_window)
    running, running_left = running_cost(conn, job["model"])
    wait = speed.of(running_left + ahead_cost, running + ahead) / workers
    return Position(ahead + 1, wait + speed.of(job["cost"]), wait)


def model_positions(
    conn: sqlite3.Connection, model: str, now: float, worker_window: float, depth: int | None = None
) -> dict[int, Position]:
    """Position and ETA of the first `depth` (or all) queued jobs of one model, in one pass."""
    order = fair_order(conn, [model], limit=depth)
    if not order:
        return {}
    speed = speed_of(conn, model)
    workers = active_workers(conn, model, now, worker_window)
    positions = {}
    jobs, ahead = running_cost(conn, model)
    for number, job in enumerate(order, start=1):
        wait = speed.of(ahead, jobs) / workers
        positions[job.id] = Position(number, wait + speed.of(job.cost), wait)
        ahead += job.cost
        jobs += 1
    return positions


class Fair(JournalBase):
    """The journal's questions about order and time: what runs next, where a job stands, how long."""

    def waiting(
        self, *, guild_id: str | None = None, user_id: str | None = None, limit: int | None = None
    ) -> list[Job]:
        """Running jobs first, then queued ones in the order they will start."""
        where, params = "", []
        for column, value in (("guild_id", guild_id), ("user_id", user_id)):
            if value is not None:
                where += f" AND {column} = ?"
                params.append(value)
        tail = "" if limit is None else f" LIMIT {int(limit):d}"
        running = self._jobs(f"state = 'running'{where}", params, f"ORDER BY id{tail}")
        if limit is not None and len(running) >= limit:
            return running[:limit]
        tail = "" if limit is None else f" LIMIT {int(limit) - len(running):d}"
        return running + self._jobs(f"state = 'queued'{where}", params, f"ORDER BY {FAIR_KEY}{tail}")

    def position(self, job_id: int) -> Position | None:
        return position_of(self.conn, job_id, self.clock(), worker_window=2 * self.lease_seconds)

    def positions(self, adapter: str, *, depth: int | None = None) -> list[tuple[Job, Position]]:
        """An adapter's queued jobs among the first `depth` (or all) of each model's queue, with
        where they stand: what status refreshes show."""
        models = [
            r[0].removeprefix("queued:")
            for r in self.conn.execute("SELECT scope FROM job_counts WHERE scope LIKE 'queued:%' AND n > 0")
        ]
        now, window = self.clock(), 2 * self.lease_seconds
        found: dict[int, Position] = {}
        for model in models:
            found |= model_positions(self.conn, model, now, window, depth)
        if not found:
            return []
        marks = ",".join("?" * len(found))
        jobs = self._jobs(f"id IN ({marks}) AND adapter = ?", (*found, adapter))
        return [(j, found[j.id]) for j in jobs]

    def sec_per_cost(self, model: str) -> float:
        return sec_per_cost(self.conn, model)

    def speed(self, model: str) -> Speed:
        return speed_of(self.conn, model)

    def record_speed(
        self, model: str, seconds_per_frame_step: float, overhead_s: float | None = None
    ) -> None:
        with self.atomic():
            record_speed(self.conn, model, seconds_per_frame_step, self.clock(), overhead_s)

    def seconds_until_free(
        self, slots: int, *, user_id: str | None = None, guild_id: str | None = None
    ) -> float:
        """Roughly when `slots` of the matching waiting jobs will have finished (at least 5 s):
        the running ones first, then the queued ones in the order workers take them."""
        where, params = "", []
        if user_id is not None:
            where, params = " AND user_id = ?", [user_id]
        elif guild_id is not None:
            where, params = " AND guild_id = ?", [guild_id]
        slots = max(1, slots)
        rows: list[Any] = self.conn.execute(
            "SELECT model, cost, COALESCE(progress_step, 0), COALESCE(progress_total, 0) FROM jobs"
            f" WHERE state = 'running'{where} ORDER BY id LIMIT ?",
            (*params, slots),
        ).fetchall()
        if len(rows) < slots:
            rows += self.conn.execute(
                f"SELECT model, cost, 0, 0 FROM jobs WHERE state = 'queued'{where}"
                f" ORDER BY {FAIR_KEY} LIMIT ?",
                (*params, slots - len(rows)),
            ).fetchall()
        now, window = self.clock(), 2 * self.lease_seconds
        total = 0.0
        for model in {row[0] for row in rows}:
            speed = speed_of(self.conn, model)
            workers = active_workers(self.conn, model, now, window)
            left = [
                cost * (1 - (step / steps if steps else 0.0)) for m, cost, step, steps in rows if m == model
            ]
            total = max(total, speed.of(sum(left), len(left)) / workers)
        return max(5.0, math.ceil(total))
