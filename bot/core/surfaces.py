"""Surfaces that read on their own (the social networks' polling), started and stopped with the core.

An adapter with a `run(core)` coroutine gets a task of its own here. One that crashes is logged
and started again after a pause that grows while it keeps crashing; the others, the worker and
every dispatcher carry on, so one network that is down or rate limited stops nobody else.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger(__name__)

FIRST_RESTART_S = 1.0
LONGEST_RESTART_S = 300.0


class Surfaces:
    def __init__(
        self, core: Any, *, idle_wait: Callable[[Awaitable[Any]], Awaitable[Any]] | None = None
    ) -> None:
        """`core`: the `Core` whose adapters are run (typed loosely: the core imports this module)."""
        self.core = core
        self.idle_wait = idle_wait or (lambda aw: aw)
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.crashes: dict[str, int] = {}

    def start(self) -> None:
        for name, adapter in self.core.adapters.items():
            run = getattr(adapter, "run", None)
            if run is not None:
                self.tasks[name] = asyncio.create_task(self._supervise(name, run), name=f"promptreel-{name}")

    async def _supervise(self, name: str, run: Callable[[Any], Awaitable[None]]) -> None:
        wait = FIRST_RESTART_S
        while True:
            try:
                await run(self.core)
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                self.crashes[name] = self.crashes.get(name, 0) + 1
                log.exception("the %s surface stopped; starting it again in %.0f s", name, wait)
            await self.idle_wait(asyncio.sleep(wait))
            wait = min(wait * 2, LONGEST_RESTART_S)

    async def stop(self) -> None:
        tasks, self.tasks = self.tasks, {}
        for task in tasks.values():
            task.cancel()
        for name, task in tasks.items():
            with contextlib.suppress(asyncio.CancelledError):
                try:
                    await task
                except Exception:
                    log.exception("the %s surface failed while stopping", name)
        for adapter in self.core.adapters.values():
            close = getattr(adapter, "close", None)
            if close is not None and hasattr(adapter, "run"):
                try:
                    await close()
                except Exception:
                    log.exception("closing the %s surface failed", adapter.name)
