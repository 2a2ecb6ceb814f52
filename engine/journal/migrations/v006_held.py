"""Step 6: the output check's score on each rendered job, and the threshold it was judged by.

A job whose clip scored at or above its server's threshold is `held` (see `Claims.complete`)
instead of `rendered`: kept, never delivered, until a moderator releases or rejects it. The
partial index makes a server's list of held clips a look-up however long the history grows.
"""

from __future__ import annotations

import sqlite_utils


def up(db: sqlite_utils.Database) -> None:
    db.conn.execute("ALTER TABLE jobs ADD COLUMN check_score REAL")
    db.conn.execute("ALTER TABLE jobs ADD COLUMN check_threshold REAL")
    db.conn.execute("CREATE INDEX idx_jobs_held ON jobs (guild_id, id) WHERE state = 'held'")
