"""What can go wrong with the journal file itself, told apart from what a job or a caller did.

- `is_storage_fault(exc)`: the machine cannot use the journal right now: another process holds
  the write lock past the busy timeout, the disk is full, the file went read-only, an I/O error.
  Waiting and retrying helps, and the job in hand is not to blame.
- `JournalError`: the journal cannot be opened at all (read-only, on a full disk, written by a
  newer version, not a journal). Its message is one line for the owner starting the bot: the
  file, what is wrong, and what to do about it.

Only this package names sqlite3, so the rest of the project asks these instead.
"""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path

# Primary result codes (the low byte of an extended code) that say "the machine", not "the SQL".
_STORAGE_CODES = frozenset(
    {
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
        sqlite3.SQLITE_NOMEM,
        sqlite3.SQLITE_READONLY,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_PROTOCOL,
    }
)
_LOCK_CODES = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})


def _code(exc: BaseException) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)
    return None if code is None else code & 0xFF


def is_storage_fault(exc: BaseException) -> bool:
    """True when a journal call failed because of the machine (lock, full disk, read-only, I/O).

    Errors in the SQL itself (a missing column, a constraint) are bugs and stay False: retrying
    them would only hide them.
    """
    return isinstance(exc, sqlite3.OperationalError) and _code(exc) in _STORAGE_CODES


def is_lock_fault(exc: BaseException) -> bool:
    """Another connection holds the lock longer than the busy timeout: it passes by itself."""
    return isinstance(exc, sqlite3.OperationalError) and _code(exc) in _LOCK_CODES


def is_full(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and _code(exc) == sqlite3.SQLITE_FULL


class JournalError(Exception):
    """The journal cannot be used; the message is one line naming the file and the fix."""


class JournalUnavailable(JournalError):
    """The journal file cannot be opened or written: read-only, no space, not a journal."""

    def __init__(self, path: Path, exc: BaseException, *, action: str | None = None) -> None:
        self.path = Path(path)
        self.cause = exc
        why = getattr(exc, "strerror", None) or str(exc).strip() or type(exc).__name__
        action = action or f"open the journal {self.path}"
        super().__init__(f"cannot {action} ({why}). {_fix(self.path, exc)}")


class JournalTooNew(JournalError):
    """The file was migrated by a newer Promptreel; opening it here could undo what that one wrote."""

    def __init__(self, path: Path, version: int, known: int) -> None:
        self.path = Path(path)
        self.version = version
        self.known = known
        super().__init__(
            f"the journal {self.path} was written by a newer Promptreel (schema version {version}; "
            f"this one knows up to {known}). Run that newer version, or restore the backup it made "
            f"before upgrading ({self.path.name}.v{known}.bak, next to the journal)."
        )


def _fix(path: Path, exc: BaseException) -> str:
    if is_full(exc) or getattr(exc, "errno", None) == errno.ENOSPC:
        return (
            f"Free some space on the disk that holds {path.parent}, or set PROMPTREEL_DB_PATH (--db) "
            "to a journal on a disk that has room."
        )
    if isinstance(exc, sqlite3.DatabaseError) and not is_storage_fault(exc):
        return (
            f"It is not a Promptreel journal, or it is damaged: restore a backup ({path.name}.v*.bak), "
            "or set PROMPTREEL_DB_PATH (--db) to a new file."
        )
    return (
        f"Make {path} and its folder {path.parent} writable for the user running Promptreel, "
        "or set PROMPTREEL_DB_PATH (--db) to a journal in a place that is."
    )
