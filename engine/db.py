"""The SQLite file every part of Promptreel shares: connection settings, schema and migrations.

One connection belongs to one thread. The event loop never touches SQLite directly: it hands
calls to a `DbThread`, so a slow disk can stall a database call but never the bot.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import sqlite_utils

T = TypeVar("T")

BUSY_TIMEOUT_MS = 15_000


def _v1(db: sqlite_utils.Database) -> None:
    db["jobs"].create(
        {
            "id": int,
            "created_at": float,
            "user_id": str,
            "user_name": str,
            "guild_id": str,
            "channel_id": str,
            "adapter": str,
            "priority": int,
            "model": str,
            "batch_key": str,
            "request": str,  # RenderRequest as JSON
            "cost": float,  # frames x steps, the unit render speed is measured in
            "state": str,
            "attempts": int,
            "owner": str,
            "lease_until": float,
            "started_at": float,
            "finished_at": float,
            "progress_step": int,
            "progress_total": int,
            "cancel_requested": int,
            "cancelled_by": str,
            "clip_path": str,
            "render_seconds": float,
            "error": str,
            "parent_id": int,
            "reply": str,  # adapter data needed to answer (JSON): message ids, interaction token
            "delivery": str,  # pending | sending | sent | failed
            "delivery_attempts": int,
            "delivery_after": float,
            "delivered_at": float,
        },
        pk="id",
        not_null={"created_at", "user_id", "adapter", "state", "model"},
        defaults={"priority": 0, "attempts": 0, "cancel_requested": 0, "delivery_attempts": 0},
    )
    db["jobs"].create_index(["state", "priority", "id"])
    db["jobs"].create_index(["user_id", "state"])
    db["jobs"].create_index(["guild_id", "state"])
    db["jobs"].create_index(["delivery", "adapter"])
    db["speeds"].create(
        {"model": str, "sec_per_cost": float, "samples": int, "updated_at": float}, pk="model"
    )
    db["workers"].create({"name": str, "model": str, "last_seen": float}, pk="name")
    db["audit"].create(
        {
            "id": int,
            "at": float,
            "guild_id": str,
            "actor_id": str,
            "user_id": str,
            "action": str,
            "category": str,
            "detail": str,
        },
        pk="id",
    )
    db["audit"].create_index(["guild_id", "at"])
    db["bans"].create(
        {"scope": str, "user_id": str, "reason": str, "by": str, "at": float}, pk=("scope", "user_id")
    )
    db["guild_config"].create({"guild_id": str, "config": str}, pk="guild_id")
    db["buckets"].create({"key": str, "tokens": float, "updated_at": float}, pk="key")


def _v2(db: sqlite_utils.Database) -> None:
    # Small facts an adapter must remember across restarts (the synced command set's hash).
    db["kv"].create({"key": str, "value": str}, pk="key")


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [_v1, _v2]


def connect(path: Path | str) -> sqlite3.Connection:
    """Open the journal with the settings every connection must share, migrating if needed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # isolation_level=None: we issue BEGIN ourselves, so claims can use BEGIN IMMEDIATE.
    conn = sqlite3.connect(
        path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
    )
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    _enable_wal(conn)
    conn.execute("PRAGMA synchronous = NORMAL")
    migrate(conn)
    return conn


def _enable_wal(conn: sqlite3.Connection) -> None:
    """Switch to WAL, retrying: while another connection converts a fresh file, SQLite can
    answer "database is locked" at once instead of calling the busy handler."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def migrate(conn: sqlite3.Connection) -> None:
    with transaction(conn):
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version >= len(MIGRATIONS):
            return
        db = sqlite_utils.Database(conn)
        for number, step in enumerate(MIGRATIONS[version:], start=version + 1):
            step(db)
            conn.execute(f"PRAGMA user_version = {number}")


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A write transaction that takes the write lock up front.

    A deferred BEGIN that reads then writes can fail with "database is locked" however long the
    busy timeout; BEGIN IMMEDIATE waits for the lock instead, which is what claims need.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


class DbThread:
    """Runs blocking database work on one dedicated thread and lets the event loop await it."""

    def __init__(self, factory: Callable[[], Any]) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="promptreel-db")
        # Built on the thread that will use it, so the connection never changes threads.
        self._obj: Any = self._executor.submit(factory).result()

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, partial(fn, *args, **kwargs))

    @property
    def obj(self) -> Any:
        return self._obj

    def close(self) -> None:
        close = getattr(self._obj, "close", None)
        if close is not None:
            self._executor.submit(close).result()
        self._executor.shutdown(wait=True)
