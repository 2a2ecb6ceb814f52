"""What the HTTP endpoints read from a running core: readiness, workers seen, the dashboard's data.

Everything is asked of the journal through the server's own `AsyncJournal` (a connection and
thread of its own, never the loop): a scrape or a dashboard refresh never waits behind intake,
and intake never waits behind them. The dashboard's questions go in one hop (`db.run`).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from bot.core import Core
from bot.http import texts
from engine.journal import AsyncJournal, Job, Journal, Position

# A readiness probe of the journal waits this long for another process's lock, and an answer
# that takes longer still (a stalled disk) counts as failing too: /readyz must say so promptly,
# not hang for the busy timeout.
JOURNAL_PROBE_S = 2.0
PROBE_ANSWER_S = JOURNAL_PROBE_S + 1.0
# The dashboard lists workers seen this recently; the liveness window says which are alive.
WORKERS_SHOWN_S = 24 * 3600
REFUSALS_WINDOW_S = 24 * 3600
REFUSAL_BUCKETS = 24


@dataclass(frozen=True)
class WorkerSeen:
    name: str
    preset: str
    last_seen: float
    backend: str = "journal"


def liveness_window(core: Core) -> float:
    """A worker heartbeats every third of a lease; two leases without one and it counts as gone
    (the same window the journal's ETAs use to count live workers)."""
    return 2 * core.settings.lease_seconds


def adapters_of(core: Core) -> list[Any]:
    """The surfaces the core serves (`core.adapters`, by name), else its one adapter."""
    adapters = getattr(core, "adapters", None)
    if isinstance(adapters, dict):
        return list(adapters.values()) or [core.adapter]
    return list(adapters or [core.adapter])


async def workers_seen(core: Core, db: AsyncJournal, since: float) -> list[WorkerSeen]:
    """Workers seen at or after `since`: the journal's heartbeats, then every other backend's."""
    rows = await db.workers_seen(since)
    found = [WorkerSeen(r["name"], r["model"], r["last_seen"]) for r in rows]
    for source in core.worker_sources:
        for w in await source(since):
            found.append(WorkerSeen(w.name, w.preset, w.last_seen, getattr(w, "backend", "other")))
    return found


class JournalProbe:
    """A test write of the journal, at most one at a time.

    The probe waits `JOURNAL_PROBE_S` for another process's lock, on the server's own journal
    thread; probes every few seconds must not stack up there, so a probe still running is waited
    on again (for at most `PROBE_ANSWER_S`) instead of starting another.
    """

    def __init__(self, db: AsyncJournal) -> None:
        self.db = db
        self._running: asyncio.Task[None] | None = None

    async def failure(self) -> str | None:
        if self._running is None or self._running.done():
            self._running = asyncio.create_task(
                self.db.probe_write(wait_s=JOURNAL_PROBE_S), name="promptreel-journal-probe"
            )
            # Its failure is reported to whoever waits; one that outlived every waiter is dropped.
            self._running.add_done_callback(lambda t: t.cancelled() or t.exception())
        running = self._running
        try:
            await asyncio.wait_for(asyncio.shield(running), PROBE_ANSWER_S)
        except TimeoutError:
            return texts.journal_slow(PROBE_ANSWER_S)
        except Exception as exc:
            return texts.journal_unwritable(exc)
        return None


async def readiness(core: Core, probe: JournalProbe) -> list[str]:
    """What keeps the bot from serving, one line each; empty when it is ready."""
    if core.journal is None:
        return [texts.NOT_STARTED]
    failing = []
    window = liveness_window(core)
    try:  # read first: a read never waits for a lock, and the probe may
        alive = {w.preset for w in await workers_seen(core, probe.db, time.time() - window)}
    except Exception as exc:
        failing.append(texts.workers_unknown(exc))
    else:
        failing += [texts.no_worker(preset, window) for preset in core.models if preset not in alive]
    journal = await probe.failure()
    if journal is not None:
        failing.insert(0, journal)
    for adapter in adapters_of(core):
        connected = getattr(adapter, "connected", None)
        if connected is not None and not connected():
            failing.append(texts.surface_down(adapter.name))
    return failing


async def metrics_snapshot(core: Core, db: AsyncJournal) -> dict[str, Any]:
    """The journal's numbers for `Metrics.update`."""
    states, queued = await db.run(lambda j: (j.count_by_state(), j.queued_by_model()))
    alive: dict[str, int] = {}
    for w in await workers_seen(core, db, time.time() - liveness_window(core)):
        alive[w.preset] = alive.get(w.preset, 0) + 1
    return {"states": states, "queued": queued, "workers": alive}


@dataclass
class DashboardData:
    now: float
    queue: list[tuple[Job, Position | None]]
    waiting: int
    workers: list[WorkerSeen]
    window_s: float
    clips: list[Job]
    refusals: list[tuple[float, str]]
    audit: list[dict[str, Any]]
    not_ready: list[str] = field(default_factory=list)
    held: list[Job] = field(default_factory=list)


def _read(journal: Journal, now: float) -> dict[str, Any]:
    return {
        "queue": journal.queue_view(limit=50),
        "waiting": journal.count_waiting(),
        "clips": journal.recent_clips(limit=6),
        "refusals": journal.refusals_since(now - REFUSALS_WINDOW_S),
        "audit": journal.audit_log(None, limit=20),
        "held": journal.held_jobs(None, limit=25),
    }


async def dashboard_data(core: Core, probe: JournalProbe) -> DashboardData:
    now = time.time()
    read = await probe.db.run(_read, now)
    workers = await workers_seen(core, probe.db, now - WORKERS_SHOWN_S)
    return DashboardData(
        now=now,
        workers=workers,
        window_s=liveness_window(core),
        not_ready=await readiness(core, probe),
        **read,
    )
