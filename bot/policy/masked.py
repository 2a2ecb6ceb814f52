"""Words written with censor stars: "s*x", "p**n", "n*de".

A star is no letter, so the tokenizer splits "s*x" into "s" and "x" and nothing matches. Here
every single-word term of the category lists is indexed under each way of starring a stretch of
it, keeping its first letter and at least two letters in all: ("s", "x", 1) for "sex",
("p", "n", 2) for "porn". A starred word in a prompt is then one lookup. Only the lists' own words
are reachable, so "c*t" finds nothing ("cut" and "cat" are in no list).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from bot.policy.lists import Entry, term_tokens

__all__ = ["MaskedWords"]

_MAX_LETTERS = 12
_MAX_STARS = 8
# Bounded, and anchored on a word start by the look-behind, so a long run of letters is tried
# once rather than from every position: linear on any input.
_MASKED_RE = re.compile(
    f"(?<![a-z*])([a-z]{{1,{_MAX_LETTERS}}})(\\*{{1,{_MAX_STARS}}})([a-z]{{0,{_MAX_LETTERS}}})(?![a-z*])"
)


def _plural_forms(word: str) -> tuple[str, ...]:
    return (word, word + "s") if not word.endswith("s") else (word,)


class MaskedWords:
    """Starred spellings of the lists' single words, by (head, tail, number of stars)."""

    def __init__(self, entries: Iterable[Entry]) -> None:
        self._index: dict[tuple[str, str, int], set[str]] = {}
        for entry in entries:
            words, _ = term_tokens(entry.text)
            if entry.exception or len(words) != 1 or not words[0].isascii() or not words[0].isalpha():
                continue
            for word in _plural_forms(words[0]):
                if 3 <= len(word) <= 2 * _MAX_LETTERS:
                    self._add(word, entry.group)

    def _add(self, word: str, group: str) -> None:
        for i in range(1, len(word)):
            for j in range(i + 1, min(len(word), i + _MAX_STARS) + 1):
                if i + len(word) - j >= 2:
                    self._index.setdefault((word[:i], word[j:], j - i), set()).add(group)

    def groups(self, folded_texts: Iterable[str]) -> set[str]:
        """Groups of the starred words in the prefolded prompt texts."""
        found: set[str] = set()
        for text in folded_texts:
            if "*" not in text:
                continue
            for match in _MASKED_RE.finditer(text):
                head, stars, tail = match.groups()
                found |= self._index.get((head, tail, len(stars)), set())
        return found
