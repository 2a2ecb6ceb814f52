"""The audit log: every moderator action and every refusal, per server, newest first."""

from __future__ import annotations

from typing import Any

from engine.journal.base import JournalBase


class Audit(JournalBase):
    def audit(
        self,
        action: str,
        *,
        actor_id: str | None,
        guild_id: str | None = None,
        user_id: str | None = None,
        category: str | None = None,
        detail: str | None = None,
    ) -> None:
        """One audit row; inside `atomic()` it commits with the change it records."""
        with self.atomic():
            self.conn.execute(
                "INSERT INTO audit (at, guild_id, actor_id, user_id, action, category, detail)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (self.clock(), guild_id, actor_id, user_id, action, category, detail),
            )

    def audit_log(self, guild_id: str | None, limit: int = 20) -> list[dict[str, Any]]:
        sql = "SELECT * FROM audit" + (" WHERE guild_id = ?" if guild_id is not None else "")
        rows = self.conn.execute(sql + f" ORDER BY id DESC LIMIT {limit:d}", (guild_id,) if guild_id else ())
        return [dict(r) for r in rows]

    # --- reports: members flag a clip to the moderators of the server it was made in ----------

    def report(self, job_id: int, *, by: str, guild_id: str | None, user_id: str) -> bool:
        """Record one member's report of a job; False if they had reported it already."""
        detail = f"job {job_id:d}"
        with self.atomic():
            seen = self.conn.execute(
                "SELECT 1 FROM audit WHERE action = 'report' AND actor_id = ? AND detail = ?", (by, detail)
            ).fetchone()
            if seen:
                return False
            self.audit("report", actor_id=by, guild_id=guild_id, user_id=user_id, detail=detail)
        return True

    def reports(self, guild_id: str | None, limit: int = 20) -> list[dict[str, Any]]:
        """Reported jobs of one server (None: DMs), most reported first, with the job's prompt
        (None once the job is deleted: forgotten or past retention)."""
        rows = self.conn.execute(
            "SELECT CAST(substr(a.detail, 5) AS INTEGER) AS job_id, COUNT(*) AS reports,"
            " MAX(a.at) AS last_at, a.user_id AS user_id,"
            " json_extract(j.request, '$.prompt') AS prompt"
            " FROM audit a LEFT JOIN jobs j ON j.id = CAST(substr(a.detail, 5) AS INTEGER)"
            " WHERE a.action = 'report' AND a.guild_id IS ?"
            f" GROUP BY job_id ORDER BY reports DESC, last_at DESC LIMIT {limit:d}",
            (guild_id,),
        )
        return [dict(r) for r in rows]
