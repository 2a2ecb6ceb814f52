"""`/metrics`: the bot's numbers in Prometheus' text format, each named `promptreel_*`.

Two kinds of number, read differently:

- What the journal knows (jobs by state, queue depth, workers seen) is read on each scrape,
  so every bot process on one journal reports the same truth (aggregate them with `max`).
- What happens (refusals, render times, output-check flags, delivery retries) is counted as
  this process hears of it through the core's job events. Outcomes and deliveries are emitted
  by exactly one process however many share the journal, so these add up with `sum`.

Every metric, and every label value known at start-up (each state, configured preset, policy
category, surface), is exported from the first scrape, at zero, so a dashboard or an alert
never has to tell "none yet" from "missing". Each `Metrics` has its own registry: two bots in
one process (tests) never share a number.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, exposition, generate_latest

from bot.core.events import JobEvent
from engine.journal import JobState

# The classic text format (0.0.4), which every Prometheus reads; newer clients call their
# default 1.0.0, and the body is the same for names like ours.
CONTENT_TYPE = getattr(exposition, "CONTENT_TYPE_PLAIN_0_0_4", exposition.CONTENT_TYPE_LATEST)
# Render times range from a tenth of a second (the tiny model) to many minutes (a big model on a
# small GPU); the buckets cover both ends.
RENDER_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 3600)
# Refusals that do not come from the content policy, by the admission reason.
ADMISSION_REASONS = ("banned", "paused", "too_many_waiting", "guild_busy", "busy", "rate_limited")


class Metrics:
    def __init__(
        self, presets: Iterable[str], *, categories: Iterable[str] = (), surfaces: Iterable[str] = ()
    ) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.presets = list(dict.fromkeys(presets))
        self.jobs = Gauge("promptreel_jobs", "Jobs in the journal, by state.", ["state"], registry=r)
        self.queue_depth = Gauge(
            "promptreel_queue_depth", "Jobs waiting for a worker, by preset.", ["preset"], registry=r
        )
        self.render_seconds = Histogram(
            "promptreel_render_seconds",
            "Seconds a worker spent rendering a job, by preset (one observation per finished job).",
            ["preset"],
            buckets=RENDER_BUCKETS,
            registry=r,
        )
        self.refusals = Counter(
            "promptreel_refusals",
            "Prompts refused, by policy category or admission reason.",
            ["category"],
            registry=r,
        )
        self.output_flags = Counter(
            "promptreel_output_check_flags",
            "Clips the output check flagged (held for review), by preset.",
            ["preset"],
            registry=r,
        )
        self.delivery_retries = Counter(
            "promptreel_delivery_retries",
            "Replies that failed to go out and will be tried again, by surface.",
            ["surface"],
            registry=r,
        )
        self.undeliverable = Counter(
            "promptreel_undeliverable",
            "Replies given up on after their last try, by surface.",
            ["surface"],
            registry=r,
        )
        self.workers = Gauge(
            "promptreel_workers_seen",
            "Workers whose heartbeat was seen within the liveness window, by preset.",
            ["preset"],
            registry=r,
        )
        self.events = Counter(
            "promptreel_job_events", "Job events this process emitted, by kind.", ["event"], registry=r
        )
        for state in JobState:
            self.jobs.labels(str(state))
        for preset in self.presets:
            for family in (self.queue_depth, self.render_seconds, self.output_flags, self.workers):
                family.labels(preset)
        for category in (*categories, *ADMISSION_REASONS):
            self.refusals.labels(category)
        for surface in surfaces:
            self.delivery_retries.labels(surface)
            self.undeliverable.labels(surface)
        for kind in ("queued", "started", "done", "failed", "cancelled", "delivered"):
            self.events.labels(kind)

    def on_event(self, event: JobEvent) -> None:
        """A job event of the core's (`Core.events.subscribe(metrics.on_event)`)."""
        self.events.labels(event.kind).inc()
        fields = event.fields
        preset = event.preset or "unknown"
        if event.kind == "refused":
            self.refusals.labels(str(fields.get("category") or "refused")).inc()
        elif event.kind == "done" and fields.get("render_seconds") is not None:
            self.render_seconds.labels(preset).observe(float(fields["render_seconds"]))
        elif event.kind in ("flagged", "held"):
            self.output_flags.labels(preset).inc()
        elif event.kind == "delivery_retry":
            self.delivery_retries.labels(str(fields.get("surface", "unknown"))).inc()
        elif event.kind == "undeliverable":
            self.undeliverable.labels(str(fields.get("surface", "unknown"))).inc()

    def update(self, snapshot: dict[str, Any]) -> None:
        """Set the journal's numbers from `snapshot` (see `bot.http.views.metrics_snapshot`)."""
        states: dict[str, int] = snapshot["states"]
        for state in JobState:
            self.jobs.labels(str(state)).set(states.get(str(state), 0))
        for preset in {*self.presets, *snapshot["queued"]}:
            self.queue_depth.labels(preset).set(snapshot["queued"].get(preset, 0))
        alive: dict[str, int] = snapshot["workers"]
        for preset in {*self.presets, *alive}:
            self.workers.labels(preset).set(alive.get(preset, 0))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
