"""Admission: who may queue a job right now, decided before anything is queued.

Bans, a per-user token bucket, per-user and per-guild limits on waiting jobs and a global
queue cap. Each guild's overrides, bans and buckets live in the journal's database, so they
survive restarts. The checks run inside the same write transaction that inserts the job:
a flood of simultaneous prompts cannot slip past a limit between check and insert.
"""

from __future__ import annotations

import json
import math
import sqlite3
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from bot.config import Settings
from engine import scheduler

GLOBAL = "*"
BANNED_TEXT = "Sorry, you can't make videos here: a moderator has banned you."


@dataclass(frozen=True)
class GuildConfig:
    """A guild's overrides; None means the bot-wide default from settings."""

    rate_burst: int | None = None
    rate_per_minute: float | None = None
    max_waiting_per_user: int | None = None
    max_waiting_per_guild: int | None = None
    paused: bool = False
    disabled_categories: tuple[str, ...] = ()
    blocked_words: tuple[str, ...] = ()
    mod_role_id: int | None = None
    allow_dms: bool | None = None

    @classmethod
    def from_json(cls, text: str | None) -> GuildConfig:
        data = json.loads(text or "{}")
        known = {f.name for f in fields(cls)}
        data = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k in known}
        return cls(**data)

    def to_json(self) -> str:
        return json.dumps(asdict(self))


# The settings moderators may change with `/mod limit NAME=VALUE`, with their bounds.
LIMIT_BOUNDS: dict[str, tuple[type, float, float]] = {
    "rate_burst": (int, 1, 50),
    "rate_per_minute": (float, 0.1, 120),
    "max_waiting_per_user": (int, 1, 50),
    "max_waiting_per_guild": (int, 1, 1000),
}
LIMIT_ALIASES = {
    "burst": "rate_burst",
    "rate": "rate_per_minute",
    "per_user": "max_waiting_per_user",
    "per_guild": "max_waiting_per_guild",
}


@dataclass(frozen=True)
class Limits:
    rate_burst: int
    rate_per_minute: float
    max_waiting_per_user: int
    max_waiting_per_guild: int
    max_queue: int

    @classmethod
    def resolve(cls, settings: Settings, cfg: GuildConfig) -> Limits:
        def pick(name: str) -> Any:
            value = getattr(cfg, name)
            return getattr(settings, name) if value is None else value

        return cls(
            rate_burst=pick("rate_burst"),
            rate_per_minute=pick("rate_per_minute"),
            max_waiting_per_user=pick("max_waiting_per_user"),
            max_waiting_per_guild=pick("max_waiting_per_guild"),
            max_queue=settings.max_queue,
        )


@dataclass(frozen=True)
class Refusal:
    reason: str  # a stable code: banned, paused, rate_limited, too_many_waiting, guild_busy, busy
    text: str
    retry_after_s: float | None = None
    category: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


# --- guild configuration and bans --------------------------------------------------------------


def guild_config(conn: sqlite3.Connection, guild_id: str | None) -> GuildConfig:
    row = conn.execute("SELECT config FROM guild_config WHERE guild_id = ?", (guild_id or GLOBAL,)).fetchone()
    return GuildConfig.from_json(row[0] if row else None)


def save_guild_config(conn: sqlite3.Connection, guild_id: str | None, cfg: GuildConfig) -> None:
    conn.execute(
        "INSERT INTO guild_config (guild_id, config) VALUES (?, ?)"
        " ON CONFLICT(guild_id) DO UPDATE SET config = excluded.config",
        (guild_id or GLOBAL, cfg.to_json()),
    )


def update_guild_config(conn: sqlite3.Connection, guild_id: str | None, **changes: Any) -> GuildConfig:
    cfg = replace(guild_config(conn, guild_id), **changes)
    save_guild_config(conn, guild_id, cfg)
    return cfg


def ban(conn: sqlite3.Connection, scope: str | None, user_id: str, reason: str, by: str, now: float) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO bans (scope, user_id, reason, by, at) VALUES (?, ?, ?, ?, ?)",
        (scope or GLOBAL, user_id, reason, by, now),
    )


def unban(conn: sqlite3.Connection, scope: str | None, user_id: str) -> bool:
    cur = conn.execute("DELETE FROM bans WHERE scope = ? AND user_id = ?", (scope or GLOBAL, user_id))
    return cur.rowcount > 0


