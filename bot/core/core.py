"""`Core`: the chat workflow every surface shares, started and stopped as one.

A surface (the console, Discord, a social network) turns its input into calls on `Core` and
shows the `Answer`s; it implements `Adapter` to show progress and deliver results. One core
serves several adapters over one journal and one worker: each has a dispatcher of its own, so a
stuck or rate-limited network delays only its own replies, and an adapter with a `run(core)`
coroutine (the social networks' polling) is started and stopped with the core, supervised. Admission, policy,
scheduling and delivery bookkeeping live in the core and the modules it calls, so a
behaviour every surface shares is written, and tested, once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from bot import i18n, privacy
from bot.config import Settings
from bot.core.commands import Commands
from bot.core.delivery import Adapter, Dispatcher, IdleWait
from bot.core.events import JobEvent, JobEvents
from bot.core.intake import Intake
from bot.core.runtime import make_runtime
from bot.core.surfaces import Surfaces
from bot.core.upkeep import Upkeep
from bot.policy import PromptPolicy
from bot.policy.classifiers import HostedModeration, LocalClassifier, TextClassifier
from bot.policy.layers import Layers
from bot.translation import HostedTranslator, Translator
from engine.journal import AsyncJournal, is_lock_fault
from engine.presets import PRESETS, licence_line
from engine.storage import Episodes

log = logging.getLogger(__name__)
RETENTION_EVERY_S = 3600.0


class Service(Protocol):
    """Something that runs as long as the core does (the HTTP server): started last, stopped first."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


# Reports workers the journal does not know of (another backend's): objects with `name`,
# `preset` and `last_seen` (epoch seconds), seen at or after the time it is given.
WorkerSource = Callable[[float], Awaitable[list[Any]]]


class Core(Intake, Commands):
    def __init__(
        self,
        settings: Settings,
        adapter: Adapter,
        *,
        policy: PromptPolicy | None = None,
        layers: Layers | None = None,
        idle_wait: IdleWait | None = None,
        also: Sequence[Adapter] = (),
        translator: Translator | None = None,
    ) -> None:
        """`adapter` answers jobs whose requester names no surface; `also`: more adapters."""
        self.settings = settings
        # Whatever no request sets a language for speaks the owner's (one bot per process);
        # the one before comes back at close, for hosts (tests) that make several in turn.
        self._language_before = i18n.default()
        i18n.set_default(settings.language)
        self.journal = None
        self.adapter = adapter
        self.adapters: dict[str, Adapter] = {}
        for each in (adapter, *also):
            self.add_adapter(each)
        self.dispatchers: dict[str, Dispatcher] = {}
        self.surfaces = Surfaces(self, idle_wait=idle_wait)
        self.policy = policy or PromptPolicy()
        self.layers = layers or build_layers(settings, self.policy)
        self.translator = translator or build_translator(settings)
        self.journal = None
        self.runtime = None
        self.dispatcher = None
        self._deliveries: AsyncJournal | None = None
        self.upkeep: Upkeep | None = None
        self.idle_wait = idle_wait
        self._retention_ran_at = float("-inf")
        self.intake_faults = Episodes(logger=log, then="refusing prompts until it can")
        # Every job event this process learns of (see `bot.core.events`): logged, and counted
        # by whoever subscribes (the metrics).
        self.events = JobEvents()
        # Run with the core (`add_service`): the HTTP server of `bot.http`, when configured.
        self.services: list[Service] = []
        # Workers of other backends, for readiness and the dashboard (the journal's are built in).
        self.worker_sources: list[WorkerSource] = []

    def add_service(self, service: Service) -> None:
        """Start `service` at the end of `start()` and stop it at the start of `close()`."""
        self.services.append(service)

    async def start(self) -> None:
        """Open the journal, start the worker (if in-process), the dispatcher and the upkeep.

        Nothing here blocks the event loop. Raises `JournalError` or `FolderUnwritable` (one
        line for the owner) when storage cannot be used, `ModelUnavailable` without weights;
        whatever was started by then is stopped again.
        """
        s = self.settings
        self._started: list[Service] = []
        self._warn_about_licences()
        try:
            self.journal = await self._open_journal()
            # The dispatcher's own connection and thread: a reply is recorded as sent the moment
            # it is, not behind a queue of intake work (a crash in between would send it twice).
            self._deliveries = await self._open_journal(checkpoint=False)
            self.dispatchers = {
                name: Dispatcher(self._deliveries, adapter, idle_wait=self.idle_wait, events=self.events)
                for name, adapter in self.adapters.items()
            }
            self.dispatcher = self.dispatchers[self.adapter.name]
            every_s = max(0.05, s.lease_seconds / 3)
            self.upkeep = Upkeep(
                self.journal,
                list(self.adapters.values()),
                list(self.dispatchers.values()),
                every_s=every_s,
                idle_wait=self.idle_wait,
                retention=self.apply_retention,
            )
            self.runtime = make_runtime(s, self._on_worker_event, idle_wait=self.idle_wait)
            if self.runtime is not None:
                await self.runtime.start()
            for dispatcher in self.dispatchers.values():
                dispatcher.start()
            self.upkeep.start()
            for service in self.services:
                await service.start()
                self._started.append(service)
            self.surfaces.start()
        except BaseException:
            await self.close()
            raise

    def add_adapter(self, adapter: Adapter) -> None:
        """Serve one more surface; before `start()`. Its jobs are those recorded with its name."""
        assert self.journal is None, "adapters are added before Core.start()"
        if adapter.name in self.adapters:
            raise ValueError(f"two adapters named {adapter.name!r}")
        self.adapters[adapter.name] = adapter

    def _warn_about_licences(self) -> None:
        """An owner who charges members hears at start which offered models' licences forbid that."""
        if not self.settings.charges_members:
            return
        for name in self.models:
            lic = PRESETS[name].licence
            if lic is not None and lic.commercial != "yes":
                log.warning(
                    "PROMPTREEL_CHARGES_MEMBERS is set, but %s: %s", name, licence_line(PRESETS[name])
                )

    async def apply_retention(self) -> None:
        """Delete prompts and clips past `retention_days`, at most once an hour (on the journal's clock)."""
        journal = self.journal
        if journal is None:
            return
        now = await journal.run(lambda j: j.clock())
        if now - self._retention_ran_at < RETENTION_EVERY_S:
            return
        self._retention_ran_at = now
        s = self.settings
        await journal.run(
            privacy.apply_retention, s.resolved_clips_dir, s.retention_days, s.resolved_images_dir
        )

    async def _open_journal(self, *, checkpoint: bool = True) -> AsyncJournal:
        """Open the journal off the loop, waiting while another process holds its lock."""
        s = self.settings
        faults = Episodes(longest_wait=s.storage_retry_seconds, logger=log)
        while True:
            try:
                journal = await AsyncJournal.open(
                    s.resolved_db_path,
                    checkpoint=checkpoint,
                    lease_seconds=s.lease_seconds,
                    max_attempts=s.max_attempts,
                    busy_timeout=s.busy_timeout_seconds,
                    delivery_lease_seconds=s.delivery_lease_seconds,
                )
            except Exception as exc:
                if not is_lock_fault(exc):
                    raise
                await asyncio.sleep(
                    faults.failed("journal", f"journal {s.resolved_db_path} is locked ({exc})")
                )
                continue
            faults.worked("journal", f"journal {s.resolved_db_path} opened")
            return journal

    def _on_worker_event(self, kind: str, job_id: int, data: dict[str, Any]) -> None:
        if kind == "claimed":
            self.events.emit(JobEvent("started", job_id, self.settings.model))
        for dispatcher in self.dispatchers.values():  # each looks only at its own adapter's jobs
            dispatcher.notify(kind, job_id, data)
        if self.upkeep is not None:
            self.upkeep.notify(kind, job_id, data)

    async def close(self) -> None:
        """Stop everything; a running render is interrupted and its job goes back to the queue.

        Closing twice is harmless (hosts and tests both may).
        """
        await self.surfaces.stop()  # no new prompts while the rest stops
        started, self._started = getattr(self, "_started", []), []
        for service in reversed(started):
            try:
                await service.stop()
            except Exception:
                log.exception("stopping %s failed", type(service).__name__)
        upkeep, dispatchers, runtime = self.upkeep, self.dispatchers, self.runtime
        deliveries, journal = self._deliveries, self.journal
        self.upkeep = self.dispatcher = self.runtime = self._deliveries = self.journal = None
        self.dispatchers = {}
        if upkeep is not None:
            await upkeep.stop()
        for dispatcher in dispatchers.values():
            await dispatcher.stop()
        if runtime is not None:
            await runtime.stop()
        if deliveries is not None:
            await deliveries.close()
        if journal is not None:
            await journal.close()
        await self.layers.close()
        if self.translator is not None:
            await self.translator.close()
        i18n.set_default(self._language_before)

    async def wait_idle(self) -> None:
        """Return once every job any of its adapters admitted has finished and been answered."""
        assert self.dispatcher is not None
        for name in self.adapters:
            while await self.db.unfinished(name):
                await self.dispatchers[name].changed(within=0.5)


