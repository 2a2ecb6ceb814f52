"""Mentions on the social networks: each post becomes at most one job, and reading resumes where it stopped.

The post's row is written in the transaction that records its job (admitted or refused), so a
crash leaves either both or neither; the cursor is saved by the adapter after that commit, so a
restart may read a mention again but never loses one, and reading it again finds its row.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.journal.base import JournalBase
from engine.journal.jobs import Job
from engine.request import RenderRequest


class Posts(JournalBase):
    def enqueue_post(
        self,
        surface: str,
        post_id: str,
        request: RenderRequest,
        admit: Callable[[Any], Any],
        **job: Any,
    ) -> tuple[Job | None, Any, bool]:
        """`enqueue_if` for a post: (job, refusal, new); `new` is False for a post seen before,
        whose job (if any) is returned as it stands and nothing is recorded again."""
        with self.atomic():
            row = self.conn.execute(
                "SELECT job_id FROM posts WHERE surface = ? AND post_id = ?", (surface, post_id)
            ).fetchone()
            if row is not None:
                return (self.get(row[0]) if row[0] is not None else None), None, False
            recorded, refusal = self.enqueue_if(request, admit, **job)  # type: ignore[attr-defined]
            self.conn.execute(
                "INSERT INTO posts (surface, post_id, job_id, created_at) VALUES (?, ?, ?, ?)",
                (surface, post_id, recorded.id, self.clock()),
            )
            return recorded, refusal, True

    def note_post(self, surface: str, post_id: str) -> bool:
        """Record a post that became no job (refused before a request could be built: bad flags);
        False if it was known already, so its answer went out once."""
        with self.atomic():
            cur = self.conn.execute(
                "INSERT OR IGNORE INTO posts (surface, post_id, job_id, created_at) VALUES (?, ?, NULL, ?)",
                (surface, post_id, self.clock()),
            )
        return cur.rowcount == 1

    def post_job(self, surface: str, post_id: str) -> int | None:
        row = self.conn.execute(
            "SELECT job_id FROM posts WHERE surface = ? AND post_id = ?", (surface, post_id)
        ).fetchone()
        return row[0] if row else None

    def cursor(self, surface: str) -> str | None:
        row = self.conn.execute("SELECT value FROM cursors WHERE surface = ?", (surface,)).fetchone()
        return row[0] if row else None

    def save_cursor(self, surface: str, value: str) -> None:
        with self.atomic():
            self.conn.execute(
                "INSERT OR REPLACE INTO cursors (surface, value, updated_at) VALUES (?, ?, ?)",
                (surface, value, self.clock()),
            )
