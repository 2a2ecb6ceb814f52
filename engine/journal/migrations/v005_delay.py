"""Step 5: `jobs.delay`, why a running job is held up by the machine (no room, clips folder
unwritable), while it is, so the bot can tell its requester there is a delay, not a failure."""

from __future__ import annotations

import sqlite_utils


def up(db: sqlite_utils.Database) -> None:
    db.conn.execute("ALTER TABLE jobs ADD COLUMN delay TEXT")
