"""Moderator actions, shared by every adapter, each one checked and written to the audit log.

Adapters decide who counts as a moderator (console: `--mods`; Discord: manage_guild or the
configured role) and pass it in `Requester.is_mod`; every action here checks it again, so a
command that slipped past an adapter's own gate still does nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot import admission
from bot.core import Answer, Core, Requester, info, refused
from bot.policy import ALWAYS_ON, CATEGORIES, CATEGORY_LABELS, clean
from engine.journal import Journal

NOT_MOD = "Only moderators can do that."


class Moderation:
    def __init__(self, core: Core) -> None:
        self.core = core

    async def _change(
        self,
        who: Requester,
        action: str,
        change: Callable[[Journal], Any],
        *,
        user_id: str | None = None,
        detail: str | None = None,
    ) -> Any:
        """Apply a change and its audit row in one transaction on the journal's thread."""

        def run(journal: Journal) -> Any:
            with journal.atomic():
                result = change(journal)
                journal.audit(
                    action, actor_id=who.user_id, guild_id=who.guild_id, user_id=user_id, detail=detail
                )
            return result

        return await self.core.db.run(run)

    async def _set(
        self,
        who: Requester,
        action: str,
        detail: str | None = None,
        *,
        bot_wide: bool = False,
        **changes: Any,
    ) -> Any:
        def update(journal: Journal) -> Any:
            return admission.update_guild_config(journal, None if bot_wide else who.guild_id, **changes)

        return await self._change(who, action, update, detail=detail)

    async def _config(self, who: Requester) -> admission.GuildConfig:
        return await self.core.db.run(admission.guild_config, who.guild_id)

    # --- actions ---------------------------------------------------------------------------------

    async def pause(self, who: Requester) -> Answer:
        if not who.is_mod:
            return refused("not_moderator", NOT_MOD)
        await self._set(who, "pause", paused=True)
        return info("Paused: new prompts are refused until a moderator resumes. Queued jobs still finish.")

    async def resume(self, who: Requester) -> Answer:
        if not who.is_mod:
            return refused("not_moderator", NOT_MOD)
        await self._set(who, "resume", paused=False)
        return info("Resumed: prompts are welcome again.")

    async def clear(self, who: Requester) -> Answer:
        if not who.is_mod:
            return refused("not_moderator", NOT_MOD)
        ids = await self.core.db.clear(guild_id=who.guild_id, by=who.user_id)
        await self.core.db.audit(
            "clear", actor_id=who.user_id, guild_id=who.guild_id, detail=f"{len(ids)} jobs"
        )
        return info(f"Cleared the queue: {len(ids)} jobs cancelled.", jobs=ids)

    async def cancel(self, who: Requester, job_id: int) -> Answer:
        if not who.is_mod:
            return refused("not_moderator", NOT_MOD)
        return await self.core.cancel(who, job_id)

    async def ban(
        self, who: Requester, user_id: str, reason: str = "", *, everywhere: bool = False
    ) -> Answer:
        if not who.is_mod:
            return refused("not_moderator", NOT_MOD)
        if user_id == who.user_id:
            return refused("invalid", "You can't ban yourself.")
        reason = clean(reason)[:200]
        scope = None if everywhere else who.guild_id
        await self._change(
            who, "ban", lambda journal: journal.ban(scope, user_id, reason, who.user_id),
            user_id=user_id, detail=reason or None,
        )  # fmt: skip
        waiting = [j for j in await self.core.db.waiting(guild_id=who.guild_id) if j.user_id == user_id]
        for job in waiting:
            await self.core.db.cancel(job.id, by=who.user_id)
        return info(
            f"Banned {user_id}"
            + (f" ({reason})" if reason else "")
            + f"; {len(waiting)} waiting jobs cancelled."
        )

    async def unban(self, who: Requester, user_id: str, *, everywhere: bool = False) -> Answer:
        if not who.is_mod:
            return refused("not_moderator", NOT_MOD)
        scope = None if everywhere else who.guild_id
        removed = await self._change(
            who, "unban", lambda journal: journal.unban(scope, user_id), user_id=user_id
        )
        return info(f"Unbanned {user_id}." if removed else f"{user_id} was not banned.")

    async def limit(self, who: Requester, values: dict[str, str]) -> Answer:
        """Set per-guild limits, e.g. {"rate": "5", "per_user": "2"}; no values shows them."""
        if not who.is_mod:
            return refused("not_moderator", NOT_MOD)
        changes: dict[str, Any] = {}
        for raw_name, raw_value in values.items():
            name = admission.LIMIT_ALIASES.get(raw_name, raw_name)
            if name not in admission.LIMIT_BOUNDS:
                names = ", ".join(admission.LIMIT_ALIASES)
                return refused("invalid", f"Unknown limit `{raw_name[:30]}`. Limits: {names}.")
            kind, low, high = admission.LIMIT_BOUNDS[name]
            try:
                value = kind(raw_value)
            except ValueError:
                return refused("invalid", f"`{raw_name}` needs a number between {low:g} and {high:g}.")
            if not low <= value <= high:
                return refused("invalid", f"`{raw_name}` must be between {low:g} and {high:g}.")
            changes[name] = value
        if changes:
            detail = ", ".join(f"{k}={v}" for k, v in changes.items())
            await self._set(who, "limit", detail=detail, **changes)
        cfg = await self._config(who)
        limits = admission.Limits.resolve(self.core.settings, cfg)
        return info(
            f"Limits: burst {limits.rate_burst}, {limits.rate_per_minute:g} per minute, "
            f"{limits.max_waiting_per_user} waiting per user, {limits.max_waiting_per_guild} per server.",
            limits=limits.__dict__,
        )

    async def words(self, who: Requester, op: str, words: list[str]) -> Answer:
        if not who.is_mod:
            return refused("not_moderator", NOT_MOD)
        cfg = await self._config(who)
        current = list(cfg.blocked_words)
        cleaned = [clean(w).lower()[:60] for w in words if clean(w)]
        if op == "add":
            new = current + [w for w in cleaned if w not in current]
        elif op == "remove":
            new = [w for w in current if w not in cleaned]
        elif op == "list":
            return info("Blocked words: " + (", ".join(current) if current else "none."), words=current)
        else:
            return refused("invalid", "Use `words add`, `words remove` or `words list`.")
        await self._set(who, f"words {op}", detail=", ".join(cleaned), blocked_words=tuple(new))
        return info(f"Blocked words now: {', '.join(new) if new else 'none'}.", words=new)

    async def category(self, who: Requester, name: str, enabled: bool) -> Answer:
        if not who.is_mod:
            return refused("not_moderator", NOT_MOD)
        if name not in CATEGORIES:
            return refused("invalid", f"Unknown category `{name[:30]}`. Categories: {', '.join(CATEGORIES)}.")
        if name in ALWAYS_ON and not enabled:
            return refused(
                "invalid", f"The {CATEGORY_LABELS[name]} filter is always on and can't be turned off."
            )
        cfg = await self._config(who)
        disabled = set(cfg.disabled_categories)
        disabled.discard(name) if enabled else disabled.add(name)
        await self._set(
            who,
            "category",
            detail=f"{name} {'on' if enabled else 'off'}",
            disabled_categories=tuple(sorted(disabled)),
        )
        return info(f"The {CATEGORY_LABELS[name]} filter is now {'on' if enabled else 'off'}.")

    async def dms(self, who: Requester, allowed: bool) -> Answer:
        if not who.is_mod:
            return refused("not_moderator", NOT_MOD)
        # A DM has no server to take a policy from, so this switch is bot-wide.
        await self._set(who, "dms", detail="on" if allowed else "off", bot_wide=True, allow_dms=allowed)
        return info(f"Prompts by DM are now {'allowed' if allowed else 'refused'} (for the whole bot).")

    async def mod_role(self, who: Requester, role_id: int | None) -> Answer:
        if not who.is_mod:
            return refused("not_moderator", NOT_MOD)
        await self._set(who, "mod role", detail=str(role_id), mod_role_id=role_id)
        return info("Moderator role set." if role_id else "Moderator role removed.")

    async def audit(self, who: Requester, limit: int = 15) -> Answer:
        if not who.is_mod:
            return refused("not_moderator", NOT_MOD)
        rows = await self.core.db.audit_log(who.guild_id, limit)
        if not rows:
            return info("The audit log is empty.", entries=[])
        lines = [
            f"{_when(r['at'])} {r['action']}"
            + (f" by {r['actor_id']}" if r["actor_id"] else "")
            + (f" user {r['user_id']}" if r["user_id"] else "")
            + (f" [{r['category']}]" if r["category"] else "")
            + (f": {r['detail']}" if r["detail"] else "")
            for r in rows
        ]
        return info("\n".join(lines), entries=rows)


def _when(ts: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M")
