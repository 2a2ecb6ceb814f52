"""Moderator actions, shared by every adapter, each one checked and written to the audit log.

Adapters decide who counts as a moderator (console: `--mods`; Discord: manage_guild or the
configured role) and as an owner (`PROMPTREEL_OWNER_IDS`, console `--owners`) and pass it in
the `Requester`; every action here checks it again, so a command that slipped past an adapter's
own gate still does nothing. A moderator acts on their own server only; what reaches every
server (bans everywhere, the DM switch, the whole audit log, anything asked outside a server)
is the owners'.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot import admission, i18n, privacy
from bot.core import Answer, Core, Requester, info, refused
from bot.i18n import texts
from bot.policy import ALWAYS_ON, CATEGORIES, CATEGORY_LABELS, clean
from bot.policy.appeals import phrase_key
from bot.quota import Quota, parse_quiet_hours
from engine.journal import Decision, Journal


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

    @staticmethod
    def _refusal(who: Requester, *, bot_wide: bool = False) -> Answer | None:
        """Why `who` may not do this here, or None. Outside a server every action is bot-wide."""
        if not (who.is_mod or who.is_owner):
            return refused("not_moderator", texts.NOT_MOD)
        if (bot_wide or who.guild_id is None) and not who.is_owner:
            return refused("not_owner", texts.OWNER_ONLY)
        return None

    async def _config(self, who: Requester) -> admission.GuildConfig:
        return await self.core.db.run(admission.guild_config, who.guild_id)

    # --- actions ---------------------------------------------------------------------------------

    async def pause(self, who: Requester) -> Answer:
        if (no := self._refusal(who)) is not None:
            return no
        await self._set(who, "pause", paused=True)
        return info(texts.PAUSED_NOW)

    async def resume(self, who: Requester) -> Answer:
        if (no := self._refusal(who)) is not None:
            return no
        await self._set(who, "resume", paused=False)
        return info(texts.RESUMED)

    async def clear(self, who: Requester) -> Answer:
        if (no := self._refusal(who)) is not None:
            return no
        ids = await self.core.db.clear(guild_id=who.guild_id, by=who.user_id)
        await self.core.db.audit(
            "clear", actor_id=who.user_id, guild_id=who.guild_id, detail=f"{len(ids)} jobs"
        )
        return info(texts.cleared(len(ids)), jobs=ids)

    async def cancel(self, who: Requester, job_id: int) -> Answer:
        if (no := self._refusal(who)) is not None:
            return no
        return await self.core.cancel(who, job_id)

    async def ban(
        self, who: Requester, user_id: str, reason: str = "", *, everywhere: bool = False
    ) -> Answer:
        if (no := self._refusal(who, bot_wide=everywhere)) is not None:
            return no
        if user_id == who.user_id:
            return refused("invalid", texts.NO_SELF_BAN)
        reason = clean(reason)[:200]
        scope = None if everywhere else who.guild_id
        await self._change(
            who, "ban", lambda journal: journal.ban(scope, user_id, reason, who.user_id),
            user_id=user_id, detail=reason or None,
        )  # fmt: skip
        waiting = await self.core.db.waiting(guild_id=scope, user_id=user_id)
        for job in waiting:
            await self.core.db.cancel(job.id, by=who.user_id)
        return info(texts.banned(user_id, reason, len(waiting)))

    async def unban(self, who: Requester, user_id: str, *, everywhere: bool = False) -> Answer:
        if (no := self._refusal(who, bot_wide=everywhere)) is not None:
            return no
        scope = None if everywhere else who.guild_id
        removed = await self._change(
            who, "unban", lambda journal: journal.unban(scope, user_id), user_id=user_id
        )
        return info(texts.unbanned(user_id, removed))

    async def limit(self, who: Requester, values: dict[str, str]) -> Answer:
        """Set per-guild limits, e.g. {"rate": "5", "per_user": "2"}; no values shows them."""
        if (no := self._refusal(who)) is not None:
            return no
        changes: dict[str, Any] = {}
        for raw_name, raw_value in values.items():
            name = admission.LIMIT_ALIASES.get(raw_name, raw_name)
            if name not in admission.LIMIT_BOUNDS:
                return refused("invalid", texts.unknown_limit(raw_name, admission.LIMIT_ALIASES))
            kind, low, high = admission.LIMIT_BOUNDS[name]
            try:
                value = kind(raw_value)
            except ValueError:
                return refused("invalid", texts.limit_not_a_number(raw_name, low, high))
            if not low <= value <= high:
                return refused("invalid", texts.limit_out_of_range(raw_name, low, high))
            changes[name] = value
        if changes:
            detail = ", ".join(f"{k}={v}" for k, v in changes.items())
            await self._set(who, "limit", detail=detail, **changes)
        cfg = await self._config(who)
        limits = admission.Limits.resolve(self.core.settings, cfg)
        return info(texts.limits_now(limits), limits=limits.__dict__)

    async def quota(self, who: Requester, values: dict[str, str]) -> Answer:
        """Set this server's daily quotas and quiet hours, e.g. {"member": "5", "quiet": "23:00-07:00"}."""
        if (no := self._refusal(who)) is not None:
            return no
        changes: dict[str, Any] = {}
        for name, raw in values.items():
            if name in ("member", "server"):
                if not raw.strip().isdecimal() or int(raw) > 100_000:
                    return refused("invalid", texts.QUOTA_USAGE)
                changes[f"daily_per_{name}"] = int(raw)
            elif name == "quiet":
                try:
                    hours = parse_quiet_hours(raw)
                except ValueError:
                    return refused("invalid", texts.QUOTA_USAGE)
                changes["quiet_hours"] = "off" if hours is None else raw.strip()
            else:
                return refused("invalid", texts.QUOTA_USAGE)
        if changes:
            detail = ", ".join(f"{k}={v}" for k, v in changes.items())
            await self._set(who, "quota", detail=detail, **changes)
        cfg = await self._config(who)
        q = Quota.resolve(self.core.settings, cfg)
        quiet = cfg.quiet_hours if cfg.quiet_hours is not None else self.core.settings.quiet_hours
        quiet = "" if quiet.strip().lower() in ("", "off", "none") else quiet
        return info(texts.quota_now(q.per_member, q.per_server, quiet),
                    member=q.per_member or 0, server=q.per_server or 0, quiet=quiet)  # fmt: skip

    async def purge(self, who: Requester, kind: str, target: str) -> Answer:
        """Owners delete every prompt and clip of a member ("member") or of a server ("server")."""
        if not who.is_owner:
            return refused("not_owner", texts.OWNER_ONLY)
        if kind not in ("member", "server"):
            return refused("invalid", texts.PURGE_USAGE)
        clips_dir, images_dir = self.core.settings.resolved_clips_dir, self.core.settings.resolved_images_dir
        forget = privacy.forget_member if kind == "member" else privacy.forget_server

        def run(journal: Journal) -> tuple[int, int]:
            jobs, clips = forget(journal, target, clips_dir, images_dir)
            journal.audit(f"purge {kind}", actor_id=who.user_id, guild_id=who.guild_id,
                          user_id=target if kind == "member" else None, detail=f"{jobs} jobs")  # fmt: skip
            return jobs, clips

        jobs, clips = await self.core.db.run(run)
        return info(texts.purged(f"{kind} {target}", jobs, clips), jobs=jobs, clips=clips)

    async def reports(self, who: Requester) -> Answer:
        """The review list: this server's reported clips with their prompts, most reported first."""
        if (no := self._refusal(who)) is not None:
            return no
        entries = await self.core.db.reports(who.guild_id)
        return info(texts.reports_list(entries), reports=entries)

    async def words(self, who: Requester, op: str, words: list[str]) -> Answer:
        if (no := self._refusal(who)) is not None:
            return no
        cfg = await self._config(who)
        current = list(cfg.blocked_words)
        cleaned = [clean(w).lower()[:60] for w in words if clean(w)]
        if op == "add":
            new = current + [w for w in cleaned if w not in current]
        elif op == "remove":
            new = [w for w in current if w not in cleaned]
        elif op == "list":
            return info(texts.blocked_words_list(current), words=current)
        else:
            return refused("invalid", texts.WORDS_USAGE)
        await self._set(who, f"words {op}", detail=", ".join(cleaned), blocked_words=tuple(new))
        return info(texts.blocked_words_now(new), words=new)

    async def category(self, who: Requester, name: str, enabled: bool) -> Answer:
        if (no := self._refusal(who)) is not None:
            return no
        if name not in CATEGORIES:
            return refused("invalid", texts.unknown_category(name, CATEGORIES))
        if name in ALWAYS_ON and not enabled:
            return refused("invalid", texts.category_always_on(CATEGORY_LABELS[name]))
        cfg = await self._config(who)
        disabled = set(cfg.disabled_categories)
        disabled.discard(name) if enabled else disabled.add(name)
        await self._set(
            who,
            "category",
            detail=f"{name} {'on' if enabled else 'off'}",
            disabled_categories=tuple(sorted(disabled)),
        )
        return info(texts.category_now(CATEGORY_LABELS[name], enabled))

    async def allow(self, who: Requester, op: str, phrase: str = "") -> Answer:
        """The appeal path: `add` a phrase the policy wrongly refused, `remove` it, `list` them.

        Per server, like every moderator setting. A moderator's phrase is still read by the minors
        check; an owner's is exempt from that too, so only the owners can unlock that category
        for a phrase, and only they may take such a phrase away again.
        """
        if (no := self._refusal(who)) is not None:
            return no
        cfg = await self._config(who)
        phrases, owners = list(cfg.allowed_phrases), list(cfg.owner_phrases)
        if op == "list":
            return info(texts.allowed_phrases_now(phrases, owners), phrases=phrases, owner_phrases=owners)
        key = phrase_key(clean(phrase))[:100]
        if op not in ("add", "remove"):
            return refused("invalid", texts.ALLOW_USAGE)
        if not key:
            return refused("invalid", texts.ALLOW_NOTHING)
        if op == "add":
            phrases += [key] if key not in phrases else []
            owners += [key] if who.is_owner and key not in owners else []
            answer = texts.phrase_allowed(key, key in owners)
        else:
            if key in owners and not who.is_owner:
                return refused("not_owner", texts.OWNER_PHRASE)
            answer = texts.phrase_removed(key, key in phrases)
            phrases = [p for p in phrases if p != key]
            owners = [p for p in owners if p != key]
        await self._set(
            who, f"allow {op}", detail=key, allowed_phrases=tuple(phrases), owner_phrases=tuple(owners)
        )
        return info(answer, phrases=phrases, owner_phrases=owners)

    async def classifier(self, who: Requester, name: str = "") -> Answer:
        """Choose this server's second policy layer among those the owner configured; no name
        shows the current choice."""
        if (no := self._refusal(who)) is not None:
            return no
        layers = self.core.layers
        if name:
            if name not in layers.available():
                return refused("invalid", texts.unknown_classifier(name, layers.available()))
            await self._set(who, "classifier", detail=name, classifier=name)
        current = self.core.server_policy(await self._config(who)).classifier
        return info(texts.classifier_now(current, layers.fail_open), classifier=current)

    async def dms(self, who: Requester, allowed: bool) -> Answer:
        if (no := self._refusal(who, bot_wide=True)) is not None:
            return no
        # A DM has no server to take a policy from, so this switch is bot-wide.
        await self._set(who, "dms", detail="on" if allowed else "off", bot_wide=True, allow_dms=allowed)
        return info(texts.dms_now(allowed))

    async def images(self, who: Requester, on: bool) -> Answer:
        if (no := self._refusal(who)) is not None:
            return no
        await self._set(who, "images", detail="on" if on else "off", image_input=on)
        return info(texts.images_now(on))

    async def faces(self, who: Requester, on: bool) -> Answer:
        if (no := self._refusal(who)) is not None:
            return no
        await self._set(who, "faces", detail="on" if on else "off", allow_faces=on)
        return info(texts.faces_now(on))

    async def mark(self, who: Requester, on: bool) -> Answer:
        if (no := self._refusal(who)) is not None:
            return no
        await self._set(who, "mark", detail="on" if on else "off", visible_mark=on)
        return info(texts.mark_now(on))

    async def language(self, who: Requester, code: str = "") -> Answer:
        """`/mod language [en|fr|default]`: the language of mentions, DMs and of members whose
        own app language the bot does not speak, on this server (bot-wide outside one)."""
        if (no := self._refusal(who)) is not None:
            return no
        chosen = (await self._config(who)).language
        if code:
            chosen = None if code.lower() == "default" else i18n.supported(code)
            if chosen is None and code.lower() != "default":
                return refused("invalid", texts.unknown_language(code, i18n.LANGUAGES))
            await self._set(who, "language", detail=chosen or "default", language=chosen)
        return info(texts.language_now(chosen, self.core.settings.language), language=chosen)

    async def chain(self, who: Requester, seconds: str) -> Answer:
        """The longest Extend chain on this server: the owners' call, since it is their GPU time."""
        if (no := self._refusal(who, bot_wide=True)) is not None:
            return no
        try:
            value = float(seconds)
        except ValueError:
            value = float("nan")
        if not 1 <= value <= 60:
            return refused("invalid", texts.chain_limit_out_of_range(60))
        await self._change(
            who,
            "chain",
            lambda journal: admission.update_guild_config(journal, who.guild_id, max_chain_seconds=value),
            detail=f"{value:g}s",
        )
        return info(texts.chain_limit_now(value))

    async def workers(self, who: Requester) -> Answer:
        """The render farm's pool: the bot's owners only (it is every server's capacity)."""
        if (no := self._refusal(who, bot_wide=True)) is not None:
            return no
        return await self.core.workers()

    async def mod_role(self, who: Requester, role_id: int | None) -> Answer:
        if (no := self._refusal(who)) is not None:
            return no
        await self._set(who, "mod role", detail=str(role_id), mod_role_id=role_id)
        return info(texts.mod_role_now(role_id))

    async def audit(self, who: Requester, limit: int = 15, *, everywhere: bool = False) -> Answer:
        if (no := self._refusal(who, bot_wide=everywhere)) is not None:
            return no
        rows = await self.core.db.audit_log(None if everywhere else who.guild_id, limit)
        if not rows:
            return info(texts.AUDIT_EMPTY, entries=[])
        lines = [texts.audit_entry(r) for r in rows]
        return info("\n".join(lines), entries=rows)

    # --- clips the output check held -------------------------------------------------------------
    # Plain functions of a `Requester`, for every surface (console, Discord, the dashboard).

    async def held(self, who: Requester, *, everywhere: bool = False) -> Answer:
        """The clips held for review here (owners: `everywhere`, every server's and DM's)."""
        if (no := self._refusal(who, bot_wide=everywhere)) is not None:
            return no
        jobs = await self.core.db.held_jobs(None if everywhere or who.guild_id is None else who.guild_id)
        if not jobs:
            return info(texts.NO_HELD, jobs=[])
        return info("\n".join(texts.held_entry(j) for j in jobs), jobs=[j.id for j in jobs])

    async def release(self, who: Requester, job_id: int) -> Answer:
        """Deliver a held clip as usual (exactly once, by the dispatcher); audited."""
        return await self._decide(who, job_id, "release")

    async def reject(self, who: Requester, job_id: int) -> Answer:
        """Refuse a held clip: its requester is told, its file removed; audited."""
        return await self._decide(who, job_id, "reject")

    async def _decide(self, who: Requester, job_id: int, action: str) -> Answer:
        if (no := self._refusal(who)) is not None:
            return no
        job = await self.core.db.get(job_id)
        # Another server's job does not exist for a moderator; owners reach every job.
        if job is None or not who.moderates(job.guild_id):
            return refused("not_found", texts.not_here(job_id))

        def run(journal: Journal) -> tuple[Decision, str | None]:
            with journal.atomic():
                if action == "release":
                    outcome: tuple[Decision, str | None] = (journal.release_held(job_id), None)
                else:
                    outcome = journal.reject_held(job_id)
                if outcome[0] is Decision.DONE:
                    journal.audit(action, actor_id=who.user_id, guild_id=job.guild_id, user_id=job.user_id,
                                  category="output check", detail=f"job {job_id}")  # fmt: skip
            return outcome

        decision, clip = await self.core.db.run(run)
        if decision is Decision.BUSY:
            return refused("busy", texts.HELD_BUSY)
        if decision is Decision.NOT_HELD:
            now = await self.core.db.get(job_id)
            return refused("not_held", texts.not_held(job_id, now.state if now else "gone"))
        if clip:
            await asyncio.to_thread(Path(clip).unlink, missing_ok=True)
        if self.core.dispatcher is not None:  # the reply is owed now: no need to wait for a poll
            self.core.dispatcher.notify(action, job_id)
        done = texts.released(job_id) if action == "release" else texts.rejected(job_id)
        return info(done, job=job_id)

    async def threshold(self, who: Requester, value: str | None = None) -> Answer:
        """Show, set (0 to 1) or reset (`default`) the output check's threshold here."""
        if (no := self._refusal(who)) is not None:
            return no
        if value is not None:
            if value.lower() == "default":
                new = None
            else:
                try:
                    new = float(value)
                except ValueError:
                    return refused("invalid", texts.THRESHOLD_USAGE)
                if not 0.0 <= new <= 1.0:
                    return refused("invalid", texts.THRESHOLD_USAGE)
            await self._set(who, "threshold", detail="default" if new is None else f"{new:g}",
                            output_threshold=new)  # fmt: skip
        cfg = await self._config(who)
        settings = self.core.settings
        own = cfg.output_threshold is not None
        current = cfg.output_threshold if own else settings.output_check_threshold
        return info(texts.threshold_now(current, own, settings.output_check), threshold=current)
