"""Hostile input on the chat side: lines built to make a parser backtrack, numbers too long or
written in odd digits, and control characters that would drive the terminal they are echoed to.

Every parser that reads user text gets inputs shaped to make it work hard, and these tests check
that the *answer* is right. How long they take is measured in `bench/hostile_input.py` (time per
KB from 1 to 256 KB), not here: the fixes are structural (no regex on the console line, bounded
quantifiers, a length cap before anything else), and a timed unit test would only be flaky.
"""

from __future__ import annotations

import io
import json
import re
import shlex
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.console import ConsoleAdapter, split_line
from bot.flags import _split, parse_prompt
from bot.policy import PromptPolicy
from engine.request import InvalidRequest
from tests.bot.console_session import Session, console_session

SMALL = "--frames 2 --steps 1 --width 16 --height 16"
# Everything a terminal would act on instead of showing: C0 controls but the newline, DEL and
# C1 controls, the bidi controls, and the Unicode line and paragraph separators.
TERMINAL_CONTROLS = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)


@pytest.fixture
async def session(make_settings: Callable[..., Any]) -> AsyncIterator[Session]:
    async with console_session(make_settings()) as session:
        yield session


# --- 1. the console line: no regex, one pass --------------------------------------------------


@pytest.mark.parametrize(
    ("line", "parts"),
    [
        (" " * 50_000, None),
        ("\t \u3000" * 20_000, None),
        (" " * 50_000 + ":", None),
        (" " * 50_000 + ": a cat", None),
        ("x" * 100_000, None),  # no colon at all
        ("a" * 65 + ": a cat", None),  # a name longer than 64 characters
        ("a" * 64 + ": a cat", ("a" * 64, "a cat")),
        (" " * 20_000 + "bob" + " " * 20_000 + ":   hi", ("bob", "  hi")),
        ("Zoë 🐱 :a cat", ("Zoë 🐱", "a cat")),
        ("bob::x: y", ("bob", ":x: y")),
        ("bob:", ("bob", "")),
        ("bo\nb: a cat", None),
        ("\n bob \n: a cat", ("bob", "a cat")),
    ],
    ids=lambda value: repr(value)[:30],
)
def test_split_line(line: str, parts: tuple[str, str] | None) -> None:
    assert split_line(line) == parts


@pytest.mark.parametrize("line", [" " * 65_536, " " * 32_768 + ":", "\t" * 65_536 + ": /queue"])
async def test_a_blank_line_of_any_length_gets_the_usage_hint(session: Session, line: str) -> None:
    got = await session.answer_to(line)
    assert (got["event"], got["user"]) == ("info", "?")


async def test_a_huge_line_is_refused_with_its_length_and_queues_nothing(session: Session) -> None:
    line = "alice: a cat " + "x" * 100_000
    got = await session.answer_to(line)
    assert (got["event"], got["reason"], got["user"]) == ("refused", "invalid", "alice")
    assert f"{len(line):,}" in got["text"]
    assert (await session.answer_to("alice: /history"))["jobs"] == []


# --- 1. the prompt-and-flag parser ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "prompt", "options"),
    [
        ("—" * 3000, "—" * 3000, {}),
        ("—— " * 1000 + "——seed 3", " ".join(["——"] * 1000), {"seed": 3}),
        ("x — " * 1000, " ".join(["x", "—"] * 1000), {}),
        ("a'" * 1500, "a'" * 1500, {}),
        ('"' * 3001, '"' * 3001, {}),
        ("'a " * 999, " ".join(["'a"] * 999), {}),  # an odd number of quotes: none pairs up
        ("--seed 1 " * 400 + "a cat", "a cat", {"seed": 1}),
        ("a" * 4000, "a" * 4000, {}),  # as long as a Discord (Nitro) message may be
    ],
    ids=lambda value: repr(value)[:30],
)
def test_parse_prompt_on_runs_built_to_backtrack(text: str, prompt: str, options: dict[str, Any]) -> None:
    parsed = parse_prompt(text)
    assert (parsed.prompt, parsed.options) == (prompt, options)


def shlex_words(text: str) -> list[str]:
    """How the parser split words before: the standard library's shlex, quadratic in a word's length."""
    try:
        return shlex.split(text, posix=True)
    except ValueError:
        pass
    lexer = shlex.shlex(text, posix=True)
    lexer.whitespace_split, lexer.commenters, lexer.quotes = True, "", '"'
    try:
        return list(lexer)
    except ValueError:
        return text.split()


