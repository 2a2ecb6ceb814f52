"""Term lists for the prompt policy: the editable data files and the matcher compiled from them.

Data files hold one term per line, with ``{a,b}`` / ``{1..3}`` braces, ``!`` exceptions, a trailing
``*`` for prefixes and (in minors.txt only) sections. Terms are folded like prompts (see
:mod:`bot.policy.normalise`) and matched on word boundaries; stretched letters ("nuuuude") match by
comparing runs of repeated letters, so "annals" never reads as "anals".
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.policy.normalise import prefold, primary, readings, tokens

# Sections of minors.txt. Minor-indicating words are harmless alone ("kids playing football"), so
# they only count next to a sexual word; explicit terms count on their own.
_MINORS_SECTIONS = {"": "minors", "explicit": "minors", "minor": "minors:minor", "sexual": "minors:sexual"}

_DOUBLED_RE = re.compile(r"(.)\1")


# ---------------------------------------------------------------------------------------------
# Term lists
# ---------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=65536)
def _squeeze(word: str) -> tuple[str, tuple[int, ...]]:
    letters = []
    counts = []
    for ch, group in itertools.groupby(word):
        letters.append(ch)
        counts.append(len(list(group)))
    return "".join(letters), tuple(counts)


def _runs(word: str) -> tuple[str, tuple[int, ...] | None]:
    """``"nuuude"`` -> ``("nude", (1, 3, 1, 1))``: letters without repeats, and repeat counts.

    Counts are None when no letter repeats, which is most words; that keeps the hot path to one
    regex search.
    """
    if _DOUBLED_RE.search(word) is None:
        return word, None
    return _squeeze(word)


def _runs_match(
    have: tuple[int, ...] | None, want: tuple[int, ...] | None, length: int, prefix: bool
) -> bool:
    """Stretched letters match, doubled letters do not: "nuuude" is nude, "annals" is not anal.

    ``length`` is the number of runs the term has; for a prefix term the text may have more.
    """
    if have is None:
        return want is None
    if want is None:
        want = (1,) * length
    last = length - 1
    for i in range(length):
        got, need = have[i], want[i]
        if got != need and not (got > need and (got >= 3 or (prefix and i == last))):
            return False
    return True


def _plurals(word: str) -> tuple[str, ...]:
    if word.isdigit() or not word.isascii():
        return ()
    if word.endswith(("s", "x", "z", "ch", "sh", "o")):
        return (word + "s", word + "es")
    if len(word) > 1 and word.endswith("y") and word[-2] not in "aeiou":
        return (word + "s", word[:-1] + "ies")
    return (word + "s",)


_BRACE_RE = re.compile(r"\{([^{}]*)\}")
_RANGE_RE = re.compile(r"(\d+)\.\.(\d+)")
_MAX_EXPANSION = 2000


def expand_braces(line: str) -> list[str]:
    """``"{1..3} year old"`` -> three lines, so age lists stay readable in the data files."""
    match = _BRACE_RE.search(line)
    if match is None:
        return [line]
    body = match.group(1)
    numbers = _RANGE_RE.fullmatch(body)
    if numbers:
        low, high = int(numbers.group(1)), int(numbers.group(2))
        if high < low or high - low > _MAX_EXPANSION:
            raise ValueError(f"bad range {{{body}}}")
        options = [str(n) for n in range(low, high + 1)]
    else:
        options = body.split(",")
    out: list[str] = []
    for option in options:
        out.extend(expand_braces(line[: match.start()] + option + line[match.end() :]))
        if len(out) > _MAX_EXPANSION:
            raise ValueError("braces expand to too many terms")
    return out


@dataclass(frozen=True)
class Entry:
    """One term as written. ``group`` says what a match means: a category, a section of minors.txt
    ("minors:minor") or "custom"; an exception match cancels matches inside it from the same file."""

    text: str
    group: str
    exception: bool = False


@dataclass(frozen=True)
class _Term:
    specs: tuple[int, ...]
    group: str
    file: str
    exception: bool


def parse_data_file(path: Path, category: str) -> list[Entry]:
    """Read one category file; a mistake raises with file and line, so it cannot pass unnoticed."""
    entries: list[Entry] = []
    section = ""
    for lineno, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        where = f"{path}:{lineno}"
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip().lower()
            if category != "minors" or section not in _MINORS_SECTIONS:
                raise ValueError(f"{where}: unknown section [{section}]")
            continue
        group = _MINORS_SECTIONS[section] if category == "minors" else category
        exception = line.startswith("!")
        try:
            lines = expand_braces(line[1:] if exception else line)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
        for text in lines:
            if not term_tokens(text)[0]:
                raise ValueError(f"{where}: {raw.strip()!r} has no letters or digits to match")
            entries.append(Entry(text, group, exception))
    return entries


def term_tokens(text: str) -> tuple[list[str], bool]:
    text = text.strip()
    prefix = text.endswith("*")
    return tokens(prefold(text.rstrip("*"))), prefix


# Squeezed spelling -> (spec id, repeat counts of the spelling, None when nothing repeats).
_Index = dict[str, list[tuple[int, tuple[int, ...] | None]]]


class Matcher:
    """Compiled term lists: looks up each token reading once, then checks phrases position by position."""

    def __init__(self, entries: Iterable[Entry]) -> None:
        self._spec_ids: dict[tuple[frozenset[str], bool], int] = {}
        self._exact: _Index = {}
        self._prefix: _Index = {}
        # One-word terms by their spec; longer ones by their first two, so a common first word
        # ("the", "my") costs nothing unless the next word fits too.
        self._single: dict[int, list[_Term]] = {}
        self._by_pair: dict[tuple[int, int], list[_Term]] = {}
        self._pair_firsts: set[int] = set()
        self._cache: dict[frozenset[str], frozenset[int]] = {}
        for entry in entries:
            self._add(entry)
        # Prefix stems are looked up by every length they could have; the set of their first few
        # letters rejects almost every word with a single lookup first.
        lengths = [len(key) for key in self._prefix] or [1]
        self._head = min(lengths)
        self._prefix_lengths = range(self._head, max(lengths) + 1)
        self._prefix_heads = {key[: self._head] for key in self._prefix}

    def _spec(self, token: str, *, last: bool, prefix: bool) -> int:
        spellings = set(readings(token))
        prefix = prefix and last and len(primary(token)) >= 3
        if last and not prefix:
            spellings.update(p for s in list(spellings) for p in _plurals(s))
        key = (frozenset(spellings), prefix)
        if key in self._spec_ids:
            return self._spec_ids[key]
        spec_id = len(self._spec_ids)
        self._spec_ids[key] = spec_id
        index = self._prefix if prefix else self._exact
        for spelling in spellings:
            letters, counts = _runs(spelling)
            index.setdefault(letters, []).append((spec_id, counts))
        return spec_id

    def _add(self, entry: Entry) -> None:
        tokens, prefix = term_tokens(entry.text)
        if not tokens:
            return
        file = entry.group.split(":", 1)[0]
        variants = [tokens]
        if len(tokens) > 1:
            variants.append(["".join(tokens)])  # "darth vader" also as "darthvader"
        for variant in variants:
            specs = tuple(
                self._spec(tok, last=i == len(variant) - 1, prefix=prefix) for i, tok in enumerate(variant)
            )
            term = _Term(specs, entry.group, file, entry.exception)
            if len(specs) == 1:
                self._single.setdefault(specs[0], []).append(term)
            else:
                self._by_pair.setdefault(specs[:2], []).append(term)
                self._pair_firsts.add(specs[0])

    def _matching_specs(self, readings: frozenset[str]) -> frozenset[int]:
        found: set[int] = set()
        for reading in readings:
            letters, counts = _runs(reading)
            for spec_id, want in self._exact.get(letters, ()):
                if _runs_match(counts, want, len(letters), prefix=False):
                    found.add(spec_id)
            if letters[: self._head] not in self._prefix_heads:
                continue
            for length in self._prefix_lengths:
                if length > len(letters):
                    break
                for spec_id, want in self._prefix.get(letters[:length], ()):
                    if _runs_match(counts, want, length, prefix=True):
                        found.add(spec_id)
        result = frozenset(found)
        if len(self._cache) > 50_000:
            self._cache.clear()  # crude bound; the working set of real prompts is far smaller
        self._cache[readings] = result
        return result

    def spans(self, sequence: Sequence[frozenset[str]]) -> list[tuple[str, int, int]]:
        """``(group, start, end)`` of every match not covered by an exception from the same file,
        in order of ``start``; positions are token indexes, for the rules that look at distances."""
        cached = self._cache.get
        slots = [
            ids if ids is not None else self._matching_specs(readings)
            for ids, readings in zip(map(cached, sequence), sequence, strict=True)
        ]
        if not any(slots):
            return []
        hits: list[tuple[_Term, int, int]] = []
        count = len(slots)
        single, by_pair, pair_firsts = self._single, self._by_pair, self._pair_firsts
        for start, spec_ids in enumerate(slots):
            if not spec_ids:
                continue
            following = slots[start + 1] if start + 1 < count else ()
            for spec_id in spec_ids:
                for term in single.get(spec_id, ()):
                    hits.append((term, start, start + 1))
                if not following or spec_id not in pair_firsts:
                    continue
                for second in following:
                    for term in by_pair.get((spec_id, second), ()):
                        end = start + len(term.specs)
                        if end <= count and all(
                            s in slots[start + k] for k, s in enumerate(term.specs[2:], 2)
                        ):
                            hits.append((term, start, end))
        if not any(term.exception for term, _, _ in hits):
            return [(term.group, start, end) for term, start, end in hits]
        # Hits come in order of start, so the exceptions that began at or before a hit are known
        # when it is reached: it is covered when one of them, from its file, reaches its end.
        # One pass, so a prompt made of a thousand "naked eye"s costs no more than one.
        reach: dict[str, int] = {}
        out: list[tuple[str, int, int]] = []
        i = 0
        while i < len(hits):
            j = i
            while j < len(hits) and hits[j][1] == hits[i][1]:
                j += 1
            for term, _, end in hits[i:j]:
                if term.exception:
                    reach[term.file] = max(reach.get(term.file, -1), end)
            out.extend(
                (t.group, s, e) for t, s, e in hits[i:j] if not t.exception and reach.get(t.file, -1) < e
            )
            i = j
        return out

    def groups(self, sequences: Iterable[Sequence[frozenset[str]]]) -> set[str]:
        """Groups with at least one match not covered by an exception from the same file."""
        return {group for sequence in sequences for group, _, _ in self.spans(sequence)}


@functools.lru_cache(maxsize=256)
def custom_matcher(words: frozenset[str]) -> Matcher:
    """Guilds send the same custom list with every prompt; compile it once per distinct list."""
    entries = []
    for word in words:
        exception = word.startswith("!")
        entries.append(Entry(word[1:] if exception else word, "custom", exception))
    return Matcher(entries)
