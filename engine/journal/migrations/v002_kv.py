"""Step 2: small facts an adapter must remember across restarts (the synced command set's hash)."""

from __future__ import annotations

import sqlite_utils


def up(db: sqlite_utils.Database) -> None:
    db["kv"].create({"key": str, "value": str}, pk="key")
