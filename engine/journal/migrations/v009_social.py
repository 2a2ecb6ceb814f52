"""Step 9: the posts that became jobs on the social networks, and each network's saved cursor.

`posts` is keyed by (surface, post id): a mention read twice (a restart before the cursor was
saved, two pages that overlap) finds its row and becomes no second job. `cursors` holds how far
each network's notifications were read, written only after the jobs they brought are committed.
Idempotent (IF NOT EXISTS), so the step can be renumbered when branches are merged.
"""

from __future__ import annotations

import sqlite_utils


def up(db: sqlite_utils.Database) -> None:
    db.conn.execute(
        "CREATE TABLE IF NOT EXISTS posts (surface TEXT NOT NULL, post_id TEXT NOT NULL,"
        " job_id INTEGER, created_at REAL NOT NULL, PRIMARY KEY (surface, post_id))"
    )
    db.conn.execute("CREATE INDEX IF NOT EXISTS posts_job ON posts (job_id)")
    db.conn.execute(
        "CREATE TABLE IF NOT EXISTS cursors (surface TEXT PRIMARY KEY, value TEXT NOT NULL,"
        " updated_at REAL NOT NULL)"
    )
