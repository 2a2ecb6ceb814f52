"""The chat workflow every adapter shares: intake, user commands, and the in-process worker.

An adapter (the console, Discord) turns its input into calls on `Core` and shows the
`Answer`s; it implements `Adapter` to show progress and deliver results. Admission, policy,
scheduling and delivery bookkeeping live here and in the modules this one calls, so a
behaviour both adapters share is written, and tested, once.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot import admission
from bot.config import Settings
from bot.flags import parse_prompt
from bot.policy import CATEGORY_LABELS, PromptPolicy, clean
from engine.journal import AsyncJournal, Job, JobState, Journal
from engine.presets import PRESETS, get_preset
from engine.request import InvalidRequest, build_request

log = logging.getLogger(__name__)


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


class Adapter(Protocol):
    name: str

    async def on_progress(self, job: Job, step: int, total: int) -> None: ...

    async def deliver(self, job: Job) -> dict[str, Any] | None:
        """Send the result of a finished job (clip, failure or cancellation) to its requester."""
        ...


IdleWait = Callable[[Awaitable[Any]], Awaitable[Any]]


class Core:
    def __init__(
        self,
        settings: Settings,
        adapter: Adapter,
        *,
        policy: PromptPolicy | None = None,
        idle_wait: IdleWait | None = None,
    ) -> None:
        self.settings = settings
        self.adapter = adapter
        self.policy = policy or PromptPolicy()
        self.journal: AsyncJournal | None = None
        self.worker: Any = None
        self._worker_thread: threading.Thread | None = None
        self.dispatcher: Any = None
        # Test harnesses (simcord) need to know when the bot is idle on purpose.
        self.idle_wait: IdleWait = idle_wait or (lambda aw: aw)

    @property
    def db(self) -> AsyncJournal:
        assert self.journal is not None, "Core.start() first"
        return self.journal

    @property
    def models(self) -> list[str]:
        return [self.settings.model, *[m for m in self.settings.extra_models if m != self.settings.model]]

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        from bot.delivery import Dispatcher

        s = self.settings
        self.journal = AsyncJournal(
            s.resolved_db_path, lease_seconds=s.lease_seconds, max_attempts=s.max_attempts
        )
        self.dispatcher = Dispatcher(self)
        if s.in_process_worker:
            await self._start_worker()
        self.dispatcher.start()

    async def _start_worker(self) -> None:
        """Load the model off the loop, then render on a thread of its own."""
        from engine.worker import Worker

        loop = asyncio.get_running_loop()

        def on_event(kind: str, job_id: int, **data: Any) -> None:
            loop.call_soon_threadsafe(self.dispatcher.notify, kind, job_id, data)

        def build() -> Worker:
            worker = Worker(self.settings, on_event=on_event)
            worker.renderer  # noqa: B018 - loads the model here, off the loop, before any job
            return worker

        worker = await asyncio.to_thread(build)
        self.worker = worker
        self._worker_thread = threading.Thread(target=worker.run, name="promptreel-worker", daemon=True)
        self._worker_thread.start()

    async def close(self) -> None:
        if self.dispatcher is not None:
            await self.dispatcher.stop()
        if self.worker is not None:
            self.worker.stop.set()
            self.worker.wake.set()
            if self._worker_thread is not None:
                await asyncio.to_thread(self._worker_thread.join, 30)
            await asyncio.to_thread(self.worker.journal.close)
        if self.journal is not None:
            await self.journal.close()

    async def wait_idle(self) -> None:
        """Return once every job this adapter admitted has finished and been answered."""
        assert self.dispatcher is not None
        while await self.db.unfinished(self.adapter.name):
            await self.dispatcher.changed(within=0.5)

    # --- intake ------------------------------------------------------------------------------

    async def submit_text(self, who: Requester, text: str, **kw: Any) -> Answer:
        try:
            parsed = parse_prompt(text)
        except InvalidRequest as exc:
            return refused("invalid", str(exc))
        return await self.submit(who, parsed.prompt, parsed.options, **kw)

    async def submit(
        self,
        who: Requester,
        prompt: str,
        options: dict[str, Any] | None = None,
        *,
        parent_id: int | None = None,
        reply: dict[str, Any] | None = None,
    ) -> Answer:
        options = dict(options or {})
        model = options.pop("model", None) or self.settings.model
        if model not in self.models:
            return refused(
                "invalid", f"The model `{model[:30]}` isn't available here. Try: {', '.join(self.models)}."
            )
        try:
            request = build_request(clean(prompt), model=get_preset(model), **options)
        except InvalidRequest as exc:
            return refused("invalid", str(exc))
        except TypeError:
            return refused("invalid", "Some of those options can't be used together.")

        job, refusal = await self.db.run(self._intake, who, request, prompt, parent_id, reply)
        if refusal is not None:
            return refused(
                refusal.reason, refusal.text, retry_after_s=refusal.retry_after_s, category=refusal.category
            )
        if self.worker is not None:
            self.worker.wake.set()
        pos = await self.db.position(job.id)
        if pos is not None and self.dispatcher is not None:
            self.dispatcher.note_position(job.id, pos.position)
        where = queue_line(pos.position if pos else 0, pos.eta_s if pos else 0.0)
        return Answer(
            "queued",
            f"Queued job {job.id}: {where}.",
            job_id=job.id,
            position=pos.position if pos else 0,
            eta_s=pos.eta_s if pos else 0.0,
        )

    def _intake(
        self,
        journal: Journal,
        who: Requester,
        request: Any,
        typed: str,
        parent_id: int | None,
        reply: dict[str, Any] | None,
    ) -> tuple[Job, admission.Refusal | None]:
        """Policy and admission on the journal's thread, in the transaction that records the job."""
        settings = self.settings

        def admit(journal: Journal) -> admission.Refusal | None:
            cfg = admission.guild_config(journal, who.guild_id)
            verdict = self.policy.check(
                # The prompt as typed: cleaning drops bidi overrides, which the policy reads.
                typed,
                disabled=cfg.disabled_categories,
                custom_words=cfg.blocked_words,
            )
            if not verdict.allowed:
                journal.audit(
                    "refused", actor_id=None, guild_id=who.guild_id, user_id=who.user_id,
                    category=verdict.category,
                )  # fmt: skip
                return admission.Refusal("policy", verdict.message, category=verdict.category)
            limits = admission.Limits.resolve(settings, cfg)
            return admission.check(
                journal, user_id=who.user_id, guild_id=who.guild_id, limits=limits, cfg=cfg
            )

        return journal.enqueue_if(
            request,
            admit,
            user_id=who.user_id,
            user_name=who.user_name,
            guild_id=who.guild_id,
            channel_id=who.channel_id,
            adapter=self.adapter.name,
            parent_id=parent_id,
            reply=reply,
        )

    async def reroll(self, who: Requester, job_id: int, **kw: Any) -> Answer:
        """The same prompt and options with a new seed."""
        job = await self.db.get(job_id)
        if job is None:
            return refused("not_found", f"There is no job {job_id}.")
        options = _options_of(job)
        options.pop("seed")
        return await self.submit(who, job.request.prompt, options, parent_id=job.id, **kw)

    async def remix(self, who: Requester, job_id: int, prompt: str, **kw: Any) -> Answer:
        """A new prompt with the original's options and seed, so the change is the prompt alone."""
        job = await self.db.get(job_id)
        if job is None:
            return refused("not_found", f"There is no job {job_id}.")
        try:
            parsed = parse_prompt(prompt)
        except InvalidRequest as exc:
            return refused("invalid", str(exc))
        return await self.submit(
            who, parsed.prompt, _options_of(job) | parsed.options, parent_id=job.id, **kw
        )

    async def guild_config(self, guild_id: str | None) -> admission.GuildConfig:
        return await self.db.run(admission.guild_config, guild_id)

    async def refusal_for_banned(self, who: Requester) -> Answer | None:
        """For actions that queue nothing (buttons): a banned user is refused there too."""
        reason = await self.db.ban_reason(who.user_id, who.guild_id)
        return None if reason is None else refused("banned", admission.BANNED_TEXT)

    async def dms_allowed(self) -> bool:
        """DMs need the owner's setting and the moderators' bot-wide switch (`/mod dms`)."""
        return self.settings.allow_dms and (await self.guild_config(None)).allow_dms is not False

    # --- user commands -----------------------------------------------------------------------

    async def cancel(self, who: Requester, job_id: int) -> Answer:
        job = await self.db.get(job_id)
        if job is None or (job.user_id != who.user_id and not who.is_mod):
            return refused("not_found", f"You have no job {job_id}.")
        if job.state not in (JobState.QUEUED, JobState.RUNNING):
            return info(f"Job {job_id} is already {job.state}.", job=job_id)
        await self.db.cancel(job_id, by=who.user_id)
        if who.user_id != job.user_id:
            await self.db.audit("cancel", actor_id=who.user_id, guild_id=who.guild_id, user_id=job.user_id,
                                detail=f"job {job_id}")  # fmt: skip
        return info(f"Cancelling job {job_id}.", job=job_id)

    async def queue(self, who: Requester) -> Answer:
        jobs = await self.db.waiting()
        if not jobs:
            return info("The queue is empty.", jobs=[])
        lines = []
        for i, job in enumerate(jobs[:15], start=1):
            mine = " (yours)" if job.user_id == who.user_id else ""
            state = f"rendering {job.progress_step or 0}/{job.progress_total or job.request.steps}"
            lines.append(f"{i}. job {job.id}{mine}: {state if job.state == JobState.RUNNING else 'waiting'}")
        more = f"\n…and {len(jobs) - 15} more" if len(jobs) > 15 else ""
        return info("\n".join(lines) + more, jobs=[j.id for j in jobs])

    async def history(self, who: Requester, limit: int = 10) -> Answer:
        jobs = await self.db.history(who.user_id, limit)
        if not jobs:
            return info("You haven't made any videos yet.", jobs=[])
        lines = [f"job {j.id} [{j.state}] {j.request.prompt[:60]} (seed {j.request.seed})" for j in jobs]
        return info("\n".join(lines), jobs=[j.id for j in jobs])

    async def show(self, who: Requester, job_id: int) -> Answer:
        job = await self.db.get(job_id)
        if job is None or (job.guild_id != who.guild_id and job.user_id != who.user_id):
            return refused("not_found", f"There is no job {job_id} here.")
        return info(describe_job(job), job=job.id)

    async def stats(self) -> Answer:
        s = await self.db.stats()
        waiting = s["states"].get("queued", 0) + s["states"].get("running", 0)
        median = f"{s['median_render_s']:.1f} s" if s["median_render_s"] is not None else "n/a"
        return info(f"{s['renders']} renders, median render time {median}, {waiting} in queue.", **s)

    def help_text(self) -> str:
        from bot.flags import FLAG_HELP

        lines = ["Send a prompt to get a short video. Options: " + FLAG_HELP]
        for name in self.models:
            p = PRESETS[name]
            lines.append(
                f"• {name}: up to {p.max_frames} frames "
                f"({p.max_frames / p.default_fps:.1f} s at {p.default_fps} fps), sides up to {p.max_side}px, "
                f"steps up to {p.max_steps}, prompts up to {p.max_prompt_chars} characters"
            )
        return "\n".join(lines)


