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

import functools
import itertools
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

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

# Sections of minors.txt. Minor-indicating words are harmless alone ("kids playing football"), so
# they only count next to a sexual word; explicit terms count on their own.
_MINORS_SECTIONS = {"": "minors", "explicit": "minors", "minor": "minors:minor", "sexual": "minors:sexual"}

# ---------------------------------------------------------------------------------------------
# Character tables
# ---------------------------------------------------------------------------------------------

# Characters that render as nothing. Listed by hand (rather than scanned from unicodedata at
# import) to keep import instant; the tests check the list against the running Unicode database.
_HIDDEN_CLASS = (
    "\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f"  # C0/C1 controls, except the whitespace ones
    "\xad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f"
    "\u0600-\u0605\u06dd\u070f\u0890\u0891\u08e2"
    "\u200b-\u200c\u200e\u200f\u202a-\u202e\u2060-\u206f\u3164"
    "\ufe00-\ufe0d\ufeff\uffa0\ufff9-\ufffb"
    "\ud800-\udfff"  # lone surrogates cannot even be encoded
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0000-\U000e0fff"  # tags and variation selectors supplement
)
# Zero-width joiner and emoji/text presentation selectors hold emoji sequences together
# ("🏳️‍🌈"), so the display form keeps them between symbols; inside words they are evasion.
_JOINERS = "\u200d\ufe0e\ufe0f"
_HIDDEN_RE = re.compile(f"[{_HIDDEN_CLASS}]")
_JOINER_RE = re.compile(f"[{_JOINERS}]")
_HIDDEN_FOR_MATCHING_RE = re.compile(
    f"[{_HIDDEN_CLASS}{_JOINERS}\ue000-\uf8ff\U000f0000-\U0010ffff\U0001f3fb-\U0001f3ff]"
)
_ASCII_CONTROL_RE = re.compile("[\x00-\x08\x0e-\x1b\x7f]")

# Internal stand-in for a capital I, which in most chat fonts is indistinguishable from a lowercase
# l ("kiII"). It reads as either letter. A private-use code point cannot collide with real input
# because private-use characters are stripped before it is introduced.
_CAPITAL_I = "\ue000"

