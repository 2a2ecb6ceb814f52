"""bot.flags.parse_prompt: free text with inline options, as people really type it."""

from __future__ import annotations

import pytest

from bot.flags import parse_prompt
from engine.request import InvalidRequest


@pytest.mark.parametrize(
    ("text", "prompt", "options"),
    [
        ("a corgi surfing at sunset", "a corgi surfing at sunset", {}),
        ("a corgi --seed 3 --frames 12", "a corgi", {"seed": 3, "frames": 12}),
        ("--seed 3 a corgi", "a corgi", {"seed": 3}),
        ('a cat --neg "blurry, low quality"', "a cat", {"negative_prompt": "blurry, low quality"}),
        ("a cat --neg 'blurry, low quality'", "a cat", {"negative_prompt": "blurry, low quality"}),
        ("a cat --seed=3 --ar=16:9", "a cat", {"seed": 3, "aspect": "16:9"}),
        ('a cat --neg="low quality"', "a cat", {"negative_prompt": "low quality"}),
        ("a cat --SEED 4", "a cat", {"seed": 4}),
        # Phones turn -- into an em or en dash.
        ("a cat —seed 3", "a cat", {"seed": 3}),
        ("a cat –frames 8 —neg dark", "a cat", {"frames": 8, "negative_prompt": "dark"}),
        ("a cat ——steps 2", "a cat", {"steps": 2}),
        # A dash inside or between words is text, not an option.
        ("a well—known place — at night", "a well—known place — at night", {}),
        ("a cat -- a dog", "a cat -- a dog", {}),
        # Aliases.
        (
            "x --s 2.5 --cfg 4 --no rain --aspect 1:1",
            "x",
            {"seconds": 2.5, "guidance": 4.0, "negative_prompt": "rain", "aspect": "1:1"},
        ),
        (
            "x --negative fog --model tiny --width 32 --height 48",
            "x",
            {"negative_prompt": "fog", "model": "tiny", "width": 32, "height": 48},
        ),
        # Apostrophes are not quotes.
        ("a dog's life", "a dog's life", {}),
        ("a dog's life --seed 2", "a dog's life", {"seed": 2}),
        (
            "it's a dog's life --neg \"low quality\" --seed 5",
            "it's a dog's life",
            {"negative_prompt": "low quality", "seed": 5},
        ),
        # Two apostrophes must not pair up as quotes and swallow the options between them.
        ("it's a cat --seed 3 and a dog's toy", "it's a cat and a dog's toy", {"seed": 3}),
        ('the \'90s look --neg "low quality"', "the '90s look", {"negative_prompt": "low quality"}),
        ("rock 'n' roll --frames 4", "rock n roll", {"frames": 4}),
        # A last value wins; the prompt keeps its words in order.
        ("one --seed 1 two --seed 2 three", "one two three", {"seed": 2}),
        # Unbalanced quotes are kept as typed rather than refused.
        ('a cat --neg "blurry', "a cat", {"negative_prompt": '"blurry'}),
        ("", "", {}),
    ],
)
def test_parse_prompt(text: str, prompt: str, options: dict) -> None:
    parsed = parse_prompt(text)
    assert parsed.prompt == prompt
    assert parsed.options == options


def _error(text: str) -> str:
    with pytest.raises(InvalidRequest) as info:
        parse_prompt(text)
    message = str(info.value)
    # Written for a chat user: no Python internals.
    for jargon in ("Traceback", "invalid literal", "ValueError", "could not convert", "base 10"):
        assert jargon not in message
    return message


def test_unknown_flag_names_it_and_lists_the_options() -> None:
    message = _error("a cat --bogus 3")
    assert "`--bogus`" in message
    # Every option a person can type is listed, each as a word of its own.
    listed = message.split()
    for flag in (
        "--seed",
        "--frames",
        "--seconds",
        "--fps",
        "--ar",
        "--neg",
        "--steps",
        "--guidance",
        "--model",
    ):
        assert flag in listed, flag
    # A huge flag name is cut short in the reply.
    long = _error("a cat --" + "x" * 500 + " 3")
    assert "x" * 21 not in long


@pytest.mark.parametrize(
    ("text", "flag", "what"),
    [
        ("a cat --seed", "--seed", "a whole number"),
        ("a cat --frames", "--frames", "a whole number"),
        ("a cat --neg", "--neg", "some text"),
        ("a cat --guidance", "--guidance", "a number"),
        ("a cat —seed", "--seed", "a whole number"),
    ],
)
def test_missing_value(text: str, flag: str, what: str) -> None:
    message = _error(text)
    assert f"`{flag}` needs a value ({what})" in message


@pytest.mark.parametrize(
    ("text", "flag", "what", "raw"),
    [
        ("a cat --seed abc", "--seed", "a whole number", "abc"),
        ("a cat --frames 2.5", "--frames", "a whole number", "2.5"),
        ("a cat --fps eight", "--fps", "a whole number", "eight"),
        ("a cat --guidance high", "--guidance", "a number", "high"),
        ("a cat --seconds 1,5", "--seconds", "a number", "1,5"),
        ("a cat --seed=x7", "--seed", "a whole number", "x7"),
        ("a cat --frames --seed 3", "--frames", "a whole number", "--seed"),
    ],
)
def test_non_numeric_value(text: str, flag: str, what: str, raw: str) -> None:
    message = _error(text)
    assert f"`{flag}` should be {what}, not `{raw}`" in message


def test_a_huge_bad_value_is_cut_short() -> None:
    message = _error("a cat --seed " + "9x" * 5000)
    assert len(message) < 200


def test_negative_and_out_of_range_numbers_parse_and_are_left_to_validation() -> None:
    # Range checks belong to build_request, which knows the model's limits.
    assert parse_prompt("a cat --seed -5 --steps -1 --fps 0").options == {"seed": -5, "steps": -1, "fps": 0}
