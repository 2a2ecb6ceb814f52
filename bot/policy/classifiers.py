"""The classifier layer: one interface, a hosted moderation API and a local text model behind it.

Word lists only catch what they name; a classifier reads meaning ("cut open his belly") and other
languages. It costs a network round trip or a model call, so :mod:`bot.policy.layers` asks it
only about prompts the lists let through. Every classifier answers in *our* categories, so the
rest of the bot (refusal texts, per-server switches, the minors rule) never sees a vendor's label.

A classifier that cannot answer raises :class:`ClassifierUnavailable` with one line for the log;
whether the prompt is then refused or let through is the layer's setting (fail-closed or open),
not the classifier's.

Torch-free: the local model's code lives in :mod:`engine.textcheck` and is imported only when a
server actually uses it, on a thread of its own, so the event loop never waits for it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.hosted import HostedJSON

log = logging.getLogger(__name__)

__all__ = [
    "OPENAI_CATEGORIES",
    "ClassifierUnavailable",
    "ClassifierVerdict",
    "HostedModeration",
    "LocalClassifier",
    "TextClassifier",
]

# OpenAI's moderation categories (omni-moderation) onto ours. "illicit" (how to make drugs, say)
# has no category of ours: a video prompt about it is not refused for that alone.
OPENAI_CATEGORIES: dict[str, str | None] = {
    "sexual": "sexual",
    "sexual/minors": "minors",
    "harassment": "harassment",
    "harassment/threatening": "harassment",
    "hate": "hate",
    "hate/threatening": "hate",
    "illicit": None,
    "illicit/violent": "violence",
    "self-harm": "self_harm",
    "self-harm/intent": "self_harm",
    "self-harm/instructions": "self_harm",
    "violence": "violence",
    "violence/graphic": "violence",
}

# When several categories are flagged the member is told about the most serious one.
SEVERITY: tuple[str, ...] = (
    "minors",
    "sexual",
    "self_harm",
    "violence",
    "hate",
    "harassment",
    "public_figures",
    "trademarks",
)


class ClassifierUnavailable(Exception):
    """The classifier gave no answer (timeout, 429, 5xx, missing weights): one line for the log."""


@dataclass(frozen=True)
class ClassifierVerdict:
    """What a classifier found, in our categories. ``scores`` are kept for the audit and tuning."""

    flagged: frozenset[str]
    scores: Mapping[str, float] = field(default_factory=dict)


class TextClassifier(Protocol):
    """Anything that reads a prompt and says which of our categories it falls in."""

    name: str

    async def classify(self, text: str) -> ClassifierVerdict:
        """Raises :class:`ClassifierUnavailable` when it cannot answer; never blocks the loop."""
        ...

    async def close(self) -> None: ...


def _map_categories(flags: Mapping[str, Any], scores: Mapping[str, Any]) -> ClassifierVerdict:
    flagged = {OPENAI_CATEGORIES.get(name) for name, on in flags.items() if on is True}
    ours: dict[str, float] = {}
    for name, score in scores.items():
        category = OPENAI_CATEGORIES.get(name)
        if category is not None and isinstance(score, int | float):
            ours[category] = max(ours.get(category, 0.0), float(score))
    flagged.discard(None)
    return ClassifierVerdict(frozenset(c for c in flagged if c is not None), ours)


class HostedModeration:
    """OpenAI's moderation endpoint (free to API users): ``POST {base_url}/moderations``.

    One attempt per prompt within ``timeout_s``: a member is waiting for the answer, so a retry
    after a 429 or a 5xx would only make them wait longer for the same fail-open/closed rule.
    The session is made on first use, inside the running loop, and reused for every call.
    """

    name = "hosted"

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str = "https://api.openai.com/v1",
        model: str = "omni-moderation-latest",
        timeout_s: float = 5.0,
    ) -> None:
        self._model = model
        self._api = HostedJSON(
            base_url.rstrip("/") + "/moderations",
            what="moderation API",
            error=ClassifierUnavailable,
            timeout_s=timeout_s,
            headers={"Authorization": f"Bearer {api_key}"},
        )

    async def classify(self, text: str) -> ClassifierVerdict:
        payload = await self._api.post({"model": self._model, "input": text})
        try:
            result = payload["results"][0]
            return _map_categories(result["categories"], result.get("category_scores") or {})
        except (KeyError, IndexError, TypeError, AttributeError):
            raise ClassifierUnavailable("moderation API: the answer has no results[0].categories") from None

    async def close(self) -> None:
        await self._api.close()


class LocalClassifier:
    """A transformers sequence classifier on this machine (:mod:`engine.textcheck`), off the loop.

    Loaded on first use, not at start, so a bot whose servers never pick the local layer never
    imports torch; a load that fails (missing weights) is remembered, and each check then fails
    at once with the same one line instead of retrying a slow load per prompt.
    """

    name = "local"

    def __init__(
        self,
        source: str,
        *,
        threshold: float = 0.5,
        labels: Mapping[str, str] | None = None,
        offline: bool = False,
        timeout_s: float = 5.0,
    ) -> None:
        self._source = source
        self._timeout_s = timeout_s
        self._threshold = threshold
        self._labels = dict(labels or {})
        self._offline = offline
        self._model: Any = None
        self._error: str | None = None
        # One thread: the model is not shared between threads, and checks queue behind each other.
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="promptreel-textcheck")

    def _run(self, text: str) -> ClassifierVerdict:
        if self._error is not None:
            raise ClassifierUnavailable(self._error)
        if self._model is None:
            from engine.presets import ModelUnavailable
            from engine.textcheck import TextModel

            try:
                self._model = TextModel.load(self._source, labels=self._labels, offline=self._offline)
            except ModelUnavailable as exc:
                self._error = str(exc)
                raise ClassifierUnavailable(self._error) from None
        scores = self._model.scores(text)
        flagged = frozenset(c for c, s in scores.items() if s >= self._threshold)
        return ClassifierVerdict(flagged, scores)

    async def classify(self, text: str) -> ClassifierVerdict:
        """The first call waits for the load however long it takes; later ones `timeout_s` at most
        (the check itself then finishes on its thread, and the next one queues behind it)."""
        loaded = self._model is not None
        work = asyncio.get_running_loop().run_in_executor(self._thread, self._run, text)
        try:
            return await asyncio.wait_for(work, self._timeout_s if loaded else None)
        except TimeoutError:
            raise ClassifierUnavailable(f"local classifier: no answer within {self._timeout_s:g} s") from None

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self._thread.shutdown)
