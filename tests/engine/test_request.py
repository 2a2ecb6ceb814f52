"""Request validation: defaults, unit conversions, rounding to what each model needs, and the
messages a chat user sees when an option is out of range. Torch-free, so these run in ms."""

from __future__ import annotations

import json
import math
from fractions import Fraction

import pytest

from engine.presets import PRESETS, UnknownPreset, get_preset
from engine.request import InvalidRequest, RenderRequest, build_request, parse_aspect

ALL_PRESETS = sorted(PRESETS)


# --- defaults -------------------------------------------------------------------------------


def test_tiny_defaults() -> None:
    r = build_request("a corgi surfing", seed=7)
    assert r == RenderRequest(
        model="tiny",
        prompt="a corgi surfing",
        negative_prompt="",
        frames=8,
        fps=8,
        width=64,
        height=64,
        steps=2,
        guidance=7.5,
        seed=7,
    )
    assert isinstance(r.guidance, float)
    assert r.seconds == 1.0


@pytest.mark.parametrize("name", ALL_PRESETS)
def test_every_preset_defaults_are_its_own_valid_values(name: str) -> None:
    p = get_preset(name)
    r = build_request("a red balloon", model=name, seed=1)
    assert (r.model, r.frames, r.fps, r.width, r.height) == (
        name,
        p.default_frames,
        p.default_fps,
        p.default_width,
        p.default_height,
    )
    assert (r.steps, r.guidance) == (p.default_steps, p.default_guidance)
    # The defaults must already satisfy the preset's own rules, or every default render is reshaped.
    assert p.round_frames(p.default_frames) == p.default_frames
    assert p.default_width % p.size_multiple == 0 and p.default_height % p.size_multiple == 0


def test_preset_object_and_name_give_the_same_request() -> None:
    assert build_request("x", model=get_preset("wan2.1-1.3b"), seed=3) == build_request(
        "x", model="wan2.1-1.3b", seed=3
    )


def test_prompts_are_stripped() -> None:
    r = build_request("  a cat \n", negative_prompt="  blurry  ", seed=1)
    assert (r.prompt, r.negative_prompt) == ("a cat", "blurry")


def test_unknown_model_is_refused_with_the_list_of_models() -> None:
    with pytest.raises(UnknownPreset) as info:
        build_request("a cat", model="nope")
    message = str(info.value)
    assert "'nope'" in message
    listed = message.split("Available: ", 1)[1].removesuffix(".").split(", ")
    assert set(listed) == {
        "tiny",
        "tiny-i2v",
        "ltx-video",
        "ltx-video-i2v",
        "wan2.1-1.3b",
        "cogvideox-2b",
        "modelscope",
        "zeroscope",
    }


# --- frames, seconds, fps -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "kwargs", "frames", "fps"),
    [
        ("tiny", {"seconds": 2}, 16, 8),
        ("tiny", {"seconds": 1.5, "fps": 10}, 15, 10),
        ("tiny", {"seconds": 0.05}, 1, 8),  # never zero frames
        ("tiny", {"frames": 12, "fps": 24}, 12, 24),
        ("wan2.1-1.3b", {"seconds": 2}, 33, 16),  # 32 frames rounded up to 4k+1
        ("ltx-video", {"seconds": 4}, 97, 24),  # 96 -> 8k+1
        ("ltx-video", {"seconds": 2, "fps": 30}, 65, 30),  # 60 -> 65
    ],
)
def test_seconds_and_fps_become_frames(model: str, kwargs: dict, frames: int, fps: int) -> None:
    r = build_request("a cat", model=model, seed=1, **kwargs)
    assert (r.frames, r.fps) == (frames, fps)
    assert r.seconds == pytest.approx(frames / fps)


@pytest.mark.parametrize("name", ALL_PRESETS)
def test_the_longest_clip_is_max_frames_at_one_fps_and_no_longer(name: str) -> None:
    """What /video advertises as the longest length; anything longer is refused at every rate."""
    p = get_preset(name)
    assert build_request("a cat", model=name, seconds=p.max_frames, fps=1, seed=1).frames == p.max_frames
    with pytest.raises(InvalidRequest, match="Length"):
        build_request("a cat", model=name, seconds=p.max_frames + 0.01, fps=1, seed=1)
    with pytest.raises(InvalidRequest, match="fps"):
        build_request("a cat", model=name, seconds=p.max_frames, fps=0.5, seed=1)


