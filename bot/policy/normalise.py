"""Normalisation for the prompt policy: fold a prompt into plain lowercase word tokens.

Unicode tricks disappear before tokenising: NFKC (fullwidth, math alphanumerics, circled letters),
removal of zero-width, bidi and control characters, NFKD accent stripping and a table of
Cyrillic/Greek/small-capital look-alikes. A token can have several *readings* when it contains
leetspeak, because a digit may stand for several letters ("1" is "i" or "l"). Spaced or dotted
letters ("n u d e", "n.u.d.e") are joined, but only for runs of single-letter tokens, so
"a classic" never becomes "aclassic". See :mod:`bot.policy` for the overall design.
"""

from __future__ import annotations

import functools
import itertools
import re
import unicodedata
from collections.abc import Iterator, Sequence

__all__ = [
    "clean",
    "displayed_variants",
    "fold",
    "fold_case",
    "prefold",
    "primary",
    "readings",
    "strip_disguises",
    "token_sequences",
    "tokens",
]


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

# Look-alikes that NFKC leaves alone. Capitals are listed separately because a capital and its
# lowercase often imitate different Latin letters: Greek "Η" looks like H, but "η" like n.
# Several pairs per line (formatter off) keep the tables short enough to scan.
# fmt: off
_UPPER_LOOKALIKES = {
    # Cyrillic, including "faux Cyrillic" stand-ins (Я for R, И for N)
    "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C", "Т": "T",
    "У": "Y", "Х": "X", "Ѕ": "S", "І": "I", "Ј": "J", "Ԛ": "Q", "Ԝ": "W", "Ӏ": "I", "Ү": "Y", "Һ": "H",
    "Ԁ": "D", "Д": "A", "Я": "R", "И": "N", "П": "N", "Ш": "W", "Щ": "W", "Ц": "U", "Ь": "B", "Ъ": "B",
    "Э": "E", "З": "3", "Ч": "4", "Б": "6", "Ж": "X",
    # Greek
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N", "Ο": "O",
    "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X", "Ϲ": "C", "Ϳ": "J", "Σ": "E", "Λ": "A", "Δ": "A", "Θ": "O",
    # Lisu and Cherokee letters drawn like Latin capitals
    "ꓐ": "B", "ꓑ": "P", "ꓓ": "D", "ꓔ": "T", "ꓖ": "G", "ꓗ": "K", "ꓙ": "J", "ꓚ": "C", "ꓜ": "Z", "ꓝ": "F",
    "ꓟ": "M", "ꓠ": "N", "ꓡ": "L", "ꓢ": "S", "ꓣ": "R", "ꓦ": "V", "ꓧ": "H", "ꓪ": "W", "ꓫ": "X", "ꓬ": "Y",
    "ꓮ": "A", "ꓰ": "E", "ꓲ": "I", "ꓳ": "O", "ꓴ": "U", "Ꭺ": "A", "Ᏼ": "B", "Ꮯ": "C", "Ꭰ": "D", "Ꭼ": "E",
    "Ꮐ": "G", "Ꮋ": "H", "Ꭻ": "J", "Ꮶ": "K", "Ꮮ": "L", "Ꮇ": "M", "Ꮲ": "P", "Ꮪ": "S", "Ꭲ": "T", "Ꮩ": "V",
    "Ꮃ": "W", "Ꮓ": "Z",
    # Latin letters with no decomposition
    "ǀ": "I", "Ø": "O", "Ł": "L", "Đ": "D", "Ħ": "H", "Ŧ": "T", "Ɨ": "I",
}
_LOWER_LOOKALIKES = {
    # Cyrillic
    "а": "a", "в": "b", "е": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c", "т": "t",
    "у": "y", "х": "x", "ѕ": "s", "і": "i", "ј": "j", "ԛ": "q", "ԝ": "w", "ӏ": "l", "ү": "y", "һ": "h",
    "ԁ": "d", "я": "r", "и": "n", "п": "n", "г": "r", "ш": "w", "щ": "w", "ц": "u", "ь": "b", "ъ": "b",
    "з": "3", "ч": "4", "б": "6", "ж": "x", "э": "e", "ѵ": "v", "ѡ": "w", "ҽ": "e",
    # Not a look-alike, but read as its capital Д is, so Russian terms match in either case.
    "д": "a",
    # Greek
    "α": "a", "β": "b", "γ": "y", "δ": "d", "ε": "e", "η": "n", "ι": "i", "κ": "k", "μ": "u", "ν": "v",
    "ο": "o", "ρ": "p", "σ": "o", "ς": "s", "τ": "t", "υ": "u", "χ": "x", "ω": "w", "ϲ": "c", "ϳ": "j",
    # Armenian
    "օ": "o", "ս": "u", "հ": "h", "ո": "n", "ց": "g", "զ": "q",
    # Latin letters with no decomposition, IPA letters and small capitals
    "ı": "i", "ȷ": "j", "ɑ": "a", "ɡ": "g", "ɩ": "i", "ʋ": "v", "ɾ": "r", "ø": "o", "ł": "l", "đ": "d",
    "ħ": "h", "ŧ": "t", "ƀ": "b", "ɨ": "i", "ʉ": "u", "æ": "ae", "œ": "oe", "ð": "d", "ĸ": "k", "ᴀ": "a",
    "ʙ": "b", "ᴄ": "c", "ᴅ": "d", "ᴇ": "e", "ꜰ": "f", "ɢ": "g", "ʜ": "h", "ɪ": "i", "ᴊ": "j", "ᴋ": "k",
    "ʟ": "l", "ᴍ": "m", "ɴ": "n", "ᴏ": "o", "ᴘ": "p", "ʀ": "r", "ꜱ": "s", "ᴛ": "t", "ᴜ": "u", "ᴠ": "v",
    "ᴡ": "w", "ʏ": "y", "ᴢ": "z",
    # A modifier-letter apostrophe counts as a letter to the tokenizer; make it a plain one.
    "ʼ": "'",
    # Braille blank renders as a space.
    "\u2800": " ",
}
# fmt: on


