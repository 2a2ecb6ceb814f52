"""Opening the journal file: the connection settings, then every migration it has not run yet.

A journal that needs migrating is first copied next to itself (`promptreel.db.v3.bak` for one
at version 3), so an owner can always go back; a journal migrated by a newer Promptreel is
refused rather than used by code that does not know its schema. `backup` makes the same kind
of consistent copy on demand, while the bot runs (`python -m engine journal backup PATH`).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

import sqlite_utils

from engine.journal.connection import BUSY_TIMEOUT_S, open_connection, transaction
from engine.journal.errors import JournalError, JournalTooNew, JournalUnavailable, is_lock_fault
from engine.journal.migrations import (
    v001_initial,
    v002_kv,
    v003_fair_tags,
    v004_delivery_leases,
    v005_delay,
    v006_held,
    v007_clip_prints,
    v009_social,
    v010_previews,
)

log = logging.getLogger(__name__)

MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [
    v001_initial.up,
    v002_kv.up,
    v003_fair_tags.up,
    v004_delivery_leases.up,
    v005_delay.up,
    v006_held.up,
    v007_clip_prints.up,
    v009_social.up,
    v010_previews.up,
]


def connect(path: Path | str, *, busy_timeout: float = BUSY_TIMEOUT_S) -> sqlite3.Connection:
    """Open the journal with the settings every connection must share, migrating if needed.

    Raises `JournalError` (one line for the owner) when the file cannot be used at all; a lock
    held by another process past the busy timeout stays a `sqlite3.OperationalError`, which
    passes by itself, so callers can wait and try again.
    """
    path = Path(path)
    try:
        conn = open_connection(path, busy_timeout=busy_timeout)
    except sqlite3.Error as exc:
        if is_lock_fault(exc):
            raise
        raise JournalUnavailable(path, exc) from exc
    except OSError as exc:  # its folder cannot be made: a file in the way, a read-only parent
        raise JournalUnavailable(path, exc) from exc
    try:
        migrate(conn)
    except sqlite3.Error as exc:
        conn.close()
        if is_lock_fault(exc):
            raise
        raise JournalUnavailable(path, exc) from exc
    except BaseException:
        conn.close()
        raise
    read_only = _read_only(path)
    if read_only is not None:
        # SQLite opens such a file read-only without a word, and the first write fails much later.
        conn.close()
        raise JournalUnavailable(path, read_only)
    return conn


def _read_only(path: Path) -> OSError | None:
    """Why this process cannot write the journal file, if it cannot (a read-only mount, its mode)."""
    if os.access(path, os.W_OK):
        return None
    code = errno.EROFS if os.statvfs(path).f_flag & os.ST_RDONLY else errno.EACCES
    return OSError(code, os.strerror(code), str(path))


def _version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def _file_of(conn: sqlite3.Connection) -> Path | None:
    for row in conn.execute("PRAGMA database_list"):
        if row[1] == "main" and row[2]:
            return Path(row[2])
    return None


def migrate(conn: sqlite3.Connection) -> None:
    """Run the steps the file has not run yet, after backing it up; refuse a newer file."""
    known = len(MIGRATIONS)
    path = _file_of(conn) or Path(":memory:")
    version = _version(conn)  # a read: a current journal opens without waiting for any lock
    if version > known:
        raise JournalTooNew(path, version, known)
    if version == known:
        return
    if version > 0 and _file_of(conn) is not None:
        backup_before_migrating(conn, path, version)
    # One write transaction: of two processes opening a fresh file, the second waits and then
    # finds the steps already run.
    with transaction(conn):
        version = _version(conn)
        if version > known:
            raise JournalTooNew(path, version, known)
        db = sqlite_utils.Database(conn)
        for number, step in enumerate(MIGRATIONS[version:], start=version + 1):
            step(db)
            conn.execute(f"PRAGMA user_version = {number}")


def backup_name(path: Path, version: int) -> Path:
    """`promptreel.db.v3.bak` beside `promptreel.db` at version 3; never an existing file."""
    candidate = path.with_name(f"{path.name}.v{version}.bak")
    n = 1
    while candidate.exists():
        candidate = path.with_name(f"{path.name}.v{version}.{n}.bak")
        n += 1
    return candidate


def backup_before_migrating(conn: sqlite3.Connection, path: Path, version: int) -> Path:
    target = backup_name(path, version)
    try:
        _vacuum_into(conn, target)
    except (sqlite3.Error, OSError) as exc:
        # No backup, no migration: the owner must be able to go back to what they had.
        action = f"back up the journal {path} to {target} before upgrading it"
        raise JournalUnavailable(path, exc, action=action) from exc
    log.warning("journal %s is at version %s: backed up to %s before upgrading it", path, version, target)
    return target


def _vacuum_into(conn: sqlite3.Connection, target: Path) -> None:
    """A consistent copy of the whole database (one read transaction), renamed into place whole."""
    partial = target.with_name(f".{target.name}.partial")
    with contextlib.suppress(FileNotFoundError):
        partial.unlink()
    try:
        conn.execute("VACUUM INTO ?", (str(partial),))
        os.replace(partial, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()


def backup(path: Path | str, target: Path | str, *, busy_timeout: float = BUSY_TIMEOUT_S) -> Path:
    """Copy the journal at `path` to `target` consistently, even while the bot and workers write.

    The copy is a snapshot of one moment (SQLite's `VACUUM INTO` reads in one transaction), not
    a file copy that can catch a write half-way. The journal itself is opened read-only and
    neither migrated nor changed.
    """
    path, target = Path(path), Path(target)
    if not path.is_file():
        raise JournalError(
            f"there is no journal at {path}; pass the right one with --db or PROMPTREEL_DB_PATH."
        )
    if target.exists():
        raise JournalError(f"{target} already exists; choose a new file name for the backup.")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=busy_timeout)
    except (sqlite3.Error, OSError) as exc:
        raise JournalUnavailable(path, exc, action=f"read the journal {path}") from exc
    try:
        conn.execute(f"PRAGMA busy_timeout = {round(busy_timeout * 1000):d}")
        _vacuum_into(conn, target)
    except (sqlite3.Error, OSError) as exc:
        why = getattr(exc, "strerror", None) or str(exc)
        raise JournalError(f"cannot back up the journal {path} to {target} ({why}).") from exc
    finally:
        conn.close()
    return target