@settings(max_examples=500, deadline=None, database=None)
@given(st.text(alphabet=st.sampled_from(["a", "b", " ", "\t", "\n", "\r", "'", '"', "\\", "\u3000", "é"])))
def test_words_split_exactly_as_shlex_split_them(text: str) -> None:
    """The one-pass splitter reads quotes and backslashes as shlex does, unclosed ones included."""
    assert _split(text) == shlex_words(text)


def test_a_word_as_long_as_a_message_is_one_word() -> None:
    assert parse_prompt("x" * 3990 + " --seed 3").options == {"seed": 3}
    assert parse_prompt("'" + "x" * 3980 + " y' --seed 3").prompt == "x" * 3980 + " y"


def test_text_longer_than_any_discord_message_is_refused_with_its_length() -> None:
    with pytest.raises(InvalidRequest, match="4,001"):
        parse_prompt("a" * 4001)


# --- 1. the content policy's patterns -----------------------------------------------------------


@pytest.fixture(scope="module")
def policy() -> PromptPolicy:
    return PromptPolicy()


@pytest.mark.parametrize(
    ("prompt", "category"),
    [
        ("\u202e" * 3000 + "edun", "sexual"),  # one override, read right to left, is "nude"
        ("\u202e" * 3000 + "tac", None),
        ("a n u d e " + "cat " * 1000, "sexual"),  # spaced letters, then a long tail
        ("x " * 1500, None),  # one run of 1500 single letters
        ("n" + "u" * 3000 + "de", "sexual"),  # stretched letters
        ("1" * 3000 + "!", None),  # a number is a quantity, not leetspeak
        ("1|1|1|1|1|1|1|1 " * 200, None),
        ("a\u0301\u0302" * 1000 + " nude", "sexual"),  # combining marks everywhere
        ("👍\u200d" * 1500, None),
        ("'" * 3000 + " nude", "sexual"),
        ("n'u'd'e " * 300, "sexual"),  # apostrophes inside a word are dropped
    ],
    ids=lambda value: repr(value)[:30],
)
def test_policy_on_runs_built_to_backtrack(policy: PromptPolicy, prompt: str, category: str | None) -> None:
    assert policy.check(prompt).category == category


# --- 2. huge and odd numbers --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ("--seed " + "9" * 300, "Seed must be between 0 and 4294967295."),
        ("--seed " + "9" * 3900, "Seed must be between 0 and 4294967295."),  # int() is quadratic here
        ("--seed -" + "9" * 3000, "Seed must be between 0 and 4294967295."),
        ("--frames 1e400", "Frames must be between 1 and 32."),
        ("--frames -1e400", "Frames must be between 1 and 32."),
        ("--frames nan", "Frames must be between 1 and 32."),
        ("--fps " + "9" * 400, "fps must be between 1 and 30."),
        ("--steps 1e999", "Steps must be between 1 and 10."),
        ("--width " + "9" * 3000, "Width must be between 8 and 256 pixels."),
        ("--guidance 1e400", "Guidance must be between 0 and 20."),
        ("--seconds " + "9" * 500, "Length must be between 0 and 4 seconds at 8 fps."),
        ("--seed ²", "`--seed` should be a whole number, not `²`"),
        ("--frames ³", "`--frames` should be a whole number, not `³`"),
        ("--steps ½", "`--steps` should be a whole number, not `½`"),
    ],
    ids=lambda value: repr(value)[:30],
)
async def test_huge_and_odd_numbers_get_a_clear_refusal(session: Session, options: str, says: str) -> None:
    got = await session.answer_to(f"alice: a cat {options}")
    assert (got["event"], got["reason"]) == ("refused", "invalid"), got
    assert says in got["text"]


@pytest.mark.parametrize(
    ("options", "frames", "steps", "seed"),
    [
        ("--frames ３ --steps ２ --seed ３", 3, 2, 3),  # fullwidth digits
        ("--frames ٣ --steps ٢ --seed ١٢", 3, 2, 12),  # Arabic-Indic digits
        ("--frames 1e1 --steps 2.0 --seed 4", 10, 2, 4),  # whole numbers written otherwise
        ("--frames 2 --steps 1 --seed " + "0" * 3000 + "7", 2, 1, 7),  # leading zeros do not count
    ],
    ids=lambda value: repr(value)[:30],
)
async def test_digits_of_any_script_are_read_as_numbers(
    session: Session, options: str, frames: int, steps: int, seed: int
) -> None:
    got = await session.answer_to(f"alice: a cat {options} --width 16 --height 16")
    assert got["event"] == "queued", got
    request = (await session.core.db.get(got["job"])).request
    assert (request.frames, request.steps, request.seed) == (frames, steps, seed)