def test_longest_allowed_length_gives_max_frames() -> None:
    p = get_preset("tiny")
    r = build_request("a cat", seconds=p.max_frames / p.default_fps, seed=1)
    assert r.frames == p.max_frames


# --- rounding ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "asked", "got"),
    [
        ("wan2.1-1.3b", 5, 5),
        ("wan2.1-1.3b", 6, 9),
        ("wan2.1-1.3b", 33, 33),
        ("wan2.1-1.3b", 34, 37),
        ("wan2.1-1.3b", 80, 81),
        ("ltx-video", 9, 9),
        ("ltx-video", 10, 17),
        ("ltx-video", 96, 97),
        ("ltx-video", 250, 257),
        ("cogvideox-2b", 48, 49),
        ("tiny", 7, 7),
    ],
)
def test_frames_round_up_to_the_model_rule(model: str, asked: int, got: int) -> None:
    assert build_request("a cat", model=model, frames=asked, seed=1).frames == got


@pytest.mark.parametrize("name", ALL_PRESETS)
def test_every_in_range_frame_count_rounds_to_a_valid_one(name: str) -> None:
    p = get_preset(name)
    for asked in range(p.min_frames, p.max_frames + 1):
        got = build_request("a cat", model=p, frames=asked, seed=1).frames
        assert (got - p.frame_offset) % p.frame_step == 0, (asked, got)
        assert p.min_frames <= got <= p.max_frames
        assert asked <= got < asked + p.frame_step, (asked, got)


@pytest.mark.parametrize(
    ("model", "width", "height", "expected"),
    [
        ("tiny", 64, 48, (64, 48)),
        ("tiny", 70, 61, (72, 64)),
        ("ltx-video", 700, 470, (704, 480)),
        ("ltx-video", 1270, 33, (1280, 32)),
        ("wan2.1-1.3b", 500, 300, (496, 304)),
    ],
)
def test_sizes_round_to_multiples(model: str, width: int, height: int, expected: tuple[int, int]) -> None:
    r = build_request("a cat", model=model, width=width, height=height, seed=1)
    assert (r.width, r.height) == expected


@pytest.mark.parametrize("name", ALL_PRESETS)
def test_every_in_range_size_rounds_to_a_near_multiple(name: str) -> None:
    p = get_preset(name)
    m = p.size_multiple
    for side in range(m, p.max_side + 1, 7):
        r = build_request("a cat", model=p, width=side, height=p.default_height, seed=1)
        assert r.width % m == 0 and m <= r.width <= p.max_side
        assert abs(r.width - side) <= m / 2, (side, r.width)


# --- aspect ratios ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL_PRESETS)
def test_wide_aspect_is_wider_than_tall_within_limits(name: str) -> None:
    p = get_preset(name)
    r = build_request("a cat", model=name, aspect="16:9", seed=1)
    assert r.width > r.height
    assert max(r.width, r.height) <= p.max_side
    assert r.width % p.size_multiple == 0 and r.height % p.size_multiple == 0
    # The shape is kept up to rounding to the size multiple.
    assert r.width / r.height == pytest.approx(16 / 9, rel=0.15)


def test_aspect_variants() -> None:
    tall = build_request("a cat", aspect="9:16", seed=1)
    assert tall.height > tall.width
    square = build_request("a cat", aspect="1:1", seed=1)
    assert square.width == square.height == 64
    assert build_request("a cat", aspect="16x9", seed=1) == build_request("a cat", aspect="16:9", seed=1)
    # Extreme but allowed ratios still fit the largest side.
    p = get_preset("cogvideox-2b")
    r = build_request("a cat", model=p, aspect="1:4", seed=1)
    assert r.height <= p.max_side and r.height > r.width
    assert parse_aspect("4:1") == 4.0


