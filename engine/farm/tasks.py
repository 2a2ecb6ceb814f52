"""Stopping asyncio tasks that talk to Redis.

redis-py 5 (the series arq 0.28 allows) checks a pooled connection before every command with a
zero-second `asyncio.timeout`, and `asyncio.timeout(0)` takes a cancel that arrived just before
it for its own expiry and turns it into a TimeoutError that redis-py catches (CPython
gh-134471; redis-py replaced that check in 8.0). Measured here: one `task.cancel()` of a task
sending commands back to back is lost about half the time, and the task runs on. A farm that
cannot stop hangs the bot's shutdown and a worker's, so every farm task is stopped by asking
again until it has ended.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable

# Each ask is a fresh chance; a task waiting on a reply (nearly all of its time) takes the first.
ASK_EVERY_S = 0.1


async def stop_tasks(tasks: Iterable[asyncio.Task[object]]) -> None:
    """Cancel `tasks` until every one has ended; what they raised on the way out is dropped
    (they are being stopped, and each logs its own failures)."""
    tasks = list(tasks)
    pending = {t for t in tasks if not t.done()}
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=ASK_EVERY_S)
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            task.result()
