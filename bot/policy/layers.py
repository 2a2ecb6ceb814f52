"""One verdict from several layers, cheapest first: the lists, then (optionally) a classifier.

The lists answer in well under a millisecond and cost nothing, so every prompt goes through
them; a classifier (a hosted API or a local model, :mod:`bot.policy.classifiers`) costs a round
trip or a model call and is asked only about prompts the lists let through, and only on servers
that chose it. A server's settings (:class:`ServerPolicy`) pick its classifier, its disabled
categories, its blocked words and its allowed phrases (:mod:`bot.policy.appeals`).

Two rules hold whatever a server sets:

* "minors" is never off: not by a disabled category, not by a classifier's silence on a
  server that disabled everything else, and not by a moderator's allowed phrase. Only a phrase
  the bot's owners allowed (``owner_phrases``) is taken out before the minors check too.
* A classifier that cannot answer (timeout, 429, 5xx, missing weights) fails closed (the prompt
  is refused with "try again later") unless the owner set fail-open, which admits what the lists
  admitted. Either way the owner's log gets one line when it starts failing and one when it works
  again, not a line per prompt.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from bot.i18n import texts
from bot.policy.appeals import without_phrases
from bot.policy.classifiers import SEVERITY, ClassifierUnavailable, TextClassifier
from bot.policy.rules import ALWAYS_ON, CATEGORIES, CATEGORY_LABELS, PromptPolicy, blocked
from engine.storage import Episodes

log = logging.getLogger(__name__)

__all__ = ["CLASSIFIER_CHOICES", "LayerVerdict", "Layers", "ServerPolicy"]

# What a server may choose as its second layer ("off": the lists alone).
CLASSIFIER_CHOICES: tuple[str, ...] = ("off", "hosted", "local")

# A classifier may find categories the lists do not have yet; it is reported under the nearest
# one they have, so the refusal still names something the member can read and a moderator can
# switch. Entries whose category the lists have are never used.
_NEAREST = {"self_harm": "violence", "harassment": "hate"}


def _reported(category: str) -> str:
    return category if category in CATEGORY_LABELS else _NEAREST.get(category, "violence")


@dataclass(frozen=True)
class ServerPolicy:
    """What one server chose; built from its settings by the core (`bot.admission.GuildConfig`)."""

    classifier: str = "off"
    disabled: frozenset[str] = frozenset()
    blocked_words: tuple[str, ...] = ()
    allowed_phrases: tuple[str, ...] = ()
    # The subset of allowed phrases an owner allowed: the only ones the minors check ignores.
    owner_phrases: tuple[str, ...] = ()


@dataclass(frozen=True)
class LayerVerdict:
    """The one verdict. ``message`` never repeats the prompt; ``layer`` says which layer decided."""

    allowed: bool
    category: str | None
    message: str
    layer: str
    # "policy" for a content refusal, "unchecked" when a classifier failed closed.
    reason: str = "policy"


class Layers:
    """The lists and the classifiers this bot has; `check` applies a server's choice of them."""

    def __init__(
        self,
        policy: PromptPolicy,
        classifiers: Mapping[str, TextClassifier] | None = None,
        *,
        fail_open: bool = False,
    ) -> None:
        self.policy = policy
        self.classifiers = dict(classifiers or {})
        self.fail_open = fail_open
        self._faults = Episodes(
            logger=log, then="admitting what the lists admit" if fail_open else "refusing prompts meanwhile"
        )

    def available(self) -> tuple[str, ...]:
        """The choices a server may make here: "off" and each classifier the owner configured."""
        return tuple(c for c in CLASSIFIER_CHOICES if c == "off" or c in self.classifiers)

    def lists(self, prompt: str, server: ServerPolicy) -> LayerVerdict:
        """The first layer alone: synchronous and sub-millisecond."""
        text = without_phrases(prompt, server.allowed_phrases)
        verdict = self.policy.check(text, disabled=server.disabled, custom_words=server.blocked_words)
        if verdict.allowed:
            # A moderator's phrase must not hide minors content: read the prompt again with it.
            strict = without_phrases(prompt, server.owner_phrases)
            if strict != text:
                again = self.policy.check(strict, disabled=CATEGORIES)
                if again.category in ALWAYS_ON:
                    verdict = again
        return LayerVerdict(verdict.allowed, verdict.category, verdict.message, "lists")

    async def check(self, prompt: str, server: ServerPolicy) -> LayerVerdict:
        """The lists, then the server's classifier when the lists allow."""
        first = self.lists(prompt, server)
        if not first.allowed or server.classifier == "off":
            return first
        name = server.classifier
        classifier = self.classifiers.get(name)
        try:
            if classifier is None:
                raise ClassifierUnavailable(f"{name} classifier chosen by a server but not configured")
            exempt = without_phrases(prompt, server.allowed_phrases)
            found = await classifier.classify(exempt)
            ignore = frozenset(server.disabled) - ALWAYS_ON
            reported = {_reported(c) for c in found.flagged} - ignore
            # A moderator's phrase was taken out: the minors check reads the prompt with it.
            strict = without_phrases(prompt, server.owner_phrases)
            recheck = "minors" not in found.flagged and strict != exempt
            if recheck and "minors" in (await classifier.classify(strict)).flagged:
                reported.add("minors")
        except ClassifierUnavailable as exc:
            self._faults.failed(name, f"policy: the {name} classifier cannot answer ({exc})")
            if self.fail_open:
                return first
            return LayerVerdict(False, None, texts.CANNOT_CHECK_PROMPTS, name, reason="unchecked")
        self._faults.worked(name, f"policy: the {name} classifier answers again")
        for category in (*map(_reported, SEVERITY), *CATEGORY_LABELS):
            if category in reported:
                return LayerVerdict(False, category, blocked(category).message, name)
        return LayerVerdict(True, None, "", name)

    async def close(self) -> None:
        for classifier in self.classifiers.values():
            await classifier.close()
