"""The durable job journal: every job's life, from queued to delivered, in one SQLite file.

This package owns the schema and every SQL statement the project runs; nothing outside it
writes SQL. Its parts, one concern each, are combined in `Journal`:

- `schema`, `migrations/`: opening the file and its numbered migration steps;
- `connection`: connection settings and the write transaction;
- `jobs`: the job record; `queue`: enqueue, look-ups, cancel;
- `claims`: leases and fenced results for workers; `deliveries`: replies owed;
- `held`: clips the output check held, released or rejected by moderators;
- `fair`: fair order, positions, ETAs and render speeds;
- `servers`: per-server settings, bans, rate buckets; `audit`: the audit log;
- `observe`: what health checks, metrics and the owner's dashboard read;
- `aio`: `AsyncJournal`, the same calls for the event loop;
- `errors`: storage faults told apart from bugs, and `JournalError` for a journal that cannot be used.
"""

from engine.journal.aio import AsyncJournal
from engine.journal.errors import (
    JournalError,
    JournalTooNew,
    JournalUnavailable,
    is_full,
    is_lock_fault,
    is_storage_fault,
)
from engine.journal.fair import Position
from engine.journal.held import Decision
from engine.journal.jobs import Job, JobState
from engine.journal.schema import backup
from engine.journal.store import Journal

__all__ = [
    "AsyncJournal",
    "Decision",
    "Job",
    "JobState",
    "Journal",
    "JournalError",
    "JournalTooNew",
    "JournalUnavailable",
    "Position",
    "backup",
    "is_full",
    "is_lock_fault",
    "is_storage_fault",
]
