"""What the owner's health checks, metrics and dashboard read: counts, workers, recent clips.

Every question here is answered from indexes or kept counts, or by walking the newest rows
back (at most `MAX_ROWS_BACK` of them), so a dashboard refresh costs the same at any history
length. `count_by_state` is the exception (a grouped scan: ~0.1 s at 100,000 jobs), run once
a scrape on the HTTP server's own connection.
"""

from __future__ import annotations

from typing import Any

from engine.journal import fair
from engine.journal.base import JournalBase
from engine.journal.jobs import Job

# The newest rows looked at when going back in time (refusals over a day, the latest clips): a
# bound on the cost (~60 ms) that only a day of more jobs than this can reach.
MAX_ROWS_BACK = 20_000


class Observe(JournalBase):
    def count_by_state(self) -> dict[str, int]:
        """Jobs in each state, over the journal's whole history."""
        return dict(self.conn.execute("SELECT state, COUNT(*) FROM jobs GROUP BY state").fetchall())

    def queued_by_model(self) -> dict[str, int]:
        """Queued jobs per preset, from the counts triggers keep (never a count of the queue)."""
        rows = self.conn.execute("SELECT scope, n FROM job_counts WHERE scope LIKE 'queued:%'").fetchall()
        return {scope.removeprefix("queued:"): n for scope, n in rows}

    def workers_seen(self, since: float) -> list[dict[str, Any]]:
        """Workers that wrote a heartbeat at or after `since`, newest first."""
        rows = self.conn.execute(
            "SELECT name, model, last_seen FROM workers WHERE last_seen >= ? ORDER BY last_seen DESC",
            (since,),
        ).fetchall()
        return [dict(r) for r in rows]

    def recent_clips(self, limit: int = 6) -> list[Job]:
        """The newest jobs that have a clip on disk (rendered or delivered), newest first."""
        return self._jobs(
            "clip_path IS NOT NULL AND state IN ('rendered', 'delivered')",
            (),
            f"ORDER BY id DESC LIMIT {limit:d}",
        )

    def refusals_since(self, since: float) -> list[tuple[float, str]]:
        """(when, category) of every refusal at or after `since`, oldest first.

        Content-policy refusals carry their category in the audit log; the others (limits,
        bans, a paused server) only as the refused job's reason, which is used as the category.
        Both are walked from the newest row back, so only the period asked for is read.
        """
        found: list[tuple[float, str]] = []
        audit = self.conn.execute(
            "SELECT at, category FROM audit WHERE action = 'refused' ORDER BY id DESC LIMIT ?",
            (MAX_ROWS_BACK,),
        )
        for at, category in audit:
            if at < since:
                break
            found.append((at, category or "policy"))
        jobs = self.conn.execute(
            "SELECT created_at, state, error FROM jobs ORDER BY id DESC LIMIT ?", (MAX_ROWS_BACK,)
        )
        for created_at, state, error in jobs:
            if created_at < since:
                break
            if state == "refused" and error != "policy":  # policy ones are in the audit log above
                found.append((created_at, error or "refused"))
        return sorted(found)

    def queue_view(self, limit: int = 50) -> list[tuple[Job, fair.Position | None]]:
        """Running jobs, then the first `limit` queued ones in the order workers take them, each
        queued job with its place in its preset's queue and its ETA (running ones have none)."""
        jobs = self._jobs("state = 'running'", (), f"ORDER BY id LIMIT {limit:d}")
        out: list[tuple[Job, fair.Position | None]] = [(j, None) for j in jobs]
        left = limit - len(out)
        if left <= 0:
            return out
        queued = self._jobs("state = 'queued'", (), f"ORDER BY {fair.FAIR_KEY} LIMIT {left:d}")
        now, window = self.clock(), 2 * self.lease_seconds
        positions: dict[int, fair.Position] = {}
        for model in {j.model for j in queued}:
            positions |= fair.model_positions(self.conn, model, now, window, depth=left)
        return out + [(j, positions.get(j.id)) for j in queued]

    def probe_write(self, *, wait_s: float | None = None, key: str = "health:probe") -> None:
        """A real write (and commit): the journal takes writes now, or this raises why not.

        `wait_s`: how long to wait for another process's lock this once, instead of the
        connection's busy timeout, so a health check answers in its own time.
        """
        busy = self.conn.execute("PRAGMA busy_timeout").fetchone()[0]
        if wait_s is not None:
            self.conn.execute(f"PRAGMA busy_timeout = {round(wait_s * 1000):d}")
        try:
            with self.atomic():
                self.conn.execute(
                    "INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)", (key, repr(self.clock()))
                )
        finally:
            self.conn.execute(f"PRAGMA busy_timeout = {int(busy):d}")
