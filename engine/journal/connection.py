"""How every connection to the journal is opened, and the one way to write to it.

One connection belongs to one thread. WAL lets readers (the bot answering "where is my job")
carry on while a worker writes, and the busy timeout makes writers wait for each other
instead of failing at once.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# How long a statement waits for another connection's write lock before it fails with
# "database is locked" (`EngineSettings.busy_timeout_seconds`); workers then back off and retry.
BUSY_TIMEOUT_S = 15.0


def open_connection(path: Path | str, *, busy_timeout: float = BUSY_TIMEOUT_S) -> sqlite3.Connection:
    """A connection with the settings every one must share (see `schema.connect`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # isolation_level=None: we issue BEGIN ourselves, so claims can use BEGIN IMMEDIATE.
    conn = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None, check_same_thread=False)
    try:
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {round(busy_timeout * 1000):d}")
        _enable_wal(conn, busy_timeout)
        conn.execute("PRAGMA synchronous = NORMAL")
    except BaseException:
        conn.close()
        raise
    return conn


def _enable_wal(conn: sqlite3.Connection, busy_timeout: float) -> None:
    """Switch to WAL, retrying: while another connection converts a fresh file, SQLite can
    answer "database is locked" at once instead of calling the busy handler."""
    deadline = time.monotonic() + busy_timeout
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A write transaction that takes the write lock up front.

    A deferred BEGIN that reads then writes can fail with "database is locked" however long the
    busy timeout; BEGIN IMMEDIATE waits for the lock instead, which is what claims need.
    Inside a transaction already open on this connection it joins that one, so a caller can
    make several journal calls (an admission check and its insert, a change and its audit
    row) commit or roll back together.
    """
    if conn.in_transaction:
        yield conn
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