def format_eta(seconds: float) -> str:
    """'about 2 min' rather than '137 s': people want an idea, not a stopwatch."""
    if seconds < 60:
        return "under a minute"
    minutes = round(seconds / 60)
    if minutes < 90:
        return f"about {minutes} min"
    return f"about {round(seconds / 3600, 1):g} h"


def queue_line(position: int, eta_s: float) -> str:
    """'#3 in queue, about 2 min': what a waiting job's status says (position 0: already starting)."""
    return f"#{position} in queue, {format_eta(eta_s)}" if position else "starting now"


def _options_of(job: Job) -> dict[str, Any]:
    r = job.request
    return {
        "model": r.model,
        "negative_prompt": r.negative_prompt,
        "frames": r.frames,
        "fps": r.fps,
        "width": r.width,
        "height": r.height,
        "steps": r.steps,
        "guidance": r.guidance,
        "seed": r.seed,
    }


def describe_job(job: Job) -> str:
    r = job.request
    took = f", rendered in {job.render_seconds:.1f} s" if job.render_seconds else ""
    negative = f"\nNegative: {r.negative_prompt}" if r.negative_prompt else ""
    return (
        f"Job {job.id} [{job.state}]\nPrompt: {r.prompt}{negative}\n"
        f"Model {r.model}, seed {r.seed}, {r.steps} steps, guidance {r.guidance:g}, "
        f"{r.frames} frames at {r.fps} fps, {r.width}x{r.height}{took}"
    )


def category_label(category: str | None) -> str:
    return CATEGORY_LABELS.get(category or "", category or "")
