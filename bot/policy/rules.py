"""The policy itself: categories, what a user is told, and `PromptPolicy`, which checks a prompt.

`PromptPolicy` loads one term list per category from ``data/`` (or a directory given to it) and
compiles them once; each check then folds the prompt (:mod:`bot.policy.normalise`) and looks its
tokens up in the compiled lists (:mod:`bot.policy.lists`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from bot.policy.lists import Entry, Matcher, custom_matcher, parse_data_file
from bot.policy.normalise import token_sequences

__all__ = [
    "ALWAYS_ON",
    "CATEGORIES",
    "CATEGORY_LABELS",
    "DEFAULT_DATA_DIR",
    "PromptPolicy",
    "Verdict",
    "blocked",
]

CATEGORIES: tuple[str, ...] = ("sexual", "minors", "violence", "hate", "public_figures", "trademarks")
ALWAYS_ON: frozenset[str] = frozenset({"minors"})
CATEGORY_LABELS: dict[str, str] = {
    "sexual": "sexual content",
    "minors": "sexual content involving minors",
    "violence": "graphic violence",
    "hate": "hateful content",
    "public_figures": "real public figures",
    "trademarks": "trademarked characters",
    "custom": "a word or phrase this server has blocked",
}

DEFAULT_DATA_DIR = Path(__file__).with_name("data")

# When a prompt trips several categories, the user is told about the most serious one.
_SEVERITY: tuple[str, ...] = ("minors", "sexual", "violence", "hate", "public_figures", "trademarks")


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """Outcome of a check. ``message`` is safe to post publicly: it never repeats the prompt."""

    allowed: bool
    category: str | None
    message: str


_ALLOWED = Verdict(True, None, "")


def _blocked(category: str) -> Verdict:
    label = CATEGORY_LABELS[category]
    if category == "custom":
        message = f"Sorry, that prompt contains {label}."
    elif category in ALWAYS_ON:
        message = f"Sorry, that prompt looks like it asks for {label}, which is never allowed."
    else:
        message = f"Sorry, that prompt looks like it asks for {label}, which this server doesn't allow."
    return Verdict(False, category, message)


class PromptPolicy:
    """The term lists, loaded and compiled once; :meth:`check` then only tokenizes and looks up."""

    def __init__(self, data_dir: Path | None = None) -> None:
        directory = Path(data_dir) if data_dir is not None else DEFAULT_DATA_DIR
        entries: list[Entry] = []
        for category in CATEGORIES:
            path = directory / f"{category}.txt"
            if not path.is_file():
                raise FileNotFoundError(f"prompt policy list missing: {path}")
            entries.extend(parse_data_file(path, category))
        self._matcher = Matcher(entries)

    def check(
        self, prompt: str, *, disabled: Iterable[str] = (), custom_words: Iterable[str] = ()
    ) -> Verdict:
        """Allow or block ``prompt`` for a guild.

        ``disabled`` names categories the guild switched off; "minors" cannot be, and unknown names
        are ignored so that a stale guild setting never breaks checking. ``custom_words`` are
        folded and matched like data-file terms, including a trailing ``*`` and a leading ``!``;
        braces and sections are data-file only. Custom words are checked last, so a prompt that
        also trips a category is reported under that category.
        """
        if isinstance(disabled, str):
            disabled = (disabled,)
        if isinstance(custom_words, str):
            custom_words = (custom_words,)
        off = set(disabled) - ALWAYS_ON
        sequences = token_sequences(prompt)
        groups = self._matcher.groups(sequences)
        if "minors" in groups or (
            "minors:minor" in groups and ("sexual" in groups or "minors:sexual" in groups)
        ):
            return _blocked("minors")
        for category in _SEVERITY[1:]:
            if category in groups and category not in off:
                return _blocked(category)
        words = frozenset(w.strip() for w in custom_words if w and w.strip())
        if words and "custom" in custom_matcher(words).groups(sequences):
            return _blocked("custom")
        return _ALLOWED


def blocked(category: str) -> Verdict:
    """The refusal for ``category``, worded as the lists word it: the classifier layer's too."""
    return _blocked(category)