# Look-alikes that NFKC leaves alone. Capitals are mapped before case folding because a capital and
# its lowercase often imitate different Latin letters: Greek "Η" looks like H, but "η" like n.
_UPPER_LOOKALIKES = {
    # Cyrillic, including "faux Cyrillic" stand-ins (Я for R, И for N)
    "А": "A",
    "В": "B",
    "Е": "E",
    "К": "K",
    "М": "M",
    "Н": "H",
    "О": "O",
    "Р": "P",
    "С": "C",
    "Т": "T",
    "У": "Y",
    "Х": "X",
    "Ѕ": "S",
    "І": "I",
    "Ј": "J",
    "Ԛ": "Q",
    "Ԝ": "W",
    "Ӏ": "I",
    "Ү": "Y",
    "Һ": "H",
    "Ԁ": "D",
    "Д": "A",
    "Я": "R",
    "И": "N",
    "П": "N",
    "Ш": "W",
    "Щ": "W",
    "Ц": "U",
    "Ь": "B",
    "Ъ": "B",
    "Э": "E",
    "З": "3",
    "Ч": "4",
    "Б": "6",
    "Ж": "X",
    # Greek
    "Α": "A",
    "Β": "B",
    "Ε": "E",
    "Ζ": "Z",
    "Η": "H",
    "Ι": "I",
    "Κ": "K",
    "Μ": "M",
    "Ν": "N",
    "Ο": "O",
    "Ρ": "P",
    "Τ": "T",
    "Υ": "Y",
    "Χ": "X",
    "Ϲ": "C",
    "Ϳ": "J",
    "Σ": "E",
    "Λ": "A",
    "Δ": "A",
    "Θ": "O",
    # Lisu and Cherokee letters drawn like Latin capitals
    "ꓐ": "B",
    "ꓑ": "P",
    "ꓓ": "D",
    "ꓔ": "T",
    "ꓖ": "G",
    "ꓗ": "K",
    "ꓙ": "J",
    "ꓚ": "C",
    "ꓜ": "Z",
    "ꓝ": "F",
    "ꓟ": "M",
    "ꓠ": "N",
    "ꓡ": "L",
    "ꓢ": "S",
    "ꓣ": "R",
    "ꓦ": "V",
    "ꓧ": "H",
    "ꓪ": "W",
    "ꓫ": "X",
    "ꓬ": "Y",
    "ꓮ": "A",
    "ꓰ": "E",
    "ꓲ": "I",
    "ꓳ": "O",
    "ꓴ": "U",
    "Ꭺ": "A",
    "Ᏼ": "B",
    "Ꮯ": "C",
    "Ꭰ": "D",
    "Ꭼ": "E",
    "Ꮐ": "G",
    "Ꮋ": "H",
    "Ꭻ": "J",
    "Ꮶ": "K",
    "Ꮮ": "L",
    "Ꮇ": "M",
    "Ꮲ": "P",
    "Ꮪ": "S",
    "Ꭲ": "T",
    "Ꮩ": "V",
    "Ꮃ": "W",
    "Ꮓ": "Z",
    # Latin letters with no decomposition
    "ǀ": "I",
    "Ø": "O",
    "Ł": "L",
    "Đ": "D",
    "Ħ": "H",
    "Ŧ": "T",
    "Ɨ": "I",
}
_LOWER_LOOKALIKES = {
    # Cyrillic
    "а": "a",
    "в": "b",
    "е": "e",
    "к": "k",
    "м": "m",
    "н": "h",
    "о": "o",
    "р": "p",
    "с": "c",
    "т": "t",
    "у": "y",
    "х": "x",
    "ѕ": "s",
    "і": "i",
    "ј": "j",
    "ԛ": "q",
    "ԝ": "w",
    "ӏ": "l",
    "ү": "y",
    "һ": "h",
    "ԁ": "d",
    "я": "r",
    "и": "n",
    "п": "n",
    "г": "r",
    "ш": "w",
    "щ": "w",
    "ц": "u",
    "ь": "b",
    "ъ": "b",
    "з": "3",
    "ч": "4",
    "б": "6",
    "ж": "x",
    "э": "e",
    "ѵ": "v",
    "ѡ": "w",
    "ҽ": "e",
    # Greek
    "α": "a",
    "β": "b",
    "γ": "y",
    "δ": "d",
    "ε": "e",
    "η": "n",
    "ι": "i",
    "κ": "k",
    "μ": "u",
    "ν": "v",
    "ο": "o",
    "ρ": "p",
    "σ": "o",
    "ς": "s",
    "τ": "t",
    "υ": "u",
    "χ": "x",
    "ω": "w",
    "ϲ": "c",
    "ϳ": "j",
    # Armenian
    "օ": "o",
    "ս": "u",
    "հ": "h",
    "ո": "n",
    "ց": "g",
    "զ": "q",
    # Latin letters with no decomposition, IPA letters and small capitals
    "ı": "i",
    "ȷ": "j",
    "ɑ": "a",
    "ɡ": "g",
    "ɩ": "i",
    "ʋ": "v",
    "ɾ": "r",
    "ø": "o",
    "ł": "l",
    "đ": "d",
    "ħ": "h",
    "ŧ": "t",
    "ƀ": "b",
    "ɨ": "i",
    "ʉ": "u",
    "æ": "ae",
    "œ": "oe",
    "ð": "d",
    "ĸ": "k",
    "ᴀ": "a",
    "ʙ": "b",
    "ᴄ": "c",
    "ᴅ": "d",
    "ᴇ": "e",
    "ꜰ": "f",
    "ɢ": "g",
    "ʜ": "h",
    "ɪ": "i",
    "ᴊ": "j",
    "ᴋ": "k",
    "ʟ": "l",
    "ᴍ": "m",
    "ɴ": "n",
    "ᴏ": "o",
    "ᴘ": "p",
    "ʀ": "r",
    "ꜱ": "s",
    "ᴛ": "t",
    "ᴜ": "u",
    "ᴠ": "v",
    "ᴡ": "w",
    "ʏ": "y",
    "ᴢ": "z",
    # A modifier-letter apostrophe counts as a letter to the tokenizer; make it a plain one.
    "ʼ": "'",
    # Braille blank renders as a space.
    "\u2800": " ",
}
_UPPER_TABLE = str.maketrans(_UPPER_LOOKALIKES)
_LOWER_TABLE = str.maketrans(
    {
        **_LOWER_LOOKALIKES,
        # Negative circled, negative squared and regional-indicator letters (🅝🅤🅓🅔, 🇳🇺🇩🇪).
        **{chr(base + i): chr(ord("a") + i) for base in (0x1F150, 0x1F170, 0x1F1E6) for i in range(26)},
    }
)

