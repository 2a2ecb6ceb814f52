"""Admission: who may queue a job right now, decided before anything is queued.

Bans, a per-user token bucket, per-user and per-guild limits on waiting jobs and a global
queue cap. Each guild's overrides, bans and buckets live in the journal, so they survive
restarts. The checks run inside the same write transaction that inserts the job
(`Journal.enqueue_if`): a flood of simultaneous prompts cannot slip past a limit between
check and insert.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from bot import quota as quotas
from bot.config import Settings
from bot.i18n import texts
from engine.journal import Journal


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
    # Starting clips from uploaded pictures: off until the server's moderators turn it on, and
    # pictures with a face refused unless they also allow faces.
    image_input: bool = False
    allow_faces: bool = False
    # The longest clip an Extend chain may reach on this server (owners set it; None: the
    # bot-wide setting).
    max_chain_seconds: float | None = None
    # A small "AI-generated" label burned into the corner of every clip made here (`/mod mark`);
    # read by the worker from the stored settings under this name.
    visible_mark: bool = False
    # The output check's threshold here (None: PROMPTREEL_OUTPUT_CHECK_THRESHOLD). Read by the
    # journal itself under this name (`engine.journal.servers.OUTPUT_THRESHOLD`).
    output_threshold: float | None = None
    # The content policy's second layer here ("off", "hosted", "local"); None: the bot's default.
    classifier: str | None = None
    # Phrases a moderator allowed after a mistaken refusal (folded, `bot.policy.appeals`), and the
    # subset an owner allowed: only those are exempt from the minors check as well.
    allowed_phrases: tuple[str, ...] = ()
    owner_phrases: tuple[str, ...] = ()
    # Daily quotas and quiet hours (`/mod quota`); None: the bot-wide setting. 0 is no limit.
    daily_per_member: int | None = None
    daily_per_server: int | None = None
    quiet_hours: str | None = None  # "23:00-07:00", or "off"
    # The server's language (`/mod language`, a `bot.i18n.LANGUAGES` code); None: the bot's setting.
    language: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GuildConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k in known})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


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
    # A stable code: banned, paused, quiet_hours, member_quota, server_quota, rate_limited,
    # too_many_waiting, guild_busy, busy; policy and unchecked (a classifier could not answer and
    # the policy fails closed).
    reason: str
    text: str
    retry_after_s: float | None = None
    category: str | None = None
    layer: str | None = None  # for policy refusals: which layer of the policy refused


# --- guild configuration ---------------------------------------------------------------------


def guild_config(journal: Journal, guild_id: str | None) -> GuildConfig:
    return GuildConfig.from_dict(journal.server_settings(guild_id))


def update_guild_config(journal: Journal, guild_id: str | None, **changes: Any) -> GuildConfig:
    """Change some of a guild's settings (None: bot-wide), keeping the others, in one transaction."""
    with journal.atomic():
        cfg = replace(guild_config(journal, guild_id), **changes)
        journal.save_server_settings(guild_id, cfg.to_dict())
    return cfg


def refused_anyway(
    journal: Journal, *, user_id: str, guild_id: str | None, limits: Limits, cfg: GuildConfig
) -> bool:
    """Whether `check` would refuse for the member's own sake (ban, pause, empty bucket), read
    without spending anything: such a prompt is not worth a classifier's call, and a flooder
    must not spend the hosted quota every server shares."""
    if cfg.paused or journal.ban_reason(user_id, guild_id) is not None:
        return True
    key = f"user:{user_id}"
    return journal.token_wait(key, burst=limits.rate_burst, per_minute=limits.rate_per_minute) is not None


# --- the decision ------------------------------------------------------------------------------


def check(
    journal: Journal,
    *,
    user_id: str,
    guild_id: str | None,
    limits: Limits,
    cfg: GuildConfig,
    quota: quotas.Quota | None = None,
) -> Refusal | None:
    """Decide admission and, when admitted, spend the user's rate-limit token."""
    if journal.ban_reason(user_id, guild_id) is not None:
        return Refusal("banned", texts.BANNED)
    if cfg.paused:
        return Refusal("paused", texts.PAUSED)
    if quota is not None and (spent := quotas.check(journal, quota, user_id=user_id, guild_id=guild_id)):
        reason, text, wait = spent
        return Refusal(reason, text, retry_after_s=math.ceil(wait))
    waiting_user = journal.count_waiting(user_id=user_id)
    if waiting_user >= limits.max_waiting_per_user:
        wait = journal.seconds_until_free(1, user_id=user_id)
        return Refusal(
            "too_many_waiting",
            texts.too_many_waiting(waiting_user, limits.max_waiting_per_user),
            retry_after_s=wait,
        )
    if guild_id is not None:
        waiting_guild = journal.count_waiting(guild_id=guild_id)
        if waiting_guild >= limits.max_waiting_per_guild:
            wait = journal.seconds_until_free(
                waiting_guild - limits.max_waiting_per_guild + 1, guild_id=guild_id
            )
            return Refusal(
                "guild_busy",
                texts.GUILD_BUSY,
                retry_after_s=wait,
            )
    waiting_all = journal.count_waiting()
    if waiting_all >= limits.max_queue:
        wait = journal.seconds_until_free(waiting_all - limits.max_queue + 1)
        return Refusal("busy", texts.busy(wait), retry_after_s=wait)
    wait = journal.take_token(f"user:{user_id}", burst=limits.rate_burst, per_minute=limits.rate_per_minute)
    if wait is not None:
        return Refusal(
            "rate_limited",
            texts.rate_limited(limits.rate_per_minute, math.ceil(wait)),
            retry_after_s=math.ceil(wait * 10) / 10,
        )
    return None
