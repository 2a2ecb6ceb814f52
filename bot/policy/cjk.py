"""Term matching for scripts written without spaces: Chinese, Japanese and Korean.

A CJK sentence is one unbroken run of letters, so the word tokens of :mod:`bot.policy.lists` never
isolate a term inside it. Terms containing CJK letters are therefore matched by substring, in one
left-to-right pass that looks up, at each position, the slices of the lengths the terms have: the
cost is the prompt's length times the number of distinct term lengths (a handful), linear
whatever the input. Spaces and punctuation between CJK letters are dropped first, so spacing a
term out ("裸 体") does not hide it; Latin letters and digits still break a run.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

from bot.policy.lists import Entry
from bot.policy.normalise import strip_disguises

__all__ = ["CjkMatcher", "custom_cjk_matcher", "has_cjk"]

# Hangul jamo, kana (with the prolonged sound mark), CJK symbols' iteration mark, Hangul
# compatibility jamo, CJK ideographs (extension A, unified, compatibility) and Hangul syllables.
_CJK = "\u1100-\u11ff\u3005\u3040-\u30ff\u3130-\u318f\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_CJK_RE = re.compile(f"[{_CJK}]")
_RUN_RE = re.compile(f"[{_CJK}]+")
# Halfwidth katakana and Hangul fold into the ranges above under NFKC.
_MAYBE_CJK_RE = re.compile(f"[{_CJK}\uff61-\uffdc]")
_SEPARATORS_RE = re.compile(r"[\W_]+")


def has_cjk(text: str) -> bool:
    """Whether a term or prompt holds a letter this module must match."""
    return not text.isascii() and _MAYBE_CJK_RE.search(text) is not None


def _fold(text: str) -> str:
    return _SEPARATORS_RE.sub("", strip_disguises(text))


class CjkMatcher:
    """Terms with CJK letters, by their folded spelling; groups and exceptions as in data files."""

    def __init__(self, entries: Iterable[Entry]) -> None:
        self._terms: dict[str, list[Entry]] = {}
        for entry in entries:
            folded = _fold(entry.text.rstrip("*"))
            if folded:
                self._terms.setdefault(folded, []).append(entry)
        self._lengths = sorted({len(term) for term in self._terms})
        # Most characters begin no term; they cost one set lookup.
        self._firsts = {term[0] for term in self._terms}

    def __bool__(self) -> bool:
        return bool(self._terms)

    def groups(self, texts: Iterable[str]) -> set[str]:
        """Groups matched in any of ``texts`` (the prompt as typed and as displayed)."""
        found: set[str] = set()
        if not self._terms:
            return found
        for text in texts:
            if not has_cjk(text):
                continue
            for run in _RUN_RE.finditer(_fold(text)):
                found |= self._scan(run.group())
        return found

    def _scan(self, run: str) -> set[str]:
        # Positions are visited in order, so every exception starting at or before a hit is
        # known when the hit is: one pass, as in lists.Matcher.spans.
        reach: dict[str, int] = {}
        found: set[str] = set()
        terms, lengths, firsts = self._terms, self._lengths, self._firsts
        for start in range(len(run)):
            if run[start] not in firsts:
                continue
            hits = [
                (entry, start + length)
                for length in lengths
                if start + length <= len(run)
                for entry in terms.get(run[start : start + length], ())
            ]
            for entry, end in hits:
                if entry.exception:
                    file = entry.group.split(":", 1)[0]
                    reach[file] = max(reach.get(file, -1), end)
            for entry, end in hits:
                if not entry.exception and reach.get(entry.group.split(":", 1)[0], -1) < end:
                    found.add(entry.group)
        return found


@functools.lru_cache(maxsize=256)
def custom_cjk_matcher(words: frozenset[str]) -> CjkMatcher:
    """A guild's own CJK words ("!" exceptions included), compiled once per distinct list."""
    entries = []
    for word in words:
        exception = word.startswith("!")
        text = word[1:] if exception else word
        if has_cjk(text):
            entries.append(Entry(text, "custom", exception))
    return CjkMatcher(entries)