# Leetspeak: what each symbol may stand for, most likely reading first.
_LEET: dict[str, str] = {
    "0": "o",
    "1": "il",
    "3": "e",
    "4": "a",
    "5": "s",
    "6": "gb",
    "7": "t",
    "8": "b",
    "9": "g",
    "@": "a",
    "$": "s",
    "!": "i",
    "|": "li",
    "+": "t",
    "€": "e",
    "¢": "c",
    "§": "s",
    "¡": "i",
    _CAPITAL_I: "il",
}
_LEET_SYMBOLS = "".join(ch for ch in _LEET if not ch.isalnum())
# Beyond this many ambiguous characters in one token, only the all-first and all-second readings
# are tried; the full product would grow exponentially on junk like "1|1|1|1|1|1|1".
_MAX_AMBIGUOUS = 6

_APOSTROPHE_RE = re.compile(f"(?<=[\\w{_CAPITAL_I}])['’‘`](?=[\\w{_CAPITAL_I}])")
_EMOJI_CLASS = "\u2600-\u27bf\u2b00-\u2bff\U0001f000-\U0001faff"
# Underscores are replaced by spaces first, so \w here means letters and digits.
_TOKEN_RE = re.compile(f"[\\w{re.escape(_LEET_SYMBOLS)}]+|[{_EMOJI_CLASS}]")
_LEET_RE = re.compile(f"[{re.escape(''.join(_LEET))}]")
_DOUBLED_RE = re.compile(r"(.)\1")
# Right-to-left override displays the following Latin text mirrored: "\u202eedun" shows "nude".
_RLO_RE = re.compile("\u202e([^\u202c\n]*)")

# A run of at least this many single-character tokens is read as one spaced-out word.
_MIN_SPACED_RUN = 3


# ---------------------------------------------------------------------------------------------
# Normalisation
# ---------------------------------------------------------------------------------------------


def clean(text: str) -> str:
    """Display-safe form of a prompt: NFKC, zero-width/bidi/control chars removed, whitespace collapsed.

    This is what gets stored and rendered, so it must not be able to hide text from moderators
    (invisible characters, bidi overrides) yet must keep the prompt readable in any language:
    accents, scripts and emoji sequences survive.
    """
    text = unicodedata.normalize("NFKC", text)
    text = _HIDDEN_RE.sub("", text)
    if "\u200d" in text or "\ufe0e" in text or "\ufe0f" in text:
        text = _JOINER_RE.sub(_keep_emoji_joiner, text)
    if "\u2800" in text:
        text = text.replace("\u2800", " ")
    return " ".join(text.split())


def _keep_emoji_joiner(match: re.Match[str]) -> str:
    """Keep a joiner only where it glues symbols (emoji), never next to a letter or space."""
    text, i = match.string, match.start()

    def is_symbol(ch: str) -> bool:
        return bool(ch) and not ch.isalnum() and not ch.isspace() and ch != "_"

    before = text[i - 1] if i > 0 else ""
    after = text[i + 1] if i + 1 < len(text) else ""
    if match.group() == "\u200d":
        return match.group() if is_symbol(before) and is_symbol(after) else ""
    return match.group() if is_symbol(before) else ""


def _prefold(text: str) -> str:
    """Undo the Unicode disguises, keeping leetspeak and separators for the tokenizer to read."""
    if text.isascii():
        text = _ASCII_CONTROL_RE.sub("", text)
    else:
        text = unicodedata.normalize("NFKC", text)
        text = _HIDDEN_FOR_MATCHING_RE.sub("", text)
        text = unicodedata.normalize("NFKD", text)
        # Stripping every combining mark removes accents and "Zalgo" decorations alike.
        text = "".join(ch for ch in text if unicodedata.category(ch) not in ("Mn", "Me"))
        text = text.translate(_UPPER_TABLE)
    text = text.replace("I", _CAPITAL_I).casefold()
    if not text.isascii():
        text = text.translate(_LOWER_TABLE)
    return text


def _tokens(folded: str) -> list[str]:
    """Split prefolded text into word tokens; emoji are tokens too, so guilds can block them."""
    if "_" in folded:
        folded = folded.replace("_", " ")  # "n_u_d_e" is spacing, not one word
    if "'" in folded or "’" in folded or "‘" in folded or "`" in folded:
        folded = _APOSTROPHE_RE.sub("", folded)  # "don't" -> "dont", "swift's" -> "swifts"
    return _TOKEN_RE.findall(folded)


