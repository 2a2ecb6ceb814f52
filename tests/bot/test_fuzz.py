"""Fuzzing what members type: every input gets exactly one answer, never an exception.

Hypothesis writes the lines: mostly near-misses of real ones (options with odd values, dashes
and quotes, commands with odd arguments, control characters and digits of other scripts), plus
arbitrary text. The parser must return a prompt or refuse with a readable sentence; the console
must answer every line once, with `queued`, `refused` (never "Something went wrong") or `info`.
"""

from __future__ import annotations

import math
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.flags import parse_prompt
from engine.request import InvalidRequest
from tests.bot.console_session import Session, console_session

FUZZ = settings(
    max_examples=200,
    deadline=None,
    database=None,  # nothing written into the checkout; a failure prints its example
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# What a sentence for a member must never show: Python's own words, or a raw control character.
JARGON = ("Traceback", "invalid literal", "could not convert", "base 10", "Error", "object", "NoneType")
RAW_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")

FLAGS = ["seed", "frames", "seconds", "s", "fps", "ar", "aspect", "neg", "no", "steps", "guidance", "cfg"]
FLAGS += ["model", "width", "height", "SEED", "bogus", ""]
DASHES = ["--", "—", "–", "——", "-", "−"]
ODD_NUMBERS = [
    "0", "-1", "3", "2.5", "1e400", "-1e400", "nan", "inf", "1_000", "9" * 40, "9" * 400, "0" * 300 + "4",
    "²", "٣", "３", "①", "½", "1e-400", "0x10", "1,5", "16:9", "4:1", "1e308:1e-308", "tiny", "",
]  # fmt: skip
ODD_TEXT = ["a cat", "'", '"', "it's", "\x1b[31m", "\u202e", "\u200b", "\x00", "\r", "=", ":", "/", "#", "🐱"]

words = st.one_of(
    st.sampled_from(ODD_TEXT),
    st.sampled_from(ODD_NUMBERS),
    st.text(max_size=12),
    st.builds(lambda d, f: d + f, st.sampled_from(DASHES), st.sampled_from(FLAGS)),
    st.builds(lambda f, v: f"--{f}={v}", st.sampled_from(FLAGS), st.sampled_from(ODD_NUMBERS)),
)
prompts = st.one_of(
    st.lists(words, max_size=12).map(" ".join),
    st.text(max_size=200),
)


# The options parse_prompt can hand on, by the kind of value each one takes.
TEXT_OPTIONS = {"aspect", "negative_prompt", "model"}
WHOLE_OPTIONS = {"seed", "frames", "fps", "steps", "width", "height"}
REAL_OPTIONS = {"seconds", "guidance"}


def assert_readable(message: str, *, lines: int = 1) -> None:
    """Some text, no jargon, no control character but the newlines of a multi-line reply."""
    assert message.strip(), "an empty answer"
    assert not any(word in message for word in JARGON), message
    assert not RAW_CONTROLS.search(message.replace("\n", "", lines - 1)), repr(message)


@FUZZ
@given(prompts)
def test_parse_prompt_returns_a_prompt_or_a_readable_refusal(text: str) -> None:
    try:
        parsed = parse_prompt(text)
    except InvalidRequest as exc:
        assert_readable(str(exc))
        return
    assert isinstance(parsed.prompt, str)
    assert set(parsed.options) <= TEXT_OPTIONS | WHOLE_OPTIONS | REAL_OPTIONS, parsed.options
    for key, value in parsed.options.items():
        if key in TEXT_OPTIONS:
            assert isinstance(value, str), (key, value)
        elif key in WHOLE_OPTIONS:
            # A whole number; or infinity / nan, left for the range check to refuse.
            assert type(value) is int or (type(value) is float and not math.isfinite(value)), (key, value)
        else:
            assert type(value) is float, (key, value)


COMMANDS = ["/queue", "/history", "/stats", "/help", "/cancel", "/show", "/reroll", "/remix", "/", "/QUEUE"]
COMMANDS += ["/mod", "/mod ban", "/mod unban", "/mod pause", "/mod resume", "/mod clear", "/mod cancel"]
COMMANDS += ["/mod limit", "/mod words add", "/mod words remove", "/mod words list", "/mod category"]
COMMANDS += ["/mod audit", "/frobnicate"]
JOB_ARGS = ["1", "#1", "2", "0", "-1", "99999", "²", "٣", "３", "①", "9" * 30, "x", "", "rate=3", "nudity on"]

texts = st.one_of(
    prompts,
    st.builds(
        lambda command, arg, rest: f"{command} {arg} {rest}",
        st.sampled_from(COMMANDS),
        st.sampled_from(JOB_ARGS) | st.text(max_size=8),
        prompts,
    ),
)
names = st.one_of(st.sampled_from(["alice", "bob", "mod", " mod ", "Zoë 🐱", "", "  "]), st.text(max_size=70))
lines = st.one_of(
    st.builds(
        lambda name, sep, text: f"{name}{sep}{text}", names, st.sampled_from([":", ": ", " : "]), texts
    ),
    st.text(max_size=100),
)


@pytest.fixture
async def session(make_settings: Callable[..., Any]) -> AsyncIterator[Session]:
    """One Core for all of a test's examples, as one console session takes many lines."""
    async with console_session(make_settings()) as session:
        yield session


@FUZZ
@given(line=lines)
async def test_every_console_line_gets_exactly_one_answer(session: Session, line: str) -> None:
    event = await session.answer_to(line)
    assert event.get("reason") != "error", (line, event)  # "Something went wrong handling that line"
    assert_readable(event["text"], lines=1 if event["event"] == "refused" else 1000)
