"""Step 3: fair order by start tags, kept counts of waiting jobs, and the indexes they need.

- `jobs.start_tag`: the job's place in the fair order (start-time fair queuing), fixed at
  admission in estimated GPU seconds; `fair_members` holds each member's virtual finish
  time and `fair_clock` the queue's virtual time.
- `job_counts`: waiting jobs (queued or running) overall and per server, and queued jobs per
  model with their total cost, kept by triggers, so admission and positions never count the
  whole queue.
- `speeds.overhead_s`: what a job costs besides its denoising steps (encoding, storing), so
  ETAs of short clips are not all too early.
- Jobs already waiting get the start tags of the old round-robin order, in rounds.
"""

from __future__ import annotations

import sqlite_utils

WAITING = "('queued', 'running')"

_COUNT = """INSERT INTO job_counts (scope, n, cost)
    SELECT scope, d, d * COALESCE({row}.cost, 0) FROM (
        SELECT '*' AS scope UNION ALL SELECT 'guild:' || {row}.guild_id WHERE {row}.guild_id IS NOT NULL
    ), (SELECT {waiting_delta} AS d) WHERE d != 0
    ON CONFLICT(scope) DO UPDATE SET n = n + excluded.n, cost = cost + excluded.cost;
INSERT INTO job_counts (scope, n, cost)
    SELECT 'queued:' || {row}.model, d, d * COALESCE({row}.cost, 0)
    FROM (SELECT {queued_delta} AS d) WHERE d != 0
    ON CONFLICT(scope) DO UPDATE SET n = n + excluded.n, cost = cost + excluded.cost;"""


def _counting(row: str, waiting_delta: str, queued_delta: str) -> str:
    return _COUNT.format(row=row, waiting_delta=waiting_delta, queued_delta=queued_delta)


def up(db: sqlite_utils.Database) -> None:
    conn = db.conn
    conn.execute("ALTER TABLE jobs ADD COLUMN start_tag REAL")
    conn.execute("ALTER TABLE speeds ADD COLUMN overhead_s REAL NOT NULL DEFAULT 0")
    conn.execute(
        f"""UPDATE jobs SET start_tag = r.rn - 1 FROM (
              SELECT id, ROW_NUMBER() OVER (PARTITION BY priority, user_id ORDER BY id) AS rn
              FROM jobs WHERE state IN {WAITING}) AS r
            WHERE jobs.id = r.id"""
    )
    conn.execute("CREATE TABLE fair_members (member TEXT PRIMARY KEY, finish REAL NOT NULL)")
    conn.execute(
        f"INSERT INTO fair_members SELECT user_id, MAX(start_tag) + 1 FROM jobs"
        f" WHERE state IN {WAITING} GROUP BY user_id"
    )
    conn.execute("CREATE TABLE fair_clock (id INTEGER PRIMARY KEY CHECK (id = 1), vtime REAL NOT NULL)")
    conn.execute("INSERT INTO fair_clock VALUES (1, 0)")

    # Claims and positions read the queue in fair order; both indexes hold only queued jobs.
    conn.execute("DROP INDEX IF EXISTS idx_jobs_state_priority_id")
    conn.execute(
        "CREATE INDEX idx_jobs_queued_fair ON jobs (priority DESC, start_tag, id) WHERE state = 'queued'"
    )
    conn.execute(
        "CREATE INDEX idx_jobs_queued_model_fair ON jobs (model, priority DESC, start_tag, id, cost)"
        " WHERE state = 'queued'"
    )
    # Running jobs are few; their own index keeps the queued ones' indexes the only choice for
    # queued-job queries (a plain index on state would lead the planner to sort instead).
    conn.execute("CREATE INDEX idx_jobs_running ON jobs (model) WHERE state = 'running'")
    conn.execute("CREATE INDEX idx_jobs_running_by_id ON jobs (id) WHERE state = 'running'")

    conn.execute("CREATE TABLE job_counts (scope TEXT PRIMARY KEY, n INTEGER NOT NULL, cost REAL NOT NULL)")
    conn.execute(
        f"""INSERT INTO job_counts SELECT '*', COUNT(*), COALESCE(SUM(cost), 0) FROM jobs
            WHERE state IN {WAITING}"""
    )
    conn.execute(
        f"""INSERT INTO job_counts SELECT 'guild:' || guild_id, COUNT(*), COALESCE(SUM(cost), 0) FROM jobs
            WHERE state IN {WAITING} AND guild_id IS NOT NULL GROUP BY guild_id"""
    )
    conn.execute(
        """INSERT INTO job_counts SELECT 'queued:' || model, COUNT(*), COALESCE(SUM(cost), 0) FROM jobs
           WHERE state = 'queued' GROUP BY model"""
    )
    in_waiting = "({row}.state IN " + WAITING + ")"
    in_queue = "({row}.state = 'queued')"
    conn.execute(
        "CREATE TRIGGER jobs_count_insert AFTER INSERT ON jobs BEGIN "
        + _counting("NEW", in_waiting.format(row="NEW"), in_queue.format(row="NEW"))
        + " END"
    )
    conn.execute(
        "CREATE TRIGGER jobs_count_update AFTER UPDATE OF state ON jobs BEGIN "
        + _counting(
            "NEW",
            f"{in_waiting.format(row='NEW')} - {in_waiting.format(row='OLD')}",
            f"{in_queue.format(row='NEW')} - {in_queue.format(row='OLD')}",
        )
        + " END"
    )
    conn.execute(
        "CREATE TRIGGER jobs_count_delete AFTER DELETE ON jobs BEGIN "
        + _counting("OLD", f"-{in_waiting.format(row='OLD')}", f"-{in_queue.format(row='OLD')}")
        + " END"
    )
