"""Per-server settings, bans and rate-limit buckets, and small bot-wide facts.

A server's settings are stored as one JSON object, so the chat side can add a setting without
a migration; what the settings mean (and their defaults) is the chat side's (`bot.admission`).
`None` for a server means bot-wide: bot-wide settings, and bans that apply everywhere.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from engine.journal.base import JournalBase

# The scope stored for "every server" (bot-wide settings, bans everywhere).
GLOBAL = "*"
# The one server setting the journal reads itself: the output check's threshold, which must be
# applied in the transaction that records a rendered clip (see `Claims.complete`).
OUTPUT_THRESHOLD = "output_threshold"


def output_threshold(conn: sqlite3.Connection, guild_id: str | None, default: float) -> float:
    """The output check's threshold for a job of `guild_id` (None: a DM job, the bot-wide one)."""
    row = conn.execute(
        "SELECT json_extract(config, ?) FROM guild_config WHERE guild_id = ?",
        (f"$.{OUTPUT_THRESHOLD}", guild_id or GLOBAL),
    ).fetchone()
    return default if row is None or row[0] is None else float(row[0])


class Servers(JournalBase):
    # --- settings ----------------------------------------------------------------------------

    def server_settings(self, guild_id: str | None) -> dict[str, Any]:
        row = self.conn.execute(
            "SELECT config FROM guild_config WHERE guild_id = ?", (guild_id or GLOBAL,)
        ).fetchone()
        return json.loads(row[0] if row and row[0] else "{}")

    def save_server_settings(self, guild_id: str | None, settings: dict[str, Any]) -> None:
        with self.atomic():
            self.conn.execute(
                "INSERT INTO guild_config (guild_id, config) VALUES (?, ?)"
                " ON CONFLICT(guild_id) DO UPDATE SET config = excluded.config",
                (guild_id or GLOBAL, json.dumps(settings)),
            )

    # --- bans --------------------------------------------------------------------------------

    def ban(self, guild_id: str | None, user_id: str, reason: str, by: str) -> None:
        with self.atomic():
            self.conn.execute(
                "INSERT OR REPLACE INTO bans (scope, user_id, reason, by, at) VALUES (?, ?, ?, ?, ?)",
                (guild_id or GLOBAL, user_id, reason, by, self.clock()),
            )

    def unban(self, guild_id: str | None, user_id: str) -> bool:
        with self.atomic():
            cur = self.conn.execute(
                "DELETE FROM bans WHERE scope = ? AND user_id = ?", (guild_id or GLOBAL, user_id)
            )
        return cur.rowcount > 0

    def ban_reason(self, user_id: str, guild_id: str | None) -> str | None:
        """The reason for a ban that applies here (a global one, or this guild's), or None."""
        row = self.conn.execute(
            "SELECT reason FROM bans WHERE user_id = ? AND scope IN (?, ?) ORDER BY scope = ? DESC LIMIT 1",
            (user_id, GLOBAL, guild_id or GLOBAL, GLOBAL),
        ).fetchone()
        return None if row is None else (row[0] or "no reason given")

    # --- rate limits -------------------------------------------------------------------------

    def token_wait(self, key: str, *, burst: int, per_minute: float) -> float | None:
        """What `take_token` would answer, spending nothing: a look before costly work."""
        row = self.conn.execute("SELECT tokens, updated_at FROM buckets WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        rate = per_minute / 60.0
        tokens = min(float(burst), row[0] + (self.clock() - row[1]) * rate)
        return None if tokens >= 1.0 else (1.0 - tokens) / rate

    def take_token(self, key: str, *, burst: int, per_minute: float) -> float | None:
        """Spend one token from a bucket; return the seconds to wait if it is empty."""
        now = self.clock()
        with self.atomic():
            row = self.conn.execute("SELECT tokens, updated_at FROM buckets WHERE key = ?", (key,)).fetchone()
            rate = per_minute / 60.0
            tokens = float(burst) if row is None else row[0]
            if row is not None:
                tokens = min(float(burst), tokens + (now - row[1]) * rate)
            if tokens < 1.0:
                return (1.0 - tokens) / rate
            self.conn.execute(
                "INSERT OR REPLACE INTO buckets (key, tokens, updated_at) VALUES (?, ?, ?)",
                (key, tokens - 1.0, now),
            )
        return None

    # --- bot-wide facts ----------------------------------------------------------------------

    def get_value(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_value(self, key: str, value: str) -> None:
        with self.atomic():
            self.conn.execute("INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)", (key, value))
