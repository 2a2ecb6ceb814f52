"""Prompt text with inline options: `a corgi surfing --seed 3 --ar 16:9 --neg "blurry"`.

Used wherever people type free text (the console, @mentions, DMs). Phones turn `--` into an
em or en dash, so those count as `--` too. Errors are written for the person who typed them.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.i18n import texts
from engine.request import InvalidRequest

# The longest message Discord lets anyone send (Nitro); far above the longest prompt plus its
# negative prompt and options. Longer text is refused before any pattern or lexer sees it.
MAX_TEXT = 4000

# Every option's range ends far below 10**18: a longer number is out of range whatever its digits.
_MAX_DIGITS = 18


def parse_number(raw: str, *, whole: bool) -> int | float:
    """A number as people type it; ValueError when it is none.

    Decimal digits of any script count, as int() reads them (`٣` and `３` are 3); superscripts
    and other digit-like signs (`²`) do not. A number too long to matter becomes infinity, so
    the range check that follows refuses it with the option's range rather than int() failing
    on more than 4300 digits (or taking quadratic time below that). A whole number may be
    written `1e3` or `8.0`, but `2.5` is not one.
    """
    text = raw.strip()
    sign = -1 if text[:1] == "-" else 1
    digits = text[1:] if text[:1] in ("-", "+") else text
    if digits.isdecimal():
        if len(digits) > _MAX_DIGITS:
            digits = "".join(str(unicodedata.decimal(ch)) for ch in digits).lstrip("0")
            if len(digits) > _MAX_DIGITS:
                return sign * math.inf
        number = sign * int(digits or "0")
        return number if whole else float(number)
    value = float(text)  # ValueError for anything else; never OverflowError (1e400 is inf)
    if whole and math.isfinite(value):
        if not value.is_integer():
            raise ValueError(raw)
        return int(value)
    return value


def _whole(raw: str) -> int | float:
    return parse_number(raw, whole=True)


def _real(raw: str) -> float:
    return float(parse_number(raw, whole=False))


# flag -> (option name, parser, what to call it in a message)
_FLAGS: dict[str, tuple[str, Callable[[str], Any], str]] = {
    "seed": ("seed", _whole, "a whole number"),
    "frames": ("frames", _whole, "a whole number"),
    "seconds": ("seconds", _real, "a number"),
    "s": ("seconds", _real, "a number"),
    "fps": ("fps", _whole, "a whole number"),
    "ar": ("aspect", str, "a ratio like 16:9"),
    "aspect": ("aspect", str, "a ratio like 16:9"),
    "neg": ("negative_prompt", str, "some text"),
    "negative": ("negative_prompt", str, "some text"),
    "no": ("negative_prompt", str, "some text"),
    "steps": ("steps", _whole, "a whole number"),
    "guidance": ("guidance", _real, "a number"),
    "cfg": ("guidance", _real, "a number"),
    "model": ("model", str, "a model name"),
    "width": ("width", _whole, "a whole number"),
    "height": ("height", _whole, "a whole number"),
    # A path on the bot's machine: only the console takes it (`Parsed.image_path`).
    "image": ("image_path", str, "a picture's path"),
}
# Flags that take no value.
_SWITCHES: dict[str, str] = {"loop": "loop"}
FLAG_HELP = (
    "--seed N --frames N --seconds S --fps N --ar W:H --neg TEXT --steps N --guidance G --model NAME --loop"
)

_DASHES = re.compile(r"(^|\s)[\u2012\u2013\u2014\u2015\u2212]{1,2}(?=[a-zA-Z])")
# An apostrophe inside a word ("it's", "dog's") is never a quote; shlex would pair two of them.
_IN_WORD_APOSTROPHE = re.compile(r"(?<=\w)'(?=\w)")
_APOSTROPHE_MARK = "\ue0a7"  # private use: stands in for those apostrophes while splitting


@dataclass
class Parsed:
    prompt: str
    options: dict[str, Any] = field(default_factory=dict)
    # `--image PATH`: a file on the machine the bot runs on. Kept out of `options` so that no
    # surface but the console can ever make the bot read a local file.
    image_path: str | None = None


# Shell-style words as shlex.split(posix=True) reads them, in one pass. shlex itself appends
# every character to a string attribute, copying the word each time: quadratic in a word's
# length (bench/hostile_input.py). Here each alternative starts with a character none of the
# others can, and every quantifier is possessive, so nothing backtracks. Separators are
# shlex's four, not all of Unicode's whitespace.
_PLAIN = r"[^ \t\r\n'\"\\]++"
_ESCAPED = r"\\(.)"
_SINGLE = r"'([^']*+)'"
_DOUBLE = r'"((?:[^"\\]++|\\.)*+)"'
_GAP = r"([ \t\r\n]++)"
_SHELL_WORDS = re.compile("|".join((_PLAIN, _ESCAPED, _SINGLE, _DOUBLE, _GAP)), re.DOTALL)
# The same with a single quote as an ordinary character.
_DOUBLE_ONLY = re.compile("|".join((_PLAIN.replace("'", ""), _ESCAPED, "((?!))", _DOUBLE, _GAP)), re.DOTALL)
# Inside double quotes a backslash escapes only a double quote or a backslash.
_IN_DOUBLE_ESCAPE = re.compile(r'\\(["\\])')


def _shell_words(text: str, pieces: re.Pattern[str]) -> list[str]:
    """Split like shlex (posix, whitespace_split, no comments); ValueError on an unclosed quote
    or a trailing backslash, as shlex raises."""
    words: list[str] = []
    word: list[str] | None = None
    end = 0
    for match in pieces.finditer(text):
        if match.start() != end:
            raise ValueError("no closing quotation")  # nothing could read the text from `end` on
        end = match.end()
        escaped, single, double, gap = match.groups()
        if gap is not None:
            if word is not None:
                words.append("".join(word))
                word = None
            continue
        if word is None:
            word = []
        if escaped is not None:
            word.append(escaped)
        elif single is not None:
            word.append(single)
        elif double is not None:
            word.append(_IN_DOUBLE_ESCAPE.sub(r"\1", double))
        else:
            word.append(match.group())
    if end != len(text):
        raise ValueError("no closing quotation")
    if word is not None:
        words.append("".join(word))
    return words


def _split(text: str) -> list[str]:
    try:
        return _shell_words(text, _SHELL_WORDS)
    except ValueError:
        pass
    # A lone single quote ("the '90s") is not a quote either: honour double quotes only, so
    # `the '90s --neg "low quality"` still keeps its quoted value together.
    try:
        return _shell_words(text, _DOUBLE_ONLY)
    except ValueError:
        return text.split()  # unbalanced double quotes too: plain splitting


def parse_prompt(text: str) -> Parsed:
    """Split free text into the prompt and its options; raise InvalidRequest on bad flags."""
    if len(text) > MAX_TEXT:
        raise InvalidRequest(texts.text_too_long(len(text), MAX_TEXT))
    return _parse(text)


def _parse(text: str) -> Parsed:
    """parse_prompt without the length cap; every step is one pass over the text (bench/hostile_input.py)."""
    text = _DASHES.sub(r"\1--", text)
    text = _IN_WORD_APOSTROPHE.sub(_APOSTROPHE_MARK, text)
    tokens = [token.replace(_APOSTROPHE_MARK, "'") for token in _split(text)]
    words: list[str] = []
    options: dict[str, Any] = {}
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token.startswith("--") and len(token) > 2:
            name, _, inline = token[2:].partition("=")
            if name.lower() in _SWITCHES and not inline:
                options[_SWITCHES[name.lower()]] = True
                i += 1
                continue
            spec = _FLAGS.get(name.lower())
            if spec is None:
                raise InvalidRequest(texts.unknown_option(name, FLAG_HELP))
            key, kind, what = spec
            if inline:
                raw = inline
            elif i + 1 < len(tokens):
                i += 1
                raw = tokens[i]
            else:
                raise InvalidRequest(texts.option_needs_value(name, what))
            try:
                options[key] = kind(raw)
            except ValueError:
                raise InvalidRequest(texts.option_not_a(name, what, raw)) from None
        else:
            words.append(token)
        i += 1
    image_path = options.pop("image_path", None)
    return Parsed(" ".join(words), options, image_path)