def ban_reason(conn: sqlite3.Connection, user_id: str, guild_id: str | None) -> str | None:
    """The reason for a ban that applies here (a global one, or this guild's), or None."""
    row = conn.execute(
        "SELECT reason FROM bans WHERE user_id = ? AND scope IN (?, ?) ORDER BY scope = ? DESC LIMIT 1",
        (user_id, GLOBAL, guild_id or GLOBAL, GLOBAL),
    ).fetchone()
    return None if row is None else (row[0] or "no reason given")


# --- the decision ------------------------------------------------------------------------------


def _take_token(conn: sqlite3.Connection, key: str, limits: Limits, now: float) -> float | None:
    """Spend one token from the user's bucket; return seconds to wait if it is empty."""
    row = conn.execute("SELECT tokens, updated_at FROM buckets WHERE key = ?", (key,)).fetchone()
    rate = limits.rate_per_minute / 60.0
    tokens = float(limits.rate_burst) if row is None else row[0]
    if row is not None:
        tokens = min(float(limits.rate_burst), tokens + (now - row[1]) * rate)
    if tokens < 1.0:
        return (1.0 - tokens) / rate
    conn.execute(
        "INSERT OR REPLACE INTO buckets (key, tokens, updated_at) VALUES (?, ?, ?)", (key, tokens - 1.0, now)
    )
    return None


def _wait_for_slots(conn: sqlite3.Connection, where: str, params: tuple[Any, ...], slots: int) -> float:
    """Roughly when `slots` of the matching waiting jobs will have finished."""
    rows = conn.execute(
        f"SELECT model, cost, COALESCE(progress_step, 0), COALESCE(progress_total, 0) FROM jobs"
        f" WHERE state IN ('queued', 'running') AND {where} ORDER BY state = 'running' DESC, id LIMIT ?",
        (*params, max(1, slots)),
    ).fetchall()
    speeds = {model: scheduler.sec_per_cost(conn, model) for model in {row[0] for row in rows}}
    total = 0.0
    for model, cost, step, steps in rows:
        done = step / steps if steps else 0.0
        total += cost * (1 - done) * speeds[model]
    return max(5.0, math.ceil(total))


def check(
    conn: sqlite3.Connection,
    *,
    user_id: str,
    guild_id: str | None,
    limits: Limits,
    cfg: GuildConfig,
    now: float,
) -> Refusal | None:
    """Decide admission and, when admitted, spend the user's rate-limit token."""
    reason = ban_reason(conn, user_id, guild_id)
    if reason is not None:
        return Refusal("banned", BANNED_TEXT)
    if cfg.paused:
        return Refusal("paused", "Video making is paused by the moderators right now. Please try later.")
    waiting_user = conn.execute(
        "SELECT COUNT(*) FROM jobs WHERE state IN ('queued', 'running') AND user_id = ?", (user_id,)
    ).fetchone()[0]
    if waiting_user >= limits.max_waiting_per_user:
        wait = _wait_for_slots(conn, "user_id = ?", (user_id,), 1)
        return Refusal(
            "too_many_waiting",
            f"You already have {waiting_user} videos waiting (the limit is {limits.max_waiting_per_user}). "
            "Please wait for one to finish.",
            retry_after_s=wait,
        )
    if guild_id is not None:
        waiting_guild = conn.execute(
            "SELECT COUNT(*) FROM jobs WHERE state IN ('queued', 'running') AND guild_id = ?", (guild_id,)
        ).fetchone()[0]
        if waiting_guild >= limits.max_waiting_per_guild:
            wait = _wait_for_slots(
                conn, "guild_id = ?", (guild_id,), waiting_guild - limits.max_waiting_per_guild + 1
            )
            return Refusal(
                "guild_busy",
                "This server's queue is full right now. Please try again soon.",
                retry_after_s=wait,
            )
    waiting_all = conn.execute("SELECT COUNT(*) FROM jobs WHERE state IN ('queued', 'running')").fetchone()[0]
    if waiting_all >= limits.max_queue:
        wait = _wait_for_slots(conn, "1 = 1", (), waiting_all - limits.max_queue + 1)
        return Refusal("busy", "The bot is busy right now. Please try again later.", retry_after_s=wait)
    wait = _take_token(conn, f"user:{user_id}", limits, now)
    if wait is not None:
        return Refusal(
            "rate_limited",
            f"You're sending prompts faster than {limits.rate_per_minute:g} a minute. "
            f"Try again in {math.ceil(wait)} s.",
            retry_after_s=math.ceil(wait * 10) / 10,
        )
    return None
