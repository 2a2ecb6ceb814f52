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
