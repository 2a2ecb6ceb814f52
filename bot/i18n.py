"""Which language the bot is speaking right now, and the catalogues that answer in it.

Every surface keeps its English sentences in its own text module (`bot.texts`,
`bot.discord.texts`, `bot.social.texts`): that stays the source of truth, and many tests read
it. Each other language has a module per surface under `bot.locales.<code>` with the same
names and signatures. A `Catalogue` stands for one surface's modules: `texts.BANNED` is the
English module's `BANNED`, or the French one's, depending on the language of whoever is being
answered.

That language is a context variable rather than an argument: the sentences are written deep
in admission, quotas and moderation, and each answer belongs to one request, which runs in a
task of its own (a Discord interaction, a mention, a delivery). A surface calls `use(language)`
once, at the start of handling; `asyncio` copies the variable into the tasks and threads that
handling starts (the journal's thread included, `engine.journal.aio`).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from types import ModuleType
from typing import Any

# Languages with a catalogue, English first: it is the fallback for anything else.
LANGUAGES = ("en", "fr")
ENGLISH = "en"

_speaking: ContextVar[str | None] = ContextVar("promptreel_language", default=None)
# The process's language where no request set one (`PROMPTREEL_LANGUAGE`, set by `Core`).
_default = ENGLISH


def supported(code: object) -> str | None:
    """`"fr"`, `"fr-FR"`, `Locale.french` or `"FR_ca"` -> `"fr"`; None for a language without a catalogue."""
    raw = str(getattr(code, "value", code) or "").strip().lower()
    base = raw.replace("_", "-").split("-", 1)[0]
    return base if base in LANGUAGES else None


def pick(*candidates: object) -> str:
    """The first candidate that has a catalogue, in the order given; else the process default."""
    for candidate in candidates:
        found = supported(candidate)
        if found is not None:
            return found
    return _default


def set_default(language: str) -> None:
    """The language of whatever no request set one for (the owner's `PROMPTREEL_LANGUAGE`)."""
    global _default
    _default = supported(language) or ENGLISH


def default() -> str:
    return _default


def current() -> str:
    """The language of the request being handled, else the process default."""
    return _speaking.get() or _default


def use(language: str | None) -> None:
    """Speak `language` for the rest of this task (and what it starts); None: the default.

    For a handler that runs in a task of its own (discord.py starts one per interaction,
    message and button press), so nothing needs resetting.
    """
    _speaking.set(supported(language))


@contextmanager
def speaking(language: str | None) -> Iterator[str]:
    """Speak `language` inside the block only: for a loop that answers several people in turn."""
    token = _speaking.set(supported(language))
    try:
        yield current()
    finally:
        _speaking.reset(token)


class Catalogue:
    """One surface's sentences in every language: attribute access reads the current language's module.

    `english` names the source-of-truth module; `others` maps a language code to the module
    with the same names. A name the other module lacks is an error the catalogue test catches;
    at run time the English sentence is better than none, so it falls back to it.
    """

    def __init__(self, english: str, **others: str) -> None:
        self._names = {ENGLISH: english, **others}
        self._modules: dict[str, ModuleType] = {}

    def module(self, language: str | None = None) -> ModuleType:
        """The module for `language` (None: the current one), imported on first use.

        Imported by name so that no English text module has to import its translations.
        """
        code = supported(language) if language is not None else current()
        name = self._names.get(code or ENGLISH, self._names[ENGLISH])
        found = self._modules.get(name)
        if found is None:
            found = self._modules[name] = importlib.import_module(name)
        return found

    def languages(self) -> dict[str, ModuleType]:
        """Every language's module, for the tests that compare them."""
        return {code: self.module(code) for code in self._names}

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        module = self.module()
        try:
            return getattr(module, name)
        except AttributeError:
            return getattr(self.module(ENGLISH), name)


# What the core, admission, quotas and moderation say (`bot.texts` in English).
texts = Catalogue("bot.texts", fr="bot.locales.fr.texts")
# What the console surface itself says (`bot.console_texts` in English).
console_texts = Catalogue("bot.console_texts", fr="bot.locales.fr.console")
# What the bot posts on social networks (`bot.social.texts` in English).
social_texts = Catalogue("bot.social.texts", fr="bot.locales.fr.social")