def _lookalike_table() -> dict[int, str]:
    """One translation table for both cases, so the text is walked once, before case folding.

    Capitals take their own entry where they imitate something else than their lowercase; other
    capitals of mapped lowercase letters map like the lowercase (case folding would do the same).
    """
    table = {
        **_LOWER_LOOKALIKES,
        # Negative circled, negative squared and regional-indicator letters (🅝🅤🅓🅔, 🇳🇺🇩🇪).
        **{chr(base + i): chr(ord("a") + i) for base in (0x1F150, 0x1F170, 0x1F1E6) for i in range(26)},
    }
    for lower, latin in _LOWER_LOOKALIKES.items():
        upper = lower.upper()
        # "ı".upper() is "I": ASCII capitals must stay themselves (capital I is special).
        if len(upper) == 1 and not upper.isascii() and upper not in _UPPER_LOOKALIKES:
            table[upper] = latin
    table.update(_UPPER_LOOKALIKES)
    return str.maketrans(table)


_LOOKALIKE_TABLE = _lookalike_table()

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


@functools.cache
def _bmp_marks_re() -> re.Pattern[str]:
    """A character class of every combining mark in the BMP, built on first use.

    A regex strips marks many times faster than testing each character's category, but only while
    the class stays within the BMP (beyond it the regex engine scans ranges one by one). Building
    it lazily keeps importing this module cheap for bots whose users only type ASCII.
    """
    ranges: list[tuple[int, int]] = []
    for cp in range(0x300, 0x10000):
        if unicodedata.category(chr(cp)) in ("Mn", "Me"):
            if ranges and ranges[-1][1] == cp - 1:
                ranges[-1] = (ranges[-1][0], cp)
            else:
                ranges.append((cp, cp))
    body = "".join(chr(lo) if lo == hi else f"{chr(lo)}-{chr(hi)}" for lo, hi in ranges)
    return re.compile(f"[{body}]")


_ASTRAL_RE = re.compile("[\U00010000-\U0010ffff]")


def _drop_mark(match: re.Match[str]) -> str:
    return "" if unicodedata.category(match.group()) in ("Mn", "Me") else match.group()


def _strip_marks(text: str) -> str:
    """Remove combining marks: accents and "Zalgo" decorations alike."""
    text = _bmp_marks_re().sub("", text)
    if _ASTRAL_RE.search(text):  # emoji, math letters' leftovers, rare scripts: few characters
        text = _ASTRAL_RE.sub(_drop_mark, text)
    return text


def strip_disguises(text: str) -> str:
    """NFKC, invisible characters and combining marks removed, but letters kept in their script.

    For scripts without spaces (CJK), where :func:`prefold`'s NFKD would split Hangul syllables
    into jamo and kana from their voicing marks; what is left is matched by substring.
    """
    text = unicodedata.normalize("NFKC", text)
    text = _HIDDEN_FOR_MATCHING_RE.sub("", text)
    return _strip_marks(text).casefold()


def prefold(text: str, *, keep_case: bool = False) -> str:
    """Undo the Unicode disguises, keeping leetspeak and separators for the tokenizer to read.

    ``keep_case`` skips the case folding, for the rules that read capitals ("Emma Stone" is a
    person, "emma stone" may be a colour of stone); its tokens line up with the folded ones.
    """
    if text.isascii():
        text = _ASCII_CONTROL_RE.sub("", text)
    else:
        text = unicodedata.normalize("NFKC", text)
        text = _HIDDEN_FOR_MATCHING_RE.sub("", text)
        text = unicodedata.normalize("NFKD", text)
        text = _strip_marks(text)
        text = text.translate(_LOOKALIKE_TABLE)
    return text if keep_case else fold_case(text)


def tokens(folded: str) -> list[str]:
    """Split prefolded text into word tokens; emoji are tokens too, so guilds can block them."""
    if "_" in folded:
        folded = folded.replace("_", " ")  # "n_u_d_e" is spacing, not one word
    if "'" in folded or "’" in folded or "‘" in folded or "`" in folded:
        folded = _APOSTROPHE_RE.sub("", folded)  # "don't" -> "dont", "swift's" -> "swifts"
    return _TOKEN_RE.findall(folded)


