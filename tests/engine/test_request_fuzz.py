"""Fuzzing build_request: any option values give a request within the preset's limits, or a refusal.

Values come from everywhere a caller could get them wrong: ints of any size, floats with NaN and
infinities, fractions, bools, strings and lists where numbers belong, and text with control
characters. Either the result obeys every limit of its preset, or InvalidRequest explains, in
one readable sentence; any other exception fails.
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.presets import PRESETS, get_preset
from engine.request import MAX_SEED, InvalidRequest, RenderRequest, build_request

NUMERIC = ("frames", "seconds", "fps", "width", "height", "steps", "guidance", "seed")
RAW_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")

anything_numeric = st.one_of(
    st.integers(min_value=0, max_value=300),
    st.integers(min_value=-(10**500), max_value=10**500),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=0, max_value=300),
    st.fractions(),
    st.just(Fraction(10**400, 7)),
    st.booleans(),
    st.text(max_size=6),
    st.lists(st.integers(), max_size=2),
)
aspects = st.one_of(
    st.builds(lambda w, h: f"{w}:{h}", st.integers(-5, 30) | st.floats(), st.integers(-5, 30) | st.floats()),
    st.sampled_from(["16:9", "16x9", "1e400:1", "nan:1", "1e308:1e-308", "4:1", "1:4", ":", "", "a:b:c"]),
    st.text(max_size=10),
)
options = st.fixed_dictionaries(
    {},
    optional={
        **dict.fromkeys(NUMERIC, anything_numeric),
        "aspect": aspects,
        "negative_prompt": st.text(max_size=40) | st.just("x" * 1001),
    },
)


def assert_within_limits(r: RenderRequest) -> None:
    p = get_preset(r.model)
    assert p.min_frames <= r.frames <= p.max_frames and isinstance(r.frames, int)
    assert (r.frames - p.frame_offset) % p.frame_step == 0
    assert 1 <= r.fps <= p.max_fps and isinstance(r.fps, int)
    for side in (r.width, r.height):
        assert isinstance(side, int) and p.size_multiple <= side <= p.max_side and side % p.size_multiple == 0
    assert 1 <= r.steps <= p.max_steps and isinstance(r.steps, int)
    assert 0 <= r.guidance <= p.max_guidance and isinstance(r.guidance, float)
    assert 0 <= r.seed <= MAX_SEED and isinstance(r.seed, int)
    assert r.prompt == r.prompt.strip() and 0 < len(r.prompt) <= p.max_prompt_chars
    assert len(r.negative_prompt) <= p.max_prompt_chars


@settings(max_examples=200, deadline=None, database=None)
@given(model=st.sampled_from(sorted(PRESETS)), prompt=st.text(max_size=60), values=options)
def test_build_request_gives_a_valid_request_or_one_readable_refusal(
    model: str, prompt: str, values: dict[str, Any]
) -> None:
    try:
        request = build_request(prompt, model=model, **values)
    except InvalidRequest as exc:
        message = str(exc)
        assert message.endswith(".") and not RAW_CONTROLS.search(message), repr(message)
        if "should look like" not in message:  # that one quotes the aspect as typed, whatever it says
            for leak in ("Traceback", "Error", "nan", "inf", "None", "object"):
                assert leak not in message, message
        return
    assert_within_limits(request)
