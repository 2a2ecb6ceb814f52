"""The fake's memory of REST traffic: looking requests up, waiting for them, and scripting faults."""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Callable, Mapping
from typing import Any

from .records import Fault, RecordedRequest, Reply, compile_pattern, pattern_matches


class Recorder:
    """Recorded requests, scripted faults, and the change event every waiting helper sleeps on."""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self.faults: list[Fault] = []
        self._changed = asyncio.Event()

    def _notify(self) -> None:
        ev, self._changed = self._changed, asyncio.Event()
        ev.set()

    # ----------------------------------------------------------------------------------- looking

    def mark(self) -> int:
        """Index to pass as ``since=`` to only look at requests recorded after this point."""
        return len(self.requests)

    def find_requests(
        self,
        route: str | None = None,
        *,
        since: int = 0,
        status: int | None = None,
        ok: bool | None = None,
        predicate: Callable[[RecordedRequest], bool] | None = None,
    ) -> list[RecordedRequest]:
        """Recorded requests matching ``route`` (same syntax as ``add_fault``), in order."""
        compiled = compile_pattern(route) if route is not None else None
        out = []
        for rec in self.requests[since:]:
            if rec.status is None:
                continue  # still being handled
            if compiled is not None and not pattern_matches(compiled, rec.method, rec.path):
                continue
            if status is not None and rec.status != status:
                continue
            if ok is not None and rec.ok != ok:
                continue
            if predicate is not None and not predicate(rec):
                continue
            out.append(rec)
        return out

    # ----------------------------------------------------------------------------------- waiting

    async def _wait(self, done: Callable[[], bool], timeout: float, failure: Callable[[], str]) -> None:  # noqa: ASYNC109
        """Re-check ``done()`` whenever a request or session changes; ``TimeoutError(failure())``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not done():
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(failure())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)

    async def wait_for_request(
        self,
        route: str | None = None,
        *,
        count: int = 1,
        since: int = 0,
        timeout: float = 5.0,  # noqa: ASYNC109
        status: int | None = None,
        ok: bool | None = None,
        predicate: Callable[[RecordedRequest], bool] | None = None,
    ) -> RecordedRequest:
        """Wait (event-driven, no polling) until ``count`` matching requests have been answered;
        return the ``count``-th. Raises ``TimeoutError`` listing what was recorded."""
        matches: list[RecordedRequest] = []

        def enough() -> bool:
            matches[:] = self.find_requests(route, since=since, status=status, ok=ok, predicate=predicate)
            return len(matches) >= count

        def failure() -> str:
            seen = ", ".join(f"{r.method} {r.path} -> {r.status}" for r in self.requests[since:]) or "nothing"
            return f"no {count}x {route!r} within {timeout}s; recorded: {seen}"

        await self._wait(enough, timeout, failure)
        return matches[count - 1]

    async def wait_for(self, predicate: Callable[[], bool], *, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait until ``predicate()`` is true, re-checking whenever a request or session changes."""
        await self._wait(predicate, timeout, lambda: f"condition not met within {timeout}s")

    # ---------------------------------------------------------------------------- scripted faults

    def add_fault(
        self,
        route: str,
        *,
        status: int,
        json_body: Any = None,
        text: str | None = None,
        headers: Mapping[str, str] | None = None,
        times: int = 1,
    ) -> Fault:
        """Answer the next ``times`` requests matching ``route`` with this response instead.

        ``route`` is ``"[METHOD ]/path"`` where ``{name}`` or ``*`` match one path segment and
        ``**`` anything, e.g. ``"POST /channels/{channel_id}/messages"``.
        """
        fault = Fault(route, times, Reply(status, json_body, dict(headers or {}), text))
        self.faults.append(fault)
        return fault

    def rate_limit(
        self,
        route: str,
        *,
        times: int = 1,
        retry_after: float = 0.05,
        is_global: bool = False,
        scope: str = "user",
        cloudflare: bool = False,
    ) -> Fault:
        """Script 429s. Discord's (and what discord.py retries) carry ``Via: 1.1 google``;
        ``cloudflare=True`` gives the header-less HTML 429 of a Cloudflare ban instead, which
        discord.py raises as ``HTTPException`` (status 429) without retrying."""
        if cloudflare:
            return self.add_fault(
                route,
                status=429,
                text="<html><body>Error 1015: You are being rate limited</body></html>",
                times=times,
            )
        headers = {
            "Via": "1.1 google",
            "Retry-After": str(max(1, math.ceil(retry_after))),
            "X-RateLimit-Scope": "global" if is_global else scope,
        }
        if is_global:
            headers["X-RateLimit-Global"] = "true"
        else:
            headers.update(
                {
                    "X-RateLimit-Limit": "5",
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset": f"{time.time() + retry_after:.3f}",
                    "X-RateLimit-Reset-After": f"{retry_after:.3f}",
                    "X-RateLimit-Bucket": "fakediscord-bucket",
                }
            )
        body = {"message": "You are being rate limited.", "retry_after": retry_after, "global": is_global}
        if not is_global:
            body["code"] = 0
        return self.add_fault(route, status=429, json_body=body, headers=headers, times=times)

    def server_error(self, route: str, *, status: int = 500, times: int = 1) -> Fault:
        """Script 5xx answers. discord.py's bot HTTP client retries 500/502/504/524 after
        sleeping 1 s, 3 s, ... (raises ``DiscordServerError`` for other 5xx at once); its
        webhook/interaction adapter retries every 5xx the same way."""
        return self.add_fault(
            route,
            status=status,
            json_body={"message": f"{status}: Internal Server Error", "code": 0},
            times=times,
        )

    def clear_faults(self) -> None:
        self.faults.clear()

    def _fault_reply(self, rec: RecordedRequest) -> Reply | None:
        """Use up the first scripted fault matching ``rec`` and return its reply (``None``: no fault).
        A rate limit's ``X-RateLimit-Reset`` is moved to now + ``X-RateLimit-Reset-After``."""
        for fault in self.faults:
            if fault.matches(rec.method, rec.path):
                fault.remaining -= 1
                fault.hits.append(rec)
                rec.fault = fault
                reply = fault.reply
                if reply.status == 429 and "X-RateLimit-Reset" in reply.headers:
                    retry = float(reply.headers.get("X-RateLimit-Reset-After", "0"))
                    reply = Reply(
                        reply.status,
                        reply.body,
                        {**reply.headers, "X-RateLimit-Reset": f"{time.time() + retry:.3f}"},
                        reply.text,
                    )
                return reply
        return None
