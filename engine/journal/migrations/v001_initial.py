"""Step 1: jobs, render speeds, workers, and the chat side's audit log, bans, settings, buckets."""

from __future__ import annotations

import sqlite_utils


def up(db: sqlite_utils.Database) -> None:
    db["jobs"].create(
        {
            "id": int,
            "created_at": float,
            "user_id": str,
            "user_name": str,
            "guild_id": str,
            "channel_id": str,
            "adapter": str,
            "priority": int,
            "model": str,
            "batch_key": str,
            "request": str,  # RenderRequest as JSON
            "cost": float,  # frames x steps, the unit render speed is measured in
            "state": str,
            "attempts": int,
            "owner": str,
            "lease_until": float,
            "started_at": float,
            "finished_at": float,
            "progress_step": int,
            "progress_total": int,
            "cancel_requested": int,
            "cancelled_by": str,
            "clip_path": str,
            "render_seconds": float,
            "error": str,
            "parent_id": int,
            "reply": str,  # adapter data needed to answer (JSON): message ids, interaction token
            "delivery": str,  # pending | sending | sent | failed
            "delivery_attempts": int,
            "delivery_after": float,
            "delivered_at": float,
        },
        pk="id",
        not_null={"created_at", "user_id", "adapter", "state", "model"},
        defaults={"priority": 0, "attempts": 0, "cancel_requested": 0, "delivery_attempts": 0},
    )
    db["jobs"].create_index(["state", "priority", "id"])
    db["jobs"].create_index(["user_id", "state"])
    db["jobs"].create_index(["guild_id", "state"])
    db["jobs"].create_index(["delivery", "adapter"])
    db["speeds"].create(
        {"model": str, "sec_per_cost": float, "samples": int, "updated_at": float}, pk="model"
    )
    db["workers"].create({"name": str, "model": str, "last_seen": float}, pk="name")
    db["audit"].create(
        {
            "id": int,
            "at": float,
            "guild_id": str,
            "actor_id": str,
            "user_id": str,
            "action": str,
            "category": str,
            "detail": str,
        },
        pk="id",
    )
    db["audit"].create_index(["guild_id", "at"])
    db["bans"].create(
        {"scope": str, "user_id": str, "reason": str, "by": str, "at": float}, pk=("scope", "user_id")
    )
    db["guild_config"].create({"guild_id": str, "config": str}, pk="guild_id")
    db["buckets"].create({"key": str, "tokens": float, "updated_at": float}, pk="key")
