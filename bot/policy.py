"""Prompt content policy: decide whether a prompt may be rendered on this server.

People who want a blocked clip rarely type the blocked word plainly; they disguise it with
look-alike letters, invisible characters, leetspeak or spacing. Comparing raw text against a word
list is therefore useless, and naive substring matching is worse: it blocks "Scunthorpe" and
"therapist". So every prompt is first *folded* into plain lowercase word tokens, and the term lists
are matched against those tokens on word boundaries:

* Unicode tricks disappear before tokenising: NFKC (fullwidth, math alphanumerics, circled
  letters), removal of zero-width, bidi and control characters, NFKD accent stripping and a
  table of Cyrillic/Greek/small-capital look-alikes.
* A token can have several *readings* when it contains leetspeak, because a digit may stand for
  several letters ("1" is "i" or "l"); a term matches when any reading equals it.
* Stretched letters ("nuuuude") match by comparing runs of repeated letters: a run may be longer
  than in the term only when it is at least three long, so "annals" never reads as "anals".
* Spaced or dotted letters ("n u d e", "n.u.d.e") are joined, but only for runs of single-letter
  tokens, so "a classic" never becomes "aclassic".

The term lists live in editable text files (see the header of any file in ``policy_data``) so that
moderators can tune them without touching code. Pure Python and torch-free: the bot process imports
this, and it must answer in well under a millisecond.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from bot.policy_lists import _custom_matcher, _Entry, _Matcher, _parse_data_file
from bot.policy_text import _token_sequences, clean, fold

__all__ = [
    "ALWAYS_ON",
    "CATEGORIES",
    "CATEGORY_LABELS",
    "PromptPolicy",
    "Verdict",
    "clean",
    "fold",
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

DEFAULT_DATA_DIR = Path(__file__).with_name("policy_data")

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
        entries: list[_Entry] = []
        for category in CATEGORIES:
            path = directory / f"{category}.txt"
            if not path.is_file():
                raise FileNotFoundError(f"prompt policy list missing: {path}")
            entries.extend(_parse_data_file(path, category))
        self._matcher = _Matcher(entries)

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
        sequences = _token_sequences(prompt)
        groups = self._matcher.groups(sequences)
        if "minors" in groups or (
            "minors:minor" in groups and ("sexual" in groups or "minors:sexual" in groups)
        ):
            return _blocked("minors")
        for category in _SEVERITY[1:]:
            if category in groups and category not in off:
                return _blocked(category)
        words = frozenset(w.strip() for w in custom_words if w and w.strip())
        if words and "custom" in _custom_matcher(words).groups(sequences):
            return _blocked("custom")
        return _ALLOWED