def test_aspect_keeps_roughly_the_default_area() -> None:
    p = get_preset("ltx-video")
    r = build_request("a cat", model=p, aspect="16:9", seed=1)
    assert r.width * r.height == pytest.approx(p.default_width * p.default_height, rel=0.1)


# --- refusals ---------------------------------------------------------------------------------

INVALID = [
    pytest.param({"prompt": ""}, "describe", id="empty-prompt"),
    pytest.param({"prompt": " \t\n "}, "describe", id="whitespace-prompt"),
    pytest.param({"prompt": "x" * 501}, "500", id="too-long-prompt"),
    pytest.param({"negative_prompt": "x" * 501}, "500", id="too-long-negative"),
    pytest.param({"frames": -3}, "Frames", id="frames-negative"),
    pytest.param({"frames": 0}, "Frames", id="frames-zero"),
    pytest.param({"frames": 33}, "Frames", id="frames-over-max"),
    pytest.param({"fps": 0}, "fps", id="fps-zero"),
    pytest.param({"fps": 31}, "fps", id="fps-over-max"),
    pytest.param({"steps": 0}, "Steps", id="steps-zero"),
    pytest.param({"steps": 1000}, "Steps", id="steps-huge"),
    pytest.param({"guidance": -1}, "Guidance", id="guidance-negative"),
    pytest.param({"guidance": math.nan}, "Guidance", id="guidance-nan"),
    pytest.param({"guidance": math.inf}, "Guidance", id="guidance-inf"),
    pytest.param({"seed": -1}, "Seed", id="seed-negative"),
    pytest.param({"seed": 2**32}, "Seed", id="seed-too-big"),
    pytest.param({"seconds": 2, "frames": 16}, "either seconds or frames", id="seconds-and-frames"),
    pytest.param({"seconds": 5}, "seconds", id="seconds-too-long"),
    pytest.param({"seconds": -1}, "seconds", id="seconds-negative"),
    pytest.param({"seconds": math.nan}, "seconds", id="seconds-nan"),
    pytest.param({"width": 99999}, "Width", id="width-huge"),
    pytest.param({"height": 4}, "Height", id="height-tiny"),
    pytest.param({"aspect": "abc"}, "16:9", id="aspect-abc"),
    pytest.param({"aspect": "16:9:1"}, "16:9", id="aspect-three-parts"),
    pytest.param({"aspect": "0:1"}, "between 1:4 and 4:1", id="aspect-zero"),
    pytest.param({"aspect": "100:1"}, "between 1:4 and 4:1", id="aspect-too-wide"),
    pytest.param({"aspect": "1:100"}, "between 1:4 and 4:1", id="aspect-too-tall"),
    pytest.param({"aspect": "-16:-9"}, "between 1:4 and 4:1", id="aspect-negative"),
    pytest.param({"aspect": "16:9", "width": 64}, "aspect ratio or a width", id="aspect-and-width"),
]


@pytest.mark.parametrize(("kwargs", "fragment"), INVALID)
def test_out_of_range_options_are_refused_readably(kwargs: dict, fragment: str) -> None:
    kwargs = {"prompt": "a cat", "seed": 1, **kwargs}
    with pytest.raises(InvalidRequest) as info:
        build_request(kwargs.pop("prompt"), **kwargs)
    message = str(info.value)
    assert fragment in message
    # Written for a chat user: one sentence on one line, no Python or float internals.
    assert "\n" not in message and message.endswith(".")
    for leak in ("nan", "inf", "e+", "Traceback", "None"):
        assert leak not in message, message


# What each option is called when it is refused, and its range on the tiny preset.
TINY_RANGES = {
    "frames": "Frames must be between 1 and 32.",
    "fps": "fps must be between 1 and 30.",
    "width": "Width must be between 8 and 256 pixels.",
    "height": "Height must be between 8 and 256 pixels.",
    "steps": "Steps must be between 1 and 10.",
    "guidance": "Guidance must be between 0 and 20.",
    "seed": "Seed must be between 0 and 4294967295.",
    "seconds": "Length must be between 0 and 4 seconds at 8 fps.",
}


