"""Step 10: `jobs.preview_path` and `jobs.preview_step`, the latest live preview of a running job.

The preview itself is a small JPEG under the clips folder (`previews/`), written by the worker
and deleted when the job ends; the journal holds only where it is and which step it shows, so
the dispatcher of any process finds it with the job's progress. Images are kept out of the
journal on purpose: a BLOB rewritten every few seconds would churn the WAL and leave pictures of
a member's prompt in the file's free pages, which `/forget me` promises never to keep.
Idempotent (columns added only where missing), so the step can be renumbered when branches merge.
"""

from __future__ import annotations

import sqlite_utils


def up(db: sqlite_utils.Database) -> None:
    have = {row[1] for row in db.conn.execute("PRAGMA table_info(jobs)")}
    if "preview_path" not in have:
        db.conn.execute("ALTER TABLE jobs ADD COLUMN preview_path TEXT")
    if "preview_step" not in have:
        db.conn.execute("ALTER TABLE jobs ADD COLUMN preview_step INTEGER")
