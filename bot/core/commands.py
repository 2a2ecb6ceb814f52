"""A member's commands on any surface: cancel, queue, history, show, stats, help."""

from __future__ import annotations

import logging
import time
from typing import Any

from bot import admission, privacy
from bot.core.answers import Answer, Requester, info, refused
from bot.core.base import CoreBase
from bot.flags import FLAG_HELP
from bot.i18n import texts
from bot.quota import Quota, remaining
from engine.journal import JobState, Journal
from engine.presets import PRESETS

log = logging.getLogger(__name__)


class Commands(CoreBase):
    async def cancel(self, who: Requester, job_id: int) -> Answer:
        job = await self.db.get(job_id)
        if job is None or (job.user_id != who.user_id and not who.moderates(job.guild_id)):
            return refused("not_found", texts.not_your_job(job_id))
        if job.state not in (JobState.QUEUED, JobState.RUNNING):
            return info(texts.already(job_id, job.state), job=job_id)
        await self.db.cancel(job_id, by=who.user_id)
        if who.user_id != job.user_id:
            await self.db.audit("cancel", actor_id=who.user_id, guild_id=who.guild_id, user_id=job.user_id,
                                detail=f"job {job_id}")  # fmt: skip
        return info(texts.cancelling(job_id), job=job_id)

    async def queue(self, who: Requester) -> Answer:
        jobs = await self.db.waiting(limit=15)
        if not jobs:
            return info(texts.QUEUE_EMPTY, jobs=[])
        total = await self.db.count_waiting()
        lines = []
        for i, job in enumerate(jobs, start=1):
            rendering = (
                (job.progress_step or 0, job.progress_total or job.request.steps)
                if job.state == JobState.RUNNING
                else None
            )
            lines.append(texts.queue_entry(i, job.id, job.user_id == who.user_id, rendering))
        more = texts.queue_more(total - len(jobs)) if total > len(jobs) else ""
        return info("\n".join(lines) + more, jobs=[j.id for j in jobs])

    async def history(self, who: Requester, limit: int = 10) -> Answer:
        jobs = await self.db.history(who.user_id, limit)
        left = await self.db.run(self._quota_left, who)
        extra: dict[str, object] = {} if left is None else {"quota_left": left[0], "quota": left[1]}
        tail = [] if left is None else [texts.quota_left(*left)]
        if not jobs:
            return info("\n".join([texts.NO_HISTORY, *tail]), jobs=[], **extra)
        lines = [texts.history_entry(j.id, j.state, j.request.prompt, j.request.seed) for j in jobs]
        return info("\n".join(lines + tail), jobs=[j.id for j in jobs], **extra)

    def _quota_left(self, journal: Journal, who: Requester) -> tuple[int, int, float] | None:
        """On the journal's thread: the member's videos left today, where they ask."""
        cfg = admission.guild_config(journal, who.guild_id)
        return remaining(journal, Quota.resolve(self.settings, cfg, who.roles), who.user_id)

    async def show(self, who: Requester, job_id: int) -> Answer:
        job = await self.db.get(job_id)
        if job is None or not who.sees_job(job):
            return refused("not_found", texts.not_here(job_id))
        return info(texts.job_details(job), job=job.id)

    async def forget(self, who: Requester, *, confirm: bool) -> Answer:
        """`/forget me`: first what would go, then, confirmed, every row and clip of theirs."""
        if not confirm:
            jobs = await self.db.run(lambda j: j.count_jobs_of(user_id=who.user_id))
            return info(texts.forget_confirm(jobs), forget=jobs)
        s = self.settings
        jobs, clips = await self.db.run(
            privacy.forget_member, who.user_id, s.resolved_clips_dir, s.resolved_images_dir
        )
        return info(texts.forgotten(jobs, clips), jobs=jobs, clips=clips)

    async def report(self, who: Requester, job_id: int) -> Answer:
        """A member flags a clip to the moderators of the server it was made in (DMs: the owners)."""
        job = await self.db.get(job_id)
        if job is None or not who.sees(job.guild_id, job.user_id):
            return refused("not_found", texts.not_here(job_id))
        new = await self.db.report(job_id, by=who.user_id, guild_id=job.guild_id, user_id=job.user_id)
        return info(texts.REPORTED if new else texts.ALREADY_REPORTED, job=job_id)

    async def stats(self) -> Answer:
        s = await self.db.stats()
        waiting = s["states"].get("queued", 0) + s["states"].get("running", 0)
        text = texts.stats(s["renders"], s["median_render_s"], waiting)
        pool = await self._pool()
        if pool is not None:
            text += " " + texts.workers_summary(pool)
            s = {**s, "workers": pool}
        return info(text, **s)

    async def _pool(self) -> list[dict[str, Any]] | None:
        """The render farm's workers (None on one box); an unreachable Redis shows none."""
        pool = getattr(self.runtime, "pool", None)
        if pool is None:
            return None
        try:
            return list(await pool())
        except Exception:
            log.warning("the farm's workers could not be read from Redis", exc_info=True)
            return []

    async def workers(self) -> Answer:
        """Every farm worker by preset: jobs done, last seen, rendering what (owners' view)."""
        pool = await self._pool()
        if pool is None:
            return info(texts.NO_FARM, workers=[])
        if not pool:
            return info(texts.NO_WORKERS, workers=[])
        now = time.time()
        lines = [texts.worker_line(w, now - float(w.get("seen") or now)) for w in pool]
        return info("\n".join(lines), workers=pool)

    def help_text(self) -> str:
        lines = [texts.help_intro(FLAG_HELP), texts.HELP_RULES]
        lines += [texts.help_model(name, PRESETS[name]) for name in self.models]
        if self.settings.charges_members:
            lines += [
                texts.help_not_for_paid_use(name, lic.name)
                for name in self.models
                if (lic := PRESETS[name].licence) is not None and lic.commercial != "yes"
            ]
        return "\n".join(lines)
