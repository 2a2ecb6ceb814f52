"""`Core`: the chat workflow every surface shares, started and stopped as one.

A surface (the console, Discord) turns its input into calls on `Core` and shows the
`Answer`s; it implements `Adapter` to show progress and deliver results. Admission, policy,
scheduling and delivery bookkeeping live in the core and the modules it calls, so a
behaviour every surface shares is written, and tested, once.
"""

from __future__ import annotations

import logging
from typing import Any

from bot.config import Settings
from bot.core.commands import Commands
from bot.core.delivery import Adapter, Dispatcher, IdleWait
from bot.core.intake import Intake
from bot.core.runtime import InProcessWorker
from bot.policy import PromptPolicy
from engine.journal import AsyncJournal

log = logging.getLogger(__name__)


class Core(Intake, Commands):
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
        self.journal = None
        self.runtime = None
        self.dispatcher = None
        self._deliveries: AsyncJournal | None = None
        self.idle_wait = idle_wait

    async def start(self) -> None:
        s = self.settings
        options: dict[str, Any] = {
            "lease_seconds": s.lease_seconds,
            "max_attempts": s.max_attempts,
            "delivery_lease_seconds": s.delivery_lease_seconds,
        }
        self.journal = AsyncJournal(s.resolved_db_path, **options)
        # The dispatcher's own connection and thread: a reply is recorded as sent the moment it
        # is, not behind a queue of intake work (a crash in between would send it twice).
        self._deliveries = AsyncJournal(s.resolved_db_path, checkpoint=False, **options)
        self.dispatcher = Dispatcher(self._deliveries, self.adapter, idle_wait=self.idle_wait)
        if s.in_process_worker:
            self.runtime = InProcessWorker(s, self._on_worker_event)
            await self.runtime.start()
        self.dispatcher.start()

    def _on_worker_event(self, kind: str, job_id: int, data: dict[str, Any]) -> None:
        if self.dispatcher is not None:
            self.dispatcher.notify(kind, job_id, data)

    async def close(self) -> None:
        """Stop everything started; closing twice is harmless (hosts and tests both may)."""
        dispatcher, runtime = self.dispatcher, self.runtime
        deliveries, journal = self._deliveries, self.journal
        self.dispatcher = self.runtime = self._deliveries = self.journal = None
        if dispatcher is not None:
            await dispatcher.stop()
        if runtime is not None:
            await runtime.stop()
        if deliveries is not None:
            await deliveries.close()
        if journal is not None:
            await journal.close()

    async def wait_idle(self) -> None:
        """Return once every job this adapter admitted has finished and been answered."""
        assert self.dispatcher is not None
        while await self.db.unfinished(self.adapter.name):
            await self.dispatcher.changed(within=0.5)
