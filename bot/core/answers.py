"""What a surface hands the core (`Requester`) and what it gets back (`Answer`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Requester:
    """Who asked, and where: the identity every check and reply is keyed on."""

    user_id: str
    user_name: str
    guild_id: str | None = None
    channel_id: str | None = None
    is_mod: bool = False


@dataclass(frozen=True)
class Answer:
    """The one reply an input gets: `queued`, `refused` or `info`."""

    event: str
    text: str
    job_id: int | None = None
    position: int | None = None
    eta_s: float | None = None
    reason: str | None = None
    category: str | None = None
    retry_after_s: float | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def fields(self) -> dict[str, Any]:
        """The machine-readable part, without empty values."""
        out = {
            "job": self.job_id,
            "position": self.position,
            "eta_s": None if self.eta_s is None else round(self.eta_s, 1),
            "reason": self.reason,
            "category": self.category,
            "retry_after_s": self.retry_after_s,
        }
        return {k: v for k, v in out.items() if v is not None} | self.data


def refused(reason: str, text: str, **kw: Any) -> Answer:
    return Answer("refused", text, reason=reason, **kw)


def info(text: str, **data: Any) -> Answer:
    return Answer("info", text, data=data)
