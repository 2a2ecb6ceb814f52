"""Step 4: a reply being sent has an owner and a lease, like a render.

A sender renews its lease while the send is in progress (a large upload can take minutes);
another process takes a reply over only once the lease has expired, so two bot processes on one
journal (an overlapping restart, a console next to the bot) never both send a live one.
"""

from __future__ import annotations

import sqlite_utils


def up(db: sqlite_utils.Database) -> None:
    db.conn.execute("ALTER TABLE jobs ADD COLUMN delivery_owner TEXT")
    db.conn.execute("ALTER TABLE jobs ADD COLUMN delivery_lease_until REAL")