_NUMBER_WITH_UNIT_RE = re.compile(r"\d+[a-z]{1,3}")
_LEADING_NUMBER_RE = re.compile(r"\d{2,}")


def primary(token: str) -> str:
    """The single most likely reading of a token, used for display by :func:`fold`.

    Numbers with a short unit ("12yo", "4k", "35mm") are far more common in prompts than leetspeak
    that starts with a digit, so they keep their digits here; other readings still cover both.
    """
    if token.isdigit() or not _LEET_RE.search(token) or _NUMBER_WITH_UNIT_RE.fullmatch(token):
        return token
    number = _LEADING_NUMBER_RE.match(token)
    head = number.group() if number else ""
    tail = token[len(head) :]
    tail = tail.rstrip("!") or tail  # "kill!" is punctuation, "h!tler" is leetspeak
    return head + "".join(_LEET[ch][0] if ch in _LEET else ch for ch in tail)


def fold(text: str) -> str:
    """Matching form of ``text``: the most likely plain reading, one space between tokens.

    The matcher also considers other readings (a "1" may be an "l", spaced letters may form a
    word); this function exists to show people and tests what the filter sees.
    """
    return " ".join(primary(tok) for tok in tokens(prefold(text)))


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
def readings(token: str) -> frozenset[str]:
    """Every plausible plain spelling of one token.

    Numbers stay as written ("1990" is a year, not "iqqo"), and so does a leading number of two or
    more digits, because that is a quantity: read as leetspeak, "600k" would be a slur. Otherwise
    the token itself, its leetspeak expansions, and the same with symbols dropped, which undoes
    separators inside a token ("n|u|d|e") and trailing punctuation ("nude!").
    """
    if token.isdigit() or not _LEET_RE.search(token):
        return frozenset((token,))  # the common case: a plain word
    number = _LEADING_NUMBER_RE.match(token)
    head, tail = (number.group(), token[number.end() :]) if number else ("", token)
    out = {token.replace(_CAPITAL_I, "i"), head + primary(tail)}
    if _LEET_RE.search(tail):
        out.update(head + reading for reading in _expand(tail))
        letters = "".join(ch for ch in tail if ch.isalnum() or ch == _CAPITAL_I)
        if letters and letters != tail:
            out.update(head + reading for reading in _expand(letters))
    out.discard("")
    return frozenset(out)


def _is_single(token: str) -> bool:
    return len(token) == 1 and (token.isalnum() or token in _LEET)


def displayed_variants(text: str) -> list[str]:
    """The prompt as typed and, if it uses a right-to-left override, as it is displayed."""
    if "\u202e" in text:
        return [text, _RLO_RE.sub(lambda m: m.group(1)[::-1], text)]
    return [text]


def fold_case(cased: str) -> str:
    """``prefold(text)`` from ``prefold(text, keep_case=True)``, without undoing the disguises twice."""
    return cased.replace("I", _CAPITAL_I).casefold()


def token_sequences(text: str, *, cased: Sequence[str] | None = None) -> list[list[frozenset[str]]]:
    """The prompt as one or more sequences of token readings.

    Besides the plain sequence there may be one where runs of single letters are joined ("n u d e"
    -> "nude"), and, if the prompt uses a right-to-left override, the text as it is displayed.
    ``cased``, when given, is ``prefold(variant, keep_case=True)`` of each of
    :func:`displayed_variants`, already computed by a caller that also reads capitals.
    """
    sequences = []
    if cased is None:
        cased = [prefold(variant, keep_case=True) for variant in displayed_variants(text)]
    for variant in cased:
        toks = tokens(fold_case(variant))
        tok_readings = [readings(tok) for tok in toks]
        sequences.append(tok_readings)
        joined = _join_spaced_letters(toks, tok_readings)
        if joined is not None:
            sequences.append(joined)
    return sequences


_SPACED_RUN_RE = re.compile(f"1{{{_MIN_SPACED_RUN},}}")


def _join_spaced_letters(
    toks: Sequence[str], tok_readings: Sequence[frozenset[str]]
) -> list[frozenset[str]] | None:
    marks = "".join(["1" if len(tok) == 1 and _is_single(tok) else "0" for tok in toks])
    out: list[frozenset[str]] = []
    pos = 0
    for run in _SPACED_RUN_RE.finditer(marks):
        out.extend(tok_readings[pos : run.start()])
        word = "".join(toks[run.start() : run.end()])
        joined = set(readings(word))
        # "a n u d e": a leading article is likely a word of its own.
        if word[0] in ("a", "i", _CAPITAL_I) and len(word) > _MIN_SPACED_RUN:
            joined |= readings(word[1:])
        out.append(frozenset(joined))
        pos = run.end()
    if not pos:
        return None
    out.extend(tok_readings[pos:])
    return out