def build_translator(settings: Settings) -> Translator | None:
    """The translation step the owner configured (`PROMPTREEL_TRANSLATE_URL`), or None: off."""
    if not settings.translate_url:
        return None
    key = settings.translate_api_key.get_secret_value() if settings.translate_api_key else None
    return HostedTranslator(
        url=settings.translate_url, api_key=key, timeout_s=settings.translate_timeout_seconds
    )


def build_layers(settings: Settings, policy: PromptPolicy) -> Layers:
    """The lists plus each classifier the owner configured (a key, a model); servers choose."""
    classifiers: dict[str, TextClassifier] = {}
    timeout = settings.classifier_timeout_seconds
    if settings.moderation_api_key is not None:
        classifiers["hosted"] = HostedModeration(
            api_key=settings.moderation_api_key.get_secret_value(),
            base_url=settings.moderation_base_url,
            model=settings.moderation_model,
            timeout_s=timeout,
        )
    if settings.local_classifier:
        classifiers["local"] = LocalClassifier(
            settings.local_classifier,
            threshold=settings.local_classifier_threshold,
            labels=settings.local_classifier_labels,
            offline=settings.offline,
            timeout_s=timeout,
        )
    if settings.classifier != "off" and settings.classifier not in classifiers:
        hosted = settings.classifier == "hosted"
        missing = "PROMPTREEL_MODERATION_API_KEY" if hosted else "PROMPTREEL_LOCAL_CLASSIFIER"
        then = "checked by the lists alone" if settings.classifier_fail_open else "refused"
        log.warning(
            "PROMPTREEL_CLASSIFIER=%s but %s is not set: prompts on servers using the default are %s.",
            settings.classifier,
            missing,
            then,
        )
    return Layers(policy, classifiers, fail_open=settings.classifier_fail_open)
