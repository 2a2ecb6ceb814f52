"""The policy itself: categories, what a user is told, and `PromptPolicy`, which checks a prompt.

`PromptPolicy` loads one term list per category from ``data/`` (or a directory given to it), the
phrase rules (``phrases.txt``) and the name lists (``names.txt``), and compiles them once. Each
check then folds the prompt (:mod:`bot.policy.normalise`) and runs the cheap layers over it, each
one pass: the word lists and phrase terms (:mod:`bot.policy.lists`), CJK substrings
(:mod:`bot.policy.cjk`), starred words (:mod:`bot.policy.masked`), people
(:mod:`bot.policy.names`), then the phrase windows (:mod:`bot.policy.phrases`) over what matched.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from bot.policy.cjk import CjkMatcher, custom_cjk_matcher, has_cjk
from bot.policy.lists import Entry, Matcher, custom_matcher, parse_data_file
from bot.policy.masked import MaskedWords
from bot.policy.names import NameRules
from bot.policy.normalise import displayed_variants, fold_case, prefold, token_sequences
from bot.policy.phrases import PERSON, parse_phrases

__all__ = [
    "ALWAYS_ON",
    "CATEGORIES",
    "CATEGORY_LABELS",
    "DEFAULT_DATA_DIR",
    "PromptPolicy",
    "Verdict",
    "blocked",
]

CATEGORIES: tuple[str, ...] = (
    "sexual",
    "minors",
    "violence",
    "hate",
    "self_harm",
    "harassment",
    "public_figures",
    "trademarks",
)
ALWAYS_ON: frozenset[str] = frozenset({"minors"})
CATEGORY_LABELS: dict[str, str] = {
    "sexual": "sexual content",
    "minors": "sexual content involving minors",
    "violence": "graphic violence",
    "hate": "hateful content",
    "self_harm": "self-harm",
    "harassment": "harassment or humiliation of a real person",
    "public_figures": "real public figures",
    "trademarks": "trademarked characters",
    "custom": "a word or phrase this server has blocked",
}

DEFAULT_DATA_DIR = Path(__file__).with_name("data")

# Data files beside the category lists, read by the rules rather than matched as terms.
RULE_FILES: tuple[str, ...] = ("phrases.txt", "names.txt")

# When a prompt trips several categories, the user is told about the most serious one. Hate and
# self-harm come before violence because their prompts are often violent too ("gas the ...",
# "slit her wrists"), and the member should be told the reason that names what they asked for.
_SEVERITY: tuple[str, ...] = (
    "minors",
    "sexual",
    "hate",
    "self_harm",
    "violence",
    "harassment",
    "public_figures",
    "trademarks",
)
_NAMED = ("public_figures", "trademarks")


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
        for name in (*(f"{c}.txt" for c in CATEGORIES), *RULE_FILES):
            if not (directory / name).is_file():
                raise FileNotFoundError(f"prompt policy list missing: {directory / name}")
        for category in CATEGORIES:
            entries.extend(parse_data_file(directory / f"{category}.txt", category))
        phrase_entries, self._phrases = parse_phrases(directory / "phrases.txt", CATEGORIES)
        cjk = [e for e in entries if has_cjk(e.text)]
        self._matcher = Matcher(e for e in [*entries, *phrase_entries] if not has_cjk(e.text))
        self._cjk = CjkMatcher(cjk)
        self._masked = MaskedWords(e for e in entries if e.group not in _NAMED)
        self._names = NameRules(directory / "names.txt", (e for e in entries if e.group in _NAMED))

    def _groups(self, prompt: str) -> tuple[set[str], list[list[frozenset[str]]]]:
        """Every group any layer matched, and the token sequences (for the custom words)."""
        variants = displayed_variants(prompt)
        cased = [prefold(variant, keep_case=True) for variant in variants]
        sequences = token_sequences(prompt, cased=cased)
        groups: set[str] = set()
        for index, sequence in enumerate(sequences):
            spans = self._matcher.spans(sequence)
            groups.update(group for group, _, _ in spans)
            if index == 0:  # the prompt as typed, word for word: what the name rules read
                spans = self._with_people(cased[0], spans, groups)
            groups |= self._phrases.categories(spans)
        if len(variants) > 1 or has_cjk(prompt):
            groups |= self._cjk.groups(variants)
        if "*" in prompt:
            groups |= self._masked.groups(fold_case(text) for text in cased)
        return groups, sequences

    def _with_people(
        self, cased_text: str, spans: list[tuple[str, int, int]], groups: set[str]
    ) -> list[tuple[str, int, int]]:
        """Add the people found in ``cased_text`` to ``groups`` and, as PERSON spans, to ``spans``."""
        people, fuzzy = self._names.find(cased_text)
        # Words inside a character's name ("Luke Skywalker"): a set, so that a prompt of many
        # people and many characters stays linear.
        in_character = {i for g, s, e in [*spans, *fuzzy] if g == "trademarks" for i in range(s, e)}
        found = [(PERSON, s, e) for s, e in people if in_character.isdisjoint(range(s, e))]
        if found:
            groups.add("public_figures")
        groups.update(group for group, _, _ in fuzzy)
        found += [(PERSON, s, e) for g, s, e in [*spans, *fuzzy] if g == "public_figures"]
        if not found:
            return spans
        return sorted([*spans, *found], key=lambda span: span[1])

    def check(
        self, prompt: str, *, disabled: Iterable[str] = (), custom_words: Iterable[str] = ()
    ) -> Verdict:
        """Allow or block ``prompt`` for a guild.

        ``disabled`` names categories the guild switched off; "minors" cannot be, and unknown names
        are ignored so that a stale guild setting never breaks checking. ``custom_words`` are
        folded and matched like data-file terms (CJK ones by substring), including a trailing
        ``*`` and a leading ``!``; braces and sections are data-file only. Custom words are
        checked last, so a prompt that also trips a category is reported under that category.
        """
        if isinstance(disabled, str):
            disabled = (disabled,)
        if isinstance(custom_words, str):
            custom_words = (custom_words,)
        off = set(disabled) - ALWAYS_ON
        groups, sequences = self._groups(prompt)
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
        if words and has_cjk(prompt) and custom_cjk_matcher(words).groups(displayed_variants(prompt)):
            return _blocked("custom")
        return _ALLOWED


def blocked(category: str) -> Verdict:
    """The refusal for ``category``, worded as the lists word it: the classifier layer's too."""
    return _blocked(category)