async def test_job_numbers_in_odd_digits(session: Session) -> None:
    queued = await session.answer_to(f"alice: a cat {SMALL}")
    assert (queued["event"], queued["job"]) == ("queued", 1)
    shown = await session.answer_to("alice: /show ١")  # Arabic-Indic one
    assert shown["event"] == "info" and "Job 1 " in shown["text"], shown
    assert (await session.answer_to("alice: /show ３"))["reason"] == "not_found"  # fullwidth three
    for line in ("alice: /cancel ²", "alice: /show ¹", "alice: /reroll ①", "alice: /show " + "9" * 3000):
        got = await session.answer_to(line)
        assert (got["event"], got["reason"]) == ("refused", "invalid"), (line[:30], got)
        assert "is not a job number" in got["text"]
    got = await session.answer_to("mod: /mod cancel ¹")
    assert (got["event"], got["reason"]) == ("refused", "invalid")


# --- 3. nothing a member typed reaches the terminal as a control character ------------------------

HOSTILE_LINES = [
    ("alice: a cat --seed \x1b[2J\x1b[H", "\\x1b[2J\\x1b[H"),
    ("alice: a cat --frames 1\x9b31m", "1\\x9b31m"),
    ("alice: a cat --ar \x1b[31mred", "\\x1b[31mred"),
    ("alice: a cat --model \x1b]0;pwned\x07", "\\x1b]0;pwned\\x07"),
    ("alice: /cancel \x1b[31m1", "\\x1b[31m1"),
    ("alice: /fo\u202eo", "/fo\\u202eo"),
    ("alice: a cat --\x1b[1mbold 3", "--\\x1b[1mbold"),
    ("alice: /show \u2066\u2069\u200e", "\\u2066\\u2069\\u200e"),
    ("alice: a cat --steps 1\x00\x08\x7f", "1\\x00\\x08\\x7f"),
    ("mod: /mod ban \x1b[31mmallory\u202e", "\\x1b[31mmallory\\u202e"),
    ("mod: /mod category \x1b[5mblink on", "\\x1b[5mblink"),
]


@pytest.mark.parametrize(("line", "shown"), HOSTILE_LINES, ids=lambda value: repr(value)[:30])
async def test_refusals_spell_out_control_characters_on_the_terminal(
    session: Session, line: str, shown: str
) -> None:
    session.console.adapter.as_json = False  # as a person runs it
    await session.console.handle(line)
    out = session.new_output()
    assert out.endswith("\n") and out.count("\n") == 1, out  # one answer, on one line
    assert not TERMINAL_CONTROLS.search(out), repr(out)
    assert shown in out, out  # spelled out, so a moderator sees that something was there


@pytest.mark.parametrize(("line", "shown"), HOSTILE_LINES, ids=lambda value: repr(value)[:30])
async def test_json_events_carry_no_raw_control_character(session: Session, line: str, shown: str) -> None:
    await session.console.handle(line)
    out = session.new_output()
    assert not TERMINAL_CONTROLS.search(out), repr(out)
    [event] = [json.loads(text) for text in out.splitlines()]
    assert shown in event["text"]


async def test_what_the_console_prints_from_the_journal_is_inert_too(session: Session) -> None:
    """/show and /mod audit print stored text: a negative prompt, a banned name as typed."""
    queued = await session.answer_to(f"alice: a cat --neg \x1b[31mred\x9b0m {SMALL}")
    request = (await session.core.db.get(queued["job"])).request
    assert request.negative_prompt == "[31mred0m"  # stored cleaned, like the prompt
    await session.say("mod: /mod ban \x9bmallory\u202e")
    [audit] = await session.say("mod: /mod audit")
    assert "\x9bmallory\u202e" in audit["text"]  # JSON escapes decode to the very text stored
    session.console.adapter.as_json = False
    for line in ("alice: /show 1", "mod: /mod audit"):
        await session.console.handle(line)
        out = session.new_output()
        assert not TERMINAL_CONTROLS.search(out), repr(out)
    assert "\\x9bmallory\\u202e" in out


def test_a_json_event_stays_one_line_whatever_separators_its_text_holds() -> None:
    out = io.StringIO()
    text = "a\u2028b\u2029c\x85d\x1ce\u202ef\x1bg"
    ConsoleAdapter(out, as_json=True).emit("info", "u", text)
    [line] = out.getvalue().splitlines()  # splitlines() splits at every one of those separators
    assert json.loads(line)["text"] == text
    assert not TERMINAL_CONTROLS.search(out.getvalue()[:-1])
