"""Daily quotas and quiet hours: what an owner paying for the power lets members use each day.

A member's quota counts their jobs since the start of the day in every server, in DMs and on
every surface, because the GPU time is the same wherever the prompt came from; a server's quota
counts that server's jobs. A job counts once it is admitted; a refused prompt does not, and
neither does a job cancelled before a worker started it (it used no GPU). Roles can give more
(the largest quota among a member's roles applies) or a higher priority in the queue. During
quiet hours no prompt is taken. Days and quiet hours are in one time zone (`PROMPTREEL_TIMEZONE`).

Everything here is decided on the journal's clock inside the admission transaction, so a restart,
a second bot process or a flood of simultaneous prompts cannot overspend a quota.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.i18n import texts
from engine.journal import Journal

_QUIET = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def parse_quiet_hours(text: str) -> tuple[int, int] | None:
    """`"23:00-07:00"` -> minutes after midnight (1380, 420); `""` or `"off"` -> None.

    Raises ValueError for anything else, so a typo in `.env` stops the bot at start, not at 23:00.
    """
    if text.strip().lower() in ("", "off", "none"):
        return None
    m = _QUIET.match(text)
    if not m:
        raise ValueError(f"quiet hours look like 23:00-07:00, not {text!r}")
    h1, m1, h2, m2 = (int(g) for g in m.groups())
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59 or (h1, m1) == (h2, m2):
        raise ValueError(f"quiet hours look like 23:00-07:00, not {text!r}")
    return h1 * 60 + m1, h2 * 60 + m2


@dataclass(frozen=True)
class Quota:
    """The quotas that apply to one member in one place; None: no limit."""

    per_member: int | None
    per_server: int | None
    quiet: tuple[int, int] | None
    tz: ZoneInfo
    priority: int = 0

    @classmethod
    def resolve(cls, settings: Any, cfg: Any, roles: tuple[str, ...] = ()) -> Quota:
        """Settings, then the server's overrides (`/mod quota`), then the member's roles."""
        member = cfg.daily_per_member if cfg.daily_per_member is not None else settings.daily_per_member
        server = cfg.daily_per_server if cfg.daily_per_server is not None else settings.daily_per_server
        quiet = cfg.quiet_hours if cfg.quiet_hours is not None else settings.quiet_hours
        by_role = [settings.quota_roles[r] for r in roles if r in settings.quota_roles]
        if member and by_role:
            member = 0 if 0 in by_role else max(member, *by_role)  # a role's 0 is "no limit"
        priority = max([settings.priority_roles[r] for r in roles if r in settings.priority_roles], default=0)
        return cls(
            per_member=member or None,
            per_server=server or None,
            quiet=parse_quiet_hours(quiet),
            tz=ZoneInfo(settings.timezone),
            priority=priority,
        )


def day_bounds(now: float, tz: ZoneInfo) -> tuple[float, float]:
    """The start of today and of tomorrow in `tz`, as timestamps (a DST day is 23 or 25 hours)."""
    local = datetime.fromtimestamp(now, tz)
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    tomorrow = (start + timedelta(days=1, hours=2)).replace(hour=0)  # +2 h clears a 25-hour day
    return start.timestamp(), tomorrow.timestamp()


def quiet_left(now: float, quiet: tuple[int, int] | None, tz: ZoneInfo) -> float | None:
    """Seconds until quiet hours end, if they are on now; None outside them."""
    if quiet is None:
        return None
    local = datetime.fromtimestamp(now, tz)
    minute = local.hour * 60 + local.minute + local.second / 60
    start, end = quiet
    inside = start <= minute < end if start < end else (minute >= start or minute < end)
    if not inside:
        return None
    return ((end - minute) % (24 * 60)) * 60


def used_today(
    journal: Journal, tz: ZoneInfo, *, user_id: str | None = None, guild_id: str | None = None
) -> int:
    since, _ = day_bounds(journal.clock(), tz)
    return journal.count_admitted_since(since, user_id=user_id, guild_id=guild_id)


def check(
    journal: Journal, quota: Quota, *, user_id: str, guild_id: str | None
) -> tuple[str, str, float] | None:
    """(reason, text, retry_after_s) when quiet hours or a daily quota refuse; None admits."""
    now = journal.clock()
    wait = quiet_left(now, quota.quiet, quota.tz)
    if wait is not None:
        return "quiet_hours", texts.quiet_hours(wait), wait
    _, tomorrow = day_bounds(now, quota.tz)
    reset = tomorrow - now
    if quota.per_member is not None and used_today(journal, quota.tz, user_id=user_id) >= quota.per_member:
        return "member_quota", texts.member_quota_spent(quota.per_member, reset), reset
    if (
        guild_id is not None
        and quota.per_server is not None
        and used_today(journal, quota.tz, guild_id=guild_id) >= quota.per_server
    ):
        return "server_quota", texts.server_quota_spent(quota.per_server, reset), reset
    return None


def remaining(journal: Journal, quota: Quota, user_id: str) -> tuple[int, int, float] | None:
    """(videos left today, the daily quota, seconds until it renews) for /history; None: no quota."""
    if quota.per_member is None:
        return None
    now = journal.clock()
    _, tomorrow = day_bounds(now, quota.tz)
    used = used_today(journal, quota.tz, user_id=user_id)
    return max(0, quota.per_member - used), quota.per_member, tomorrow - now
