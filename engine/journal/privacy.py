"""Forgetting: a member's or a server's jobs, and everything past the retention period.

A job row holds the prompt, the options, the member's name and ids and what the surface needs to
reply, so forgetting deletes the row itself, in every state. What stays is what the audit log
needs (who did what, when: moderator actions, bans, refusals by category, never a prompt) and
the per-server settings. Deleted pages are overwritten (`secure_delete`) and the write-ahead log
folded back and truncated, so the prompt is not left readable in the file's free space either.

A worker still rendering a forgotten job finds its row gone when it reports back, and discards
the clip it made (a fenced result; see `claims.complete`).
"""

from __future__ import annotations

from engine.journal.base import JournalBase

# Retention leaves jobs that wait or render; a clip rendered a whole period ago and still not
# delivered (its surface gone) is as old as any other.
_LIVE = "('queued', 'running')"


class Privacy(JournalBase):
    def _delete_jobs(self, where: str, params: tuple[object, ...]) -> list[str]:
        """Delete the jobs matching `where`; returns the files they leave behind for the caller to
        remove: their clips, and the uploaded pictures no remaining job starts from (pictures are
        stored once under their hash, so a re-roll by someone else may still need one)."""
        self.conn.execute("PRAGMA secure_delete = ON")
        with self.atomic():
            rows = self.conn.execute(
                f"SELECT clip_path, json_extract(request, '$.image') FROM jobs WHERE {where}", params
            ).fetchall()
            self.conn.execute(f"DELETE FROM jobs WHERE {where}", params)
            pictures = sorted({row[1] for row in rows if row[1]})
            kept: set[str] = set()
            if pictures:
                marks = ", ".join("?" * len(pictures))
                kept = {
                    row[0]
                    for row in self.conn.execute(
                        f"SELECT DISTINCT json_extract(request, '$.image') FROM jobs"
                        f" WHERE json_extract(request, '$.image') IN ({marks})",
                        pictures,
                    )
                }
        self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return [row[0] for row in rows if row[0]] + [p for p in pictures if p not in kept]

    def forget_member(self, user_id: str) -> list[str]:
        """Every job of one member, in every server and DM; their rate bucket and queue tag too."""
        clips = self._delete_jobs("user_id = ?", (user_id,))
        with self.atomic():
            self.conn.execute("DELETE FROM buckets WHERE key = ?", (f"user:{user_id}",))
            self.conn.execute("DELETE FROM fair_members WHERE member = ?", (user_id,))
        return clips

    def forget_server(self, guild_id: str) -> list[str]:
        """Every job made in one server."""
        return self._delete_jobs("guild_id = ?", (guild_id,))

    def expire_before(self, cutoff: float) -> list[str]:
        """Jobs created before `cutoff` (the retention period), except those waiting or rendering."""
        return self._delete_jobs(f"created_at < ? AND state NOT IN {_LIVE}", (cutoff,))

    def count_jobs_of(self, *, user_id: str | None = None, guild_id: str | None = None) -> int:
        """How many rows a member or server still has (what a forget would delete)."""
        column, value = ("user_id", user_id) if user_id is not None else ("guild_id", guild_id)
        return self.conn.execute(f"SELECT COUNT(*) FROM jobs WHERE {column} = ?", (value,)).fetchone()[0]
