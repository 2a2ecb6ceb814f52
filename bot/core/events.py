"""Job events as this process learns of them, for whoever counts or logs them.

The core emits one `JobEvent` where it learns a job's news: intake (`queued`, `refused`), the
in-process worker (`started`), the dispatcher (`done`, `failed`, `cancelled` when the finished
job's first delivery begins; `delivered`; `delivery_retry`, `undeliverable`). The dispatcher's
delivery is fenced across processes, so with several bot processes on one journal each
outcome is still emitted by exactly one of them, whichever worker rendered the job.

Listeners (the job log, the metrics) run on the event loop and must be quick; one that
raises is logged and the others still hear the event. Other parts (the output check's
`held` and `flagged`, say) emit their own kinds through the same `JobEvents.emit`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engine.journal import Job, JobState

log = logging.getLogger(__name__)
# One line per job event, under a logger of its own so owners can route or silence it.
jobs_log = logging.getLogger("promptreel.jobs")

# What a finished job's state says happened to it.
OUTCOMES: dict[JobState, str] = {
    JobState.RENDERED: "done",
    JobState.DELIVERED: "done",
    JobState.FAILED: "failed",
    JobState.DEAD: "failed",
    JobState.CANCELLED: "cancelled",
}


@dataclass(frozen=True)
class JobEvent:
    kind: str
    job_id: int
    preset: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, kind: str, job: Job, **fields: Any) -> JobEvent:
        return cls(kind, job.id, job.model, fields)


Listener = Callable[[JobEvent], None]


class JobEvents:
    def __init__(self) -> None:
        self._listeners: list[Listener] = [log_job_event]

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Hear every event from now on; the returned function stops it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def emit(self, event: JobEvent) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                log.exception("a listener of job events failed on %s", event.kind)

    def ended(self, job: Job) -> None:
        """A finished job is about to be answered for the first time: done, failed or cancelled."""
        kind = OUTCOMES.get(job.state, str(job.state))
        extra: dict[str, Any] = {"attempts": job.attempts}
        if kind == "done" and job.render_seconds is not None:
            extra["render_seconds"] = round(job.render_seconds, 3)
        if kind == "failed" and job.error:
            extra["reason"] = job.error
        self.emit(JobEvent.of(kind, job, **extra))


def log_job_event(event: JobEvent) -> None:
    """`job 12 queued preset=tiny`, with the same facts as the record's `extra` for JSON logs."""
    details = "".join(f" {k}={v}" for k, v in event.fields.items() if v is not None)
    preset = f" preset={event.preset}" if event.preset else ""
    jobs_log.info(
        "job %s %s%s%s",
        event.job_id,
        event.kind,
        preset,
        details,
        extra={"job": event.job_id, "event": event.kind, "preset": event.preset, **event.fields},
    )
