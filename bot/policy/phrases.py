"""Phrase rules: meanings built from words that are harmless one by one.

"cut open" is cooking and "belly" is anatomy; "cut open his belly" is gore. "Peach" is a fruit
and "kart" a vehicle; together they are a Nintendo game. A rule in ``phrases.txt`` names two
lists of terms and a window: a term of one list within that many words of a term of the other
refuses the prompt under the rule's category (``~*~``: anywhere in the prompt). The special term
``<person>`` stands for a real person found by :mod:`bot.policy.names` or the public figures list.

The terms are compiled into the same :class:`~bot.policy.lists.Matcher` as the category lists,
so they cost no extra pass over the prompt; checking the windows is one pass over the matches,
remembering where each rule's lists last matched.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from bot.policy.lists import Entry, expand_braces, term_tokens

__all__ = ["PERSON", "PhraseRules", "parse_phrases"]

# The group name under which real people's spans reach the rules.
PERSON = "person"
_PERSON_TERM = "<person>"


@dataclass(frozen=True)
class _Rule:
    category: str
    window: int | None  # words allowed between the two terms; None: anywhere


def _split_terms(side: str) -> list[str]:
    """Comma-separated terms; commas inside braces belong to the term ("{cut,slit} open")."""
    terms, depth, current = [], 0, []
    for ch in side:
        depth += (ch == "{") - (ch == "}")
        if ch == "," and depth == 0:
            terms.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    terms.append("".join(current).strip())
    return [t for t in terms if t]


def parse_phrases(path: Path, categories: Iterable[str]) -> tuple[list[Entry], PhraseRules]:
    """Read ``phrases.txt``: ``[category]`` sections of ``terms ~N~ terms`` lines and ``!`` exceptions.

    Returns the entries to compile into the matcher and the rules that read their matches. A
    mistake raises with file and line, like the category files.
    """
    known = set(categories)
    entries: list[Entry] = []
    rules: list[_Rule] = []
    sides: dict[str, list[tuple[int, int]]] = {}
    category = ""
    for lineno, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        where = f"{path}:{lineno}"
        if line.startswith("[") and line.endswith("]"):
            category = line[1:-1].strip().lower()
            if category not in known:
                raise ValueError(f"{where}: unknown section [{category}]")
            continue
        if line.startswith("!"):
            entries.extend(Entry(text, "phrase", True) for text in _expand(line[1:], where))
            continue
        if not category:
            raise ValueError(f"{where}: a rule before any [category] section")
        parts = line.split("~")
        if len(parts) != 3 or not parts[1].strip():
            raise ValueError(f"{where}: a rule is 'terms ~N~ terms' (N a number or *)")
        window_text = parts[1].strip()
        if window_text != "*" and not window_text.isdigit():
            raise ValueError(f"{where}: the window must be a number of words or *")
        rule_id = len(rules)
        rules.append(_Rule(category, None if window_text == "*" else int(window_text)))
        for side, text in enumerate((parts[0], parts[2])):
            terms = _split_terms(text)
            if not terms:
                raise ValueError(f"{where}: one side of the rule has no terms")
            for term in terms:
                if term == _PERSON_TERM:
                    sides.setdefault(PERSON, []).append((rule_id, side))
                    continue
                group = f"phrase:{rule_id}:{side}"
                entries.extend(Entry(t, group) for t in _expand(term, where))
                sides.setdefault(group, []).append((rule_id, side))
    return entries, PhraseRules(rules, sides)


def _expand(term: str, where: str) -> list[str]:
    try:
        texts = expand_braces(term.strip())
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None
    for text in texts:
        if not term_tokens(text)[0]:
            raise ValueError(f"{where}: {term!r} has no letters or digits to match")
    return texts


class PhraseRules:
    """The parsed rules; :meth:`categories` reads one sequence's matches in order."""

    def __init__(self, rules: list[_Rule], sides: dict[str, list[tuple[int, int]]]) -> None:
        self._rules = rules
        # Each side's group, keyed to the (rule, side) pairs it serves; rule groups don't overlap.
        self._sides = {group: tuple(pairs) for group, pairs in sides.items()}

    def categories(self, spans: Iterable[tuple[str, int, int]]) -> set[str]:
        """Categories of the rules whose two sides match within their window.

        ``spans`` are ``(group, start, end)`` in order of start. For each rule side, the furthest
        end seen so far is enough: a later match of the other side is within the window of some
        earlier match exactly when it is within the window of the one ending last. A word on
        both sides of a rule ("Mario" names a character and is context for another) must not
        pair with itself, so each side also keeps the furthest end of the matches that started
        before its latest one.
        """
        found: set[str] = set()
        sides = self._sides
        spans = [span for span in spans if span[0] in sides]
        # (rule, side) -> [start of the latest match, its end, furthest end of those before it]
        state: dict[tuple[int, int], list[int]] = {}
        for group, start, end in spans:
            for rule_id, side in sides[group]:
                rule = self._rules[rule_id]
                if rule.category in found:
                    continue  # decided: the rest of a long prompt costs a lookup per match
                other = state.get((rule_id, 1 - side))
                if other is not None:
                    reach = other[1] if other[0] != start else other[2]
                    if reach != _NONE and (rule.window is None or start - reach <= rule.window):
                        found.add(rule.category)
                own = state.get((rule_id, side))
                if own is None:
                    state[(rule_id, side)] = [start, end, _NONE]
                elif own[0] == start:
                    own[1] = max(own[1], end)
                else:
                    state[(rule_id, side)] = [start, end, max(own[2], own[1])]
        return found


_NONE = -(10**9)  # "no match yet": further than any window from every position