_NUMBER_WITH_UNIT_RE = re.compile(r"\d+[a-z]{1,3}")
# Several digits and a short unit ("600k", "1080p") are a quantity, never leetspeak: read as
# leetspeak, "600k" would be a slur. A single leading digit ("5ex") is still read both ways.
_QUANTITY_RE = re.compile(r"\d{2,}[a-z]{1,3}")


def _primary(token: str) -> str:
    """The single most likely reading of a token, used for display by :func:`fold`.

    Numbers with a short unit ("12yo", "4k", "35mm") are far more common in prompts than leetspeak
    that starts with a digit, so they keep their digits here; other readings still cover both.
    """
    if token.isdigit() or _NUMBER_WITH_UNIT_RE.fullmatch(token):
        return token
    stripped = token.rstrip("!") or token  # "kill!" is punctuation, "h!tler" is leetspeak
    return "".join(_LEET[ch][0] if ch in _LEET else ch for ch in stripped)


def fold(text: str) -> str:
    """Matching form of ``text``: the most likely plain reading, one space between tokens.

    The matcher also considers other readings (a "1" may be an "l", spaced letters may form a
    word); this function exists to show people and tests what the filter sees.
    """
    return " ".join(_primary(tok) for tok in _tokens(_prefold(text)))


def _expand(token: str) -> Iterator[str]:
    options = [_LEET.get(ch, ch) for ch in token]
    ambiguous = sum(len(opt) > 1 for opt in options)
    if ambiguous <= _MAX_AMBIGUOUS:
        for combo in itertools.product(*options):
            yield "".join(combo)
    else:
        yield "".join(opt[0] for opt in options)
        yield "".join(opt[-1] for opt in options)


@functools.lru_cache(maxsize=32768)
def _readings(token: str) -> frozenset[str]:
    """Every plausible plain spelling of one token.

    Numbers and quantities stay as written ("1990" is a year, not "iqqo"). Otherwise the token itself, its
    leetspeak expansions, and the same with symbols dropped, which undoes separators inside a
    token ("n|u|d|e") and trailing punctuation ("nude!").
    """
    if token.isdigit() or _QUANTITY_RE.fullmatch(token):
        return frozenset((token,))
    out = {token.replace(_CAPITAL_I, "i"), _primary(token)}
    if _LEET_RE.search(token):
        out.update(_expand(token))
        letters = "".join(ch for ch in token if ch.isalnum() or ch == _CAPITAL_I)
        if letters and letters != token:
            out.update(_expand(letters))
    out.discard("")
    return frozenset(out)


def _is_single(token: str) -> bool:
    return len(token) == 1 and (token.isalnum() or token in _LEET)


def _token_sequences(text: str) -> list[list[frozenset[str]]]:
    """The prompt as one or more sequences of token readings.

    Besides the plain sequence there may be one where runs of single letters are joined ("n u d e"
    -> "nude"), and, if the prompt uses a right-to-left override, the text as it is displayed.
    """
    texts = [text]
    if "\u202e" in text:
        texts.append(_RLO_RE.sub(lambda m: m.group(1)[::-1], text))
    sequences = []
    for variant in texts:
        tokens = _tokens(_prefold(variant))
        readings = [_readings(tok) for tok in tokens]
        sequences.append(readings)
        joined = _join_spaced_letters(tokens, readings)
        if joined is not None:
            sequences.append(joined)
    return sequences


_SPACED_RUN_RE = re.compile(f"1{{{_MIN_SPACED_RUN},}}")


def _join_spaced_letters(
    tokens: Sequence[str], readings: Sequence[frozenset[str]]
) -> list[frozenset[str]] | None:
    marks = "".join(["1" if len(tok) == 1 and _is_single(tok) else "0" for tok in tokens])
    out: list[frozenset[str]] = []
    pos = 0
    for run in _SPACED_RUN_RE.finditer(marks):
        out.extend(readings[pos : run.start()])
        word = "".join(tokens[run.start() : run.end()])
        joined = set(_readings(word))
        # "a n u d e": a leading article is likely a word of its own.
        if word[0] in ("a", "i", _CAPITAL_I) and len(word) > _MIN_SPACED_RUN:
            joined |= _readings(word[1:])
        out.append(frozenset(joined))
        pos = run.end()
    if not pos:
        return None
    out.extend(readings[pos:])
    return out


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


