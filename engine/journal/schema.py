"""Opening the journal file: the connection settings, then every migration it has not run yet."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import sqlite_utils

from engine.journal.connection import open_connection, transaction
from engine.journal.migrations import v001_initial, v002_kv, v003_fair_tags, v004_delivery_leases

MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [
    v001_initial.up,
    v002_kv.up,
    v003_fair_tags.up,
    v004_delivery_leases.up,
]


def connect(path: Path | str) -> sqlite3.Connection:
    """Open the journal with the settings every connection must share, migrating if needed."""
    conn = open_connection(path)
    migrate(conn)
    return conn


def migrate(conn: sqlite3.Connection) -> None:
    # One write transaction: of two processes opening a fresh file, the second waits and then
    # finds the steps already run.
    with transaction(conn):
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version >= len(MIGRATIONS):
            return
        db = sqlite_utils.Database(conn)
        for number, step in enumerate(MIGRATIONS[version:], start=version + 1):
            step(db)
            conn.execute(f"PRAGMA user_version = {number}")
