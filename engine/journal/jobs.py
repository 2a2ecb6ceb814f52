"""A job as the journal records it: who asked, what they asked for, and where it stands.

Kept apart from the statements that store it, so readers of jobs (the adapters, the core)
see the record without the storage code around it.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from engine.request import RenderRequest


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    RENDERED = "rendered"
    # The output check flagged the clip: kept, not delivered, until a moderator decides.
    HELD = "held"
    # A moderator rejected a held clip: its file is removed, its requester told.
    REJECTED = "rejected"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    REFUSED = "refused"
    FAILED = "failed"
    DEAD = "dead"


@dataclass(frozen=True)
class Job:
    id: int
    created_at: float
    user_id: str
    user_name: str | None
    guild_id: str | None
    channel_id: str | None
    adapter: str
    priority: int
    model: str
    request: RenderRequest
    state: JobState
    attempts: int
    owner: str | None
    lease_until: float | None
    started_at: float | None
    finished_at: float | None
    progress_step: int | None
    progress_total: int | None
    cancel_requested: bool
    clip_path: str | None
    render_seconds: float | None
    error: str | None
    parent_id: int | None
    reply: dict[str, Any]
    delivery: str | None
    delivery_attempts: int
    # Why the machine holds this running job up (no room for its clip, say), while it does.
    delay: str | None = None
    # The output check's score of the clip (None: not checked) and the threshold it was judged by.
    check_score: float | None = None
    check_threshold: float | None = None
    # The latest live preview of a running job (a file under the clips folder) and its step.
    preview_path: str | None = None
    preview_step: int | None = None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Job:
        data = dict(row)
        fields = {k: data.get(k) for k in cls.__dataclass_fields__}
        fields["request"] = RenderRequest.from_dict(json.loads(data["request"]))
        fields["state"] = JobState(data["state"])
        fields["reply"] = json.loads(data["reply"] or "{}")
        fields["cancel_requested"] = bool(data["cancel_requested"])
        return cls(**fields)