def _expand_braces(line: str) -> list[str]:
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
        out.extend(_expand_braces(line[: match.start()] + option + line[match.end() :]))
        if len(out) > _MAX_EXPANSION:
            raise ValueError("braces expand to too many terms")
    return out


@dataclass(frozen=True)
class _Entry:
    """One term as written: ``group`` says what a match means, ``source`` where it came from."""

    text: str
    group: str
    exception: bool = False
    source: str = ""


@dataclass(frozen=True)
class _Term:
    specs: tuple[int, ...]
    group: str
    file: str
    exception: bool


def _parse_data_file(path: Path, category: str) -> list[_Entry]:
    """Read one category file; a mistake raises with file and line, so it cannot pass unnoticed."""
    entries: list[_Entry] = []
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
            lines = _expand_braces(line[1:] if exception else line)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
        for text in lines:
            if not _term_tokens(text)[0]:
                raise ValueError(f"{where}: {raw.strip()!r} has no letters or digits to match")
            entries.append(_Entry(text, group, exception, where))
    return entries


def _term_tokens(text: str) -> tuple[list[str], bool]:
    text = text.strip()
    prefix = text.endswith("*")
    return _tokens(_prefold(text.rstrip("*"))), prefix


_Index = dict[str, list[tuple[int, "tuple[int, ...] | None"]]]


class _Matcher:
    """Compiled term lists: looks up each token reading once, then checks phrases position by position."""

    def __init__(self, entries: Iterable[_Entry]) -> None:
        self._spec_ids: dict[tuple[frozenset[str], bool], int] = {}
        self._exact: _Index = {}
        self._prefix: _Index = {}
        self._by_first: dict[int, list[_Term]] = {}
        self._cache: dict[frozenset[str], frozenset[int]] = {}
        for entry in entries:
            self._add(entry)
        # Prefix stems are looked up by every length they could have; the set of their first few
        # letters rejects almost every word with a single lookup first.
        lengths = [len(key) for key in self._prefix] or [1]
        self._head = min(lengths)
        self._prefix_lengths = range(self._head, max(lengths) + 1)
        self._prefix_heads = {key[: self._head] for key in self._prefix}

    def __bool__(self) -> bool:
        return bool(self._by_first)

    def _spec(self, token: str, *, last: bool, prefix: bool) -> int:
        spellings = set(_readings(token))
        prefix = prefix and last and len(_primary(token)) >= 3
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

    def _add(self, entry: _Entry) -> None:
        tokens, prefix = _term_tokens(entry.text)
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
            self._by_first.setdefault(specs[0], []).append(term)

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

    def groups(self, sequences: Iterable[Sequence[frozenset[str]]]) -> set[str]:
        """Groups with at least one match not covered by an exception from the same file."""
        active: set[str] = set()
        cached = self._cache.get
        for sequence in sequences:
            slots = [
                ids if ids is not None else self._matching_specs(readings)
                for ids, readings in zip(map(cached, sequence), sequence, strict=True)
            ]
            if not any(slots):
                continue
            hits: list[tuple[_Term, int, int]] = []
            for start, spec_ids in enumerate(slots):
                for spec_id in spec_ids:
                    for term in self._by_first.get(spec_id, ()):
                        end = start + len(term.specs)
                        if end <= len(slots) and all(
                            s in slots[start + k] for k, s in enumerate(term.specs[1:], 1)
                        ):
                            hits.append((term, start, end))
            if not hits:
                continue
            exceptions = [(t.file, s, e) for t, s, e in hits if t.exception]
            for term, start, end in hits:
                if term.exception or term.group in active:
                    continue
                if not any(f == term.file and s <= start and end <= e for f, s, e in exceptions):
                    active.add(term.group)
        return active


@functools.lru_cache(maxsize=256)
def _custom_matcher(words: frozenset[str]) -> _Matcher:
    """Guilds send the same custom list with every prompt; compile it once per distinct list."""
    entries = []
    for word in words:
        exception = word.startswith("!")
        entries.append(_Entry(word[1:] if exception else word, "custom", exception))
    return _Matcher(entries)


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
        are ignored so that a stale guild setting never breaks checking. ``custom_words`` use the
        same syntax as a data-file line and are matched the same way.
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
