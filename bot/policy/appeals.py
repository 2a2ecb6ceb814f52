"""Allowed phrases: the appeal path for a prompt the policy refused by mistake.

A moderator who agrees that "cockatiel" or "Dick Van Dyke" is harmless on their server allows the
phrase (`/mod allow`); from then on every occurrence of it in a prompt on that server is taken
out before the layers look, so neither a list nor a classifier sees it again. Everything else in
the prompt is still checked: an allowed phrase is not a password that unlocks the whole prompt.

Occurrences are found the way the lists find terms, on folded tokens (look-alike letters,
accents and leetspeak undone), but only as whole runs of words of the prompt: a word that merely
*contains* the phrase's tokens next to other tokens ("foo-bar" for an allowed "foo") is left in,
so a mistake here can only make the policy stricter, never let more through than was allowed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from bot.policy.normalise import prefold, primary, readings, tokens

__all__ = ["phrase_key", "without_phrases"]

_WORD_RE = re.compile(r"\S+")
# What an occurrence is replaced with: no token of its own, so the policy reads nothing there.
_GAP = " . "


def phrase_key(phrase: str) -> str:
    """The folded form a phrase is stored and compared as ("Cockatiel!" -> "cockatiel")."""
    return " ".join(primary(tok) for tok in tokens(prefold(phrase)))


def _matches(prompt_token: str, want: str) -> bool:
    found = readings(prompt_token)
    return want in found or want + "s" in found  # plurals and possessives ("swift's" folds to swifts)


def without_phrases(text: str, phrases: Iterable[str]) -> str:
    """``text`` with every whole-word occurrence of each phrase replaced by a gap."""
    wanted = [key.split() for key in {phrase_key(p) for p in phrases} if key]
    if not wanted or not text:
        return text
    # Most prompts hold no allowed phrase: one fold of the whole text rules that out cheaply,
    # before folding word by word.
    seen = {r for tok in tokens(prefold(text)) for r in readings(tok)}
    wanted = [p for p in wanted if all(w in seen or w + "s" in seen for w in p)]
    if not wanted:
        return text
    words = [(m.start(), m.end(), tokens(prefold(m.group()))) for m in _WORD_RE.finditer(text)]
    drop = [False] * len(words)
    for phrase in wanted:
        for first in range(len(words)):
            run: list[str] = []
            last = first
            while last < len(words) and len(run) < len(phrase):
                run.extend(words[last][2])
                last += 1
            if len(run) == len(phrase) and run and all(map(_matches, run, phrase)):
                for i in range(first, last):
                    drop[i] = True
    if not any(drop):
        return text
    out: list[str] = []
    pos = 0
    for (start, end, _), gone in zip(words, drop, strict=True):
        if gone:
            out.append(text[pos:start] + _GAP)
            pos = end
    out.append(text[pos:])
    return "".join(out)
