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

The term lists live in editable text files (see the header of any file in ``data``) so that
moderators can tune them without touching code. Pure Python and torch-free: the bot process imports
this, and it must answer in well under a millisecond.

Words alone miss meaning built from harmless words, real people no list names and scripts
written without spaces, so the first layer adds rules on top of the lists, each one linear pass:
phrase windows ("cut open" near "belly"), a named-person rule (a known given name before a
capitalised surname), fuzzy and possessive forms of listed names, franchise context for generic
character names ("Peach" only next to "kart"), CJK substrings and censor stars ("s*x").

Modules, each importing only those listed before it:

* :mod:`bot.policy.normalise`: cleaning a prompt for display, and folding it into token readings.
* :mod:`bot.policy.lists`: the data files' syntax and the matcher compiled from them.
* :mod:`bot.policy.cjk`: substring matching of terms in Chinese, Japanese and Korean.
* :mod:`bot.policy.masked`: words written with censor stars.
* :mod:`bot.policy.names`: the named-person rule and fuzzy matching of listed names.
* :mod:`bot.policy.phrases`: rules pairing two lists of terms within a window of words.
* :mod:`bot.policy.rules`: categories, verdicts and :class:`PromptPolicy`.
* :mod:`bot.policy.appeals`: allowed phrases, taken out of a prompt before the layers read it.
* :mod:`bot.policy.classifiers`: the optional second layer (a hosted API, a local model).
* :mod:`bot.policy.layers`: one verdict, the lists first, then a server's classifier.
"""

from bot.policy.normalise import clean, fold
from bot.policy.rules import ALWAYS_ON, CATEGORIES, CATEGORY_LABELS, DEFAULT_DATA_DIR, PromptPolicy, Verdict

__all__ = [
    "ALWAYS_ON",
    "CATEGORIES",
    "CATEGORY_LABELS",
    "DEFAULT_DATA_DIR",
    "PromptPolicy",
    "Verdict",
    "clean",
    "fold",
]
