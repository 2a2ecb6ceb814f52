"""Prompts not in English: a cheap guess of whether one is, and an optional translation step.

Most text encoders (ModelScope's CLIP, the T5 of LTX-Video and CogVideoX) read English best, so
a prompt in another language usually gives a looser clip. `looks_english` is a heuristic, one
pass over the text: mostly non-Latin letters, or more French/Spanish/German/Italian/Portuguese
function words than English ones, reads as not English. Intake then adds a tip to the queued
answer, or, when the owner configured a `Translator`, sends the model the English translation
while the member keeps seeing their own words (`member_prompt`).

The translator has the shape of the policy's classifiers (`bot.policy.classifiers`): a protocol,
a hosted implementation over aiohttp with a timeout, one attempt, and an exception carrying one
line for the log. Off unless `PROMPTREEL_TRANSLATE_URL` is set.
"""

from __future__ import annotations

import re
from typing import Any, Protocol

from bot.hosted import HostedJSON

__all__ = ["HostedTranslator", "TranslationUnavailable", "Translator", "looks_english", "member_prompt"]

_WORD = re.compile(r"[^\W\d_]+")


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Short words that say "English" or "not English" in a prompt; none is common in both (no "a",
# "in", "die", "son", "no", "do"), so a proper noun or a loanword rarely tips the balance.
_ENGLISH = _words("the an of and on with at to is are under over from by into his her their its this that")
_OTHER = _words(
    # French, Spanish, German, Italian and Portuguese
    "le la les un une des de du et dans sur avec sous qui est sont au aux ce cette ses sa pour par en "
    "el los las una con por para del y es muy "
    "der das ein eine und mit im auf unter von zu ist einem einer "
    "il lo gli di della nella delle uma um com na da em"
)
# Read at most this many words: a prompt's first words say which language it is in.
_MAX_WORDS = 200


def looks_english(text: str) -> bool:
    """Whether a prompt reads as English (or too short to tell): linear in its length."""
    letters = foreign_letters = english = other = 0
    for count, match in enumerate(_WORD.finditer(text)):
        if count >= _MAX_WORDS:
            break
        word = match.group()
        letters += len(word)
        foreign_letters += sum(1 for ch in word if ord(ch) > 0x24F)  # beyond the Latin blocks
        lowered = word.lower()
        english += lowered in _ENGLISH
        other += lowered in _OTHER
    if letters and foreign_letters / letters > 0.3:
        return False
    return not (other >= 2 and other > english)


def member_prompt(job: Any) -> str:
    """The prompt as its member wrote it: the translation the model read is not theirs to see."""
    return str(job.reply.get("prompt") or job.request.prompt)


class TranslationUnavailable(Exception):
    """The translator gave no answer (timeout, 429, 5xx, a malformed reply): one line for the log."""


class Translator(Protocol):
    """Anything that turns a prompt into English."""

    name: str

    async def translate(self, text: str) -> str:
        """Raises :class:`TranslationUnavailable` when it cannot answer; never blocks the loop."""
        ...

    async def close(self) -> None: ...


class HostedTranslator:
    """LibreTranslate's `POST /translate` (`{"q", "source": "auto", "target": "en"}` ->
    `{"translatedText"}`), or any endpoint that speaks that schema.

    One attempt per prompt within `timeout_s`: the member is waiting, and without a translation
    their prompt still renders as they wrote it. The session is made on first use, in the loop.
    """

    name = "hosted"

    def __init__(self, *, url: str, api_key: str | None = None, timeout_s: float = 5.0) -> None:
        self._api_key = api_key
        self._api = HostedJSON(url, what="translation API", error=TranslationUnavailable, timeout_s=timeout_s)

    async def translate(self, text: str) -> str:
        body: dict[str, Any] = {"q": text, "source": "auto", "target": "en", "format": "text"}
        if self._api_key:
            body["api_key"] = self._api_key
        payload = await self._api.post(body)
        translated = payload.get("translatedText") if isinstance(payload, dict) else None
        if not isinstance(translated, str) or not translated.strip():
            raise TranslationUnavailable("translation API: the answer has no translatedText")
        return translated.strip()

    async def close(self) -> None:
        await self._api.close()
