"""Real people the lists do not name: the named-person rule and fuzzy matching of listed names.

No list can hold every real person, but prompts name people the way people write names: a
known given name followed by a capitalised surname ("Emma Stone", "Dave Jenkins"). That reading
needs the capitals the other layers fold away, so it runs on a case-preserving token pass that
lines up with the folded one. "Victoria Falls" and "Jack Russell terrier" are not people, and
"Jack Sparrow" is a character: ``names.txt`` lists given names, words that follow a given name
in place and thing names, and fictional full names; trademarked names count as fictional too.

Misspelled listed names ("Scarlett Johanson") are found through a deletion neighbourhood
(SymSpell): every listed name word of five letters or more is indexed with each of its one-letter
deletions, so a prompt word finds its candidates with one lookup per deletion of itself instead
of a comparison with every listed name. A name may differ by one edit per word, by one in all
when it has 5 to 8 letters and by two from 9. Only capitalised words are read fuzzily: in
lowercase, "tom hands" is a sentence, not a misspelled actor.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.policy.lists import Entry
from bot.policy.normalise import prefold, tokens

__all__ = ["NameRules", "within_one_edit"]

_SECTIONS = ("given", "not surnames", "fictional", "not possessive")
# A capitalised word before 's: "Trump's hair" is the person even without the given name.
# Bounded and anchored on a word start, so linear on any input.
_POSSESSIVE_RE = re.compile(r"(?<![\w'’])([A-Z][a-z]{3,30})['’]s(?!\w)")
# Prompts in Title Case Or All Caps capitalise every word; the rules need a reason to trust capitals.
_TITLE_CASE_SHARE = 0.75
_TITLE_CASE_MIN_WORDS = 5
_FUZZY_MIN_LETTERS = 5
_FUZZY_ONE_WORD_MIN_LETTERS = 6


def within_one_edit(a: str, b: str) -> bool:
    """Optimal string alignment distance <= 1: one insertion, deletion, substitution or swap."""
    if a == b:
        return True
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    if la == lb:
        diffs = [i for i in range(la) if a[i] != b[i]]
        if len(diffs) == 1:
            return True
        i = diffs[0]
        return len(diffs) == 2 and diffs[1] == i + 1 and a[i] == b[i + 1] and a[i + 1] == b[i]
    if la > lb:
        a, b = b, a
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    return a[i:] == b[i + 1 :]


def _deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


@dataclass(frozen=True)
class _Name:
    words: tuple[str, ...]
    group: str
    budget: int  # edits allowed in all


def _budget(letters: int) -> int:
    return 2 if letters >= 9 else 1 if letters >= _FUZZY_MIN_LETTERS else 0


class NameRules:
    """Given names, surname stop words, fictional names and the fuzzy index of listed names."""

    def __init__(self, path: Path, listed: Iterable[Entry]) -> None:
        sections = _parse(path)
        self._given = sections["given"]
        self._not_surnames = sections["not surnames"]
        self._fictional = {tuple(name.split()) for name in sections["fictional"]}
        self._surnames: set[str] = set()
        skip = self._given | self._not_surnames | sections["not possessive"]
        self._names: list[_Name] = []
        self._where: dict[str, list[tuple[int, int]]] = {}
        self._deleted: dict[str, set[str]] = {}
        for entry in listed:
            words = tuple(tokens(prefold(entry.text)))
            if entry.exception or entry.text.endswith("*") or not all(w.isalpha() for w in words):
                continue
            if entry.group == "trademarks" and len(words) == 2:
                self._fictional.add(words)
            surname = words[-1]
            if (
                entry.group == "public_figures"
                and len(words) > 1
                and len(surname) >= 4
                and surname not in skip
            ):
                self._surnames.add(surname)
            name_id = len(self._names)
            self._names.append(_Name(words, entry.group, _budget(sum(map(len, words)))))
            for k, word in enumerate(words):
                self._where.setdefault(word, []).append((name_id, k))
                if len(word) >= _FUZZY_MIN_LETTERS:
                    for key in {word} | _deletions(word):
                        self._deleted.setdefault(key, set()).add(word)
        self._longest = max((len(word) for word in self._where), default=0)

    def find(self, cased_text: str) -> tuple[list[tuple[int, int]], list[tuple[str, int, int]]]:
        """``(people, listed)``: ``(start, end)`` of the named-person rule's people, and
        ``(group, start, end)`` of listed names found misspelled or as a possessive surname
        ("Trump's"); positions index the prompt's plain token sequence. ``cased_text`` is the
        prompt as :func:`~bot.policy.normalise.prefold` leaves it with ``keep_case``."""
        if cased_text == cased_text.lower():
            return [], []  # no capitals, no names to read: the common case, one comparison
        cased = tokens(cased_text)
        caps = [i for i, word in enumerate(cased) if word[:1].isupper()]
        if len(caps) >= _TITLE_CASE_MIN_WORDS and _title_case(cased, len(caps)):
            return [], []
        folded = {i: cased[i].casefold() for i in caps}
        owners = []
        if "'" in cased_text or "’" in cased_text:
            possessive = {m.group(1).casefold() + "s" for m in _POSSESSIVE_RE.finditer(cased_text)}
            owners = [
                ("public_figures", i, i + 1)
                for i, word in folded.items()
                if word in possessive and word[:-1] in self._surnames
            ]
        people = [
            (i, i + 2)
            for i, word in folded.items()
            if word in self._given
            and (surname := folded.get(i + 1)) is not None
            and len(surname) >= 2
            and surname.isalpha()
            and surname not in self._not_surnames
            and (word, surname) not in self._fictional
            and _same_shape(cased[i], cased[i + 1])
        ]
        return people, owners + self._fuzzy(cased, folded)

    def _fuzzy(self, cased: Sequence[str], folded: dict[int, str]) -> list[tuple[str, int, int]]:
        # Capitalised words one edit away from a listed name word; most prompts have none, and
        # then nothing else is looked at.
        near: dict[int, set[str]] = {}
        for i, word in folded.items():
            # Longer than any listed word plus one letter, a word cannot be one edit away; the
            # bound also keeps a word as long as the prompt from costing its length squared.
            if _FUZZY_MIN_LETTERS - 1 <= len(word) <= self._longest + 1 and word.isalpha():
                found = {
                    listed
                    for key in {word} | _deletions(word)
                    for listed in self._deleted.get(key, ())
                    if listed != word and within_one_edit(word, listed)
                }
                if found:
                    near[i] = found
        spans: set[tuple[str, int, int]] = set()
        for i, candidates in near.items():
            for listed in candidates:
                for name_id, k in self._where[listed]:
                    name = self._names[name_id]
                    start, end = i - k, i - k + len(name.words)
                    if start < 0 or end > len(cased):
                        continue
                    if len(name.words) == 1 and (start == 0 or len(listed) < _FUZZY_ONE_WORD_MIN_LETTERS):
                        continue  # a capital at the start of a prompt says nothing
                    edits = 0
                    for pos, want in enumerate(name.words, start):
                        if cased[pos].casefold() != want:
                            edits += 1 if want in near.get(pos, ()) else name.budget + 1
                    if edits <= name.budget:
                        spans.add((name.group, start, end))
        return sorted(spans, key=lambda span: span[1])


def _same_shape(given: str, surname: str) -> bool:
    """ "Robin Smith" and "ROBIN SMITH" are names; "Robin PTRR" is a word before an acronym."""
    return given.isupper() == surname.isupper() or not surname.isupper()


def _title_case(cased: Sequence[str], capitals: int) -> bool:
    words = sum(len(word) >= 3 for word in cased)
    return words >= _TITLE_CASE_MIN_WORDS and capitals > _TITLE_CASE_SHARE * words


def _parse(path: Path) -> dict[str, set[str]]:
    """``names.txt``: one name per line under ``[given]``, ``[not surnames]``, ``[fictional]``."""
    sections: dict[str, set[str]] = {name: set() for name in _SECTIONS}
    section = ""
    for lineno, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip().lower()
            if section not in sections:
                raise ValueError(f"{path}:{lineno}: unknown section [{section}]")
            continue
        if not section:
            raise ValueError(f"{path}:{lineno}: a name before any section")
        words = tokens(prefold(line))
        if not words:
            raise ValueError(f"{path}:{lineno}: {raw.strip()!r} has no letters to match")
        sections[section].add(" ".join(words))
    return sections
