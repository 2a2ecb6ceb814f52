"""A loopback fake of OpenAI's moderation endpoint, written from the published schema.

``POST /v1/moderations`` with ``{"model": ..., "input": ...}`` answers
``{"id", "model", "results": [{"flagged", "categories", "category_scores",
"category_applied_input_types"}]}`` with every omni-moderation category present. What it flags
is the test's choice (``fake.flag("belly", "violence/graphic")``: an input containing "belly"
is flagged for that category); faults too (``fake.mode``: "ok", "429", "500", "hang" (never
answers until the test ends), "not_json", "no_results"). Every request is recorded.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

# The categories of omni-moderation-latest, as the API reference lists them.
OPENAI_CATEGORIES = (
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/intent",
    "self-harm/instructions",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
)


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class FakeModeration:
    mode: str = "ok"
    requests: list[Seen] = field(default_factory=list)
    _flags: dict[str, list[str]] = field(default_factory=dict)
    _runner: web.AppRunner | None = None
    _hang: asyncio.Event = field(default_factory=asyncio.Event)
    base_url: str = ""

    def flag(self, needle: str, *categories: str) -> None:
        assert all(c in OPENAI_CATEGORIES for c in categories), categories
        self._flags[needle] = list(categories)

    def inputs(self) -> list[str]:
        return [r.body["input"] for r in self.requests]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(Seen(request.path, dict(request.headers), body))
        if self.mode == "hang":
            await self._hang.wait()
        if self.mode in ("429", "500"):
            return web.json_response({"error": {"message": "fake fault"}}, status=int(self.mode))
        if self.mode == "not_json":
            return web.Response(text="<html>gateway</html>", content_type="text/html")
        if self.mode == "no_results":
            return web.json_response({"id": "modr-0", "model": "omni-moderation-2024-09-26"})
        categories = dict.fromkeys(OPENAI_CATEGORIES, False)
        scores = dict.fromkeys(OPENAI_CATEGORIES, 0.0002)
        for needle, flagged in self._flags.items():
            if needle in body["input"]:
                for name in flagged:
                    categories[name] = True
                    scores[name] = 0.93
        result = {
            "flagged": any(categories.values()),
            "categories": categories,
            "category_scores": scores,
            "category_applied_input_types": {name: ["text"] for name in OPENAI_CATEGORIES},
        }
        return web.json_response(
            {"id": f"modr-{len(self.requests)}", "model": "omni-moderation-2024-09-26", "results": [result]}
        )

    async def start(self) -> FakeModeration:
        app = web.Application()
        app.router.add_post("/v1/moderations", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}/v1"
        return self

    async def stop(self) -> None:
        self._hang.set()  # let hung handlers finish so the server closes at once
        if self._runner is not None:
            await self._runner.cleanup()