@pytest.mark.parametrize("option", sorted(TINY_RANGES))
@pytest.mark.parametrize(
    "value",
    [10**400, -(10**400), 10**5000, Fraction(10**400, 3), math.inf, -math.inf, math.nan, True, "12", [3]],
    ids=["10**400", "-10**400", "10**5000", "fraction", "inf", "-inf", "nan", "bool", "str", "list"],
)
def test_huge_or_odd_values_are_refused_with_the_options_range(option: str, value: object) -> None:
    """No float() overflow (10**400 is no float), no TypeError: the same refusal as any out-of-range value."""
    with pytest.raises(InvalidRequest) as info:
        build_request("a cat", model="tiny", **{"seed": 1, option: value})
    assert str(info.value) == TINY_RANGES[option]


def test_seed_limit_is_stated_exactly() -> None:
    with pytest.raises(InvalidRequest, match=r"between 0 and 4294967295\."):
        build_request("a cat", seed=2**32)


# The tiny preset's limits, written out: each end of each range is a valid request, kept as asked.
@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("frames", 1),
        ("frames", 32),
        ("fps", 1),
        ("fps", 30),
        ("steps", 1),
        ("steps", 10),
        ("guidance", 0),
        ("guidance", 20),
        ("seed", 0),
        ("seed", 4294967295),
    ],
)
def test_limits_themselves_are_accepted(option: str, value: int) -> None:
    kwargs = {"seed": 1, option: value}
    request = build_request("a cat", model="tiny", **kwargs)
    assert getattr(request, option) == value


def test_the_longest_prompt_and_the_extreme_sides_are_accepted() -> None:
    assert build_request("x" * 500, model="tiny", seed=1).prompt == "x" * 500
    wide = build_request("a cat", model="tiny", width=256, height=8, seed=1)
    assert (wide.width, wide.height) == (256, 8)
    tall = build_request("a cat", model="tiny", width=8, height=256, seed=1)
    assert (tall.width, tall.height) == (8, 256)
    widest = build_request("a cat", model="tiny", aspect="4:1", seed=1)
    assert (widest.width, widest.height) == (128, 32)


# --- seeds and serialisation ------------------------------------------------------------------


def test_unseeded_requests_get_a_random_recorded_seed() -> None:
    seeds = [build_request("a cat").seed for _ in range(8)]
    assert all(isinstance(s, int) and 0 <= s < 2**32 for s in seeds)
    # Eight draws from 2**32 values all colliding would mean the seed is not random.
    assert len(set(seeds)) > 1
    r = build_request("a cat")
    assert r.with_seed(r.seed) == r
    assert r.to_dict()["seed"] == r.seed
    assert f"seed={r.seed}" in r.clip_metadata()["comment"]


def test_explicit_seed_is_kept() -> None:
    assert build_request("a cat", seed=12345).seed == 12345


def test_to_dict_from_dict_round_trip() -> None:
    r = build_request("a cat", model="ltx-video", negative_prompt="blur", seconds=2, aspect="16:9", seed=99)
    data = json.loads(json.dumps(r.to_dict()))
    assert RenderRequest.from_dict(data) == r
    # Extra keys (a journal row's id, say) are ignored rather than refused.
    assert RenderRequest.from_dict({**data, "id": 5, "status": "queued"}) == r


def test_batch_key_separates_incompatible_requests() -> None:
    a = build_request("a cat", seed=1)
    assert a.batch_key() == build_request("a dog", negative_prompt="x", seed=2).batch_key()
    assert a.batch_key() != build_request("a cat", frames=9, seed=1).batch_key()
    assert a.batch_key() != build_request("a cat", steps=3, seed=1).batch_key()
    assert a.batch_key() != build_request("a cat", width=72, seed=1).batch_key()
    assert a.batch_key() != build_request("a cat", fps=12, seed=1).batch_key()
    assert a.batch_key() != build_request("a cat", guidance=3, seed=1).batch_key()


def test_clip_metadata_carries_prompt_and_settings() -> None:
    r = build_request("a cat", negative_prompt="dogs", seed=42)
    meta = r.clip_metadata()
    assert meta["title"] == "a cat"
    for part in ("model=tiny", "seed=42", "steps=2", "frames=8", "fps=8", "size=64x64", "negative=dogs"):
        assert part in meta["comment"]
