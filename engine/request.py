"""Render requests and their validation against a preset's limits.

Validation happens on the chat side before a job is queued, so the messages here are written
for a chat user ("at most 4 seconds"), not for a developer. Torch-free on purpose.
"""

from __future__ import annotations

import math
import numbers
import secrets
from dataclasses import dataclass, replace
from typing import Any

from engine.presets import PRESETS, Preset, get_preset

MAX_SEED = 2**32 - 1
# The lowest frame rate any preset takes; with a preset's most frames it sets the longest clip.
MIN_FPS = 1


class InvalidRequest(ValueError):
    """An option a user gave is out of range; the message is safe to show them.

    `key` names the sentence and `values` what it shows, so that a chat surface can say it in
    the member's language (`bot.locales`); the message itself is the English.
    """

    def __init__(self, message: str, key: str = "", **values: Any) -> None:
        super().__init__(message)
        self.key = key
        self.values = values


# What each request of a batch brings to the one pipeline call on its own.
_PER_ITEM = frozenset({"prompt", "negative_prompt", "seed"})


@dataclass(frozen=True)
class RenderRequest:
    """A fully resolved request: every value is set and within the preset's limits."""

    model: str
    prompt: str
    negative_prompt: str
    frames: int
    fps: int
    width: int
    height: int
    steps: int
    guidance: float
    seed: int
    # A cleaned picture the clip starts from (`engine.image`), stored under its hash.
    image: str = ""
    # A clip this one continues from its last frames; the result is the joined clip.
    extend: str = ""
    # The last frame leads back into the first.
    loop: bool = False

    def batch_key(self) -> tuple[Any, ...]:
        """Requests with equal keys can share one pipeline call.

        Every field but the three each request brings to the call on its own (prompt, negative
        prompt and, through its generator, seed): the pipeline is called with one frame count,
        size, step count and guidance for the whole batch, the frame rate conditions models
        like LTX-Video, and the encoder writes each clip at its own fps. Listing what may
        differ, rather than what must match, keeps a field added later out of mixed batches.
        """
        return tuple(getattr(self, name) for name in self.__dataclass_fields__ if name not in _PER_ITEM)

    @property
    def seconds(self) -> float:
        return self.frames / self.fps

    def to_dict(self) -> dict[str, Any]:
        # Not dataclasses.asdict: it deep-copies every field, and the journal calls this per job.
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RenderRequest:
        # Jobs recorded before a field existed lack it: they take its default.
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})

    def with_seed(self, seed: int) -> RenderRequest:
        return replace(self, seed=seed)

    def clip_metadata(self, *, private: bool = False) -> dict[str, str]:
        """What goes into a clip's container, so anyone holding the file can reproduce it.

        `private`: made in a private place (a DM). The file may be passed on from there, and the
        member did not publish their prompt, so only the model and sizes go in, not the prompt,
        negative prompt or seed that would reproduce it.
        """
        if private:
            return {
                "comment": f"Promptreel model={self.model} frames={self.frames} fps={self.fps} "
                f"size={self.width}x{self.height}"
            }
        comment = (
            f"Promptreel model={self.model} seed={self.seed} steps={self.steps} "
            f"guidance={self.guidance:g} frames={self.frames} fps={self.fps} size={self.width}x{self.height}"
        )
        if self.negative_prompt:
            comment += f" negative={self.negative_prompt}"
        return {"title": self.prompt, "comment": comment}


def longest_seconds(preset: Preset) -> float:
    """The longest clip `build_request` accepts for `preset`, in seconds: its most frames at the
    lowest frame rate. What a chat surface advertises as the range of a length option, so that
    the range and the validation can never disagree."""
    return preset.max_frames / MIN_FPS


def random_seed() -> int:
    return secrets.randbelow(MAX_SEED + 1)


def parse_aspect(text: str) -> float:
    try:
        w, h = (float(part) for part in text.replace("x", ":").split(":"))
    except ValueError:
        shown = repr(text[:20])
        raise InvalidRequest(
            f"Aspect ratio {shown} should look like 16:9 or 1:1.", "aspect_form", text=shown
        ) from None
    if not (w > 0 and h > 0) or not (0.25 <= w / h <= 4):
        raise InvalidRequest("Aspect ratio must be between 1:4 and 4:1.", "aspect_range")
    return w / h


def _number(value: float) -> str:
    # `:g` alone would show the seed limit as 4.29497e+09: neither readable nor the real limit.
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _check_range(
    name: str, value: object, low: float, high: float, unit: str = "", fps: int | None = None
) -> None:
    """Refuse anything but a real number within [low, high], saying which option and its range.

    No float() on the way: float(10**400) overflows, while Python compares an int of any size
    with a float exactly. NaN compares false, so it is refused like infinity; so is a bool or a
    value that is no number at all.
    """
    in_range = (
        isinstance(value, numbers.Real) and not isinstance(value, bool) and low <= value <= high  # type: ignore[operator]
    )
    if not in_range:
        raise InvalidRequest(
            f"{name} must be between {_number(low)} and {_number(high)}{unit}.",
            "range", option=name, low=_number(low), high=_number(high), unit=unit.strip(), fps=fps,
        )  # fmt: skip


def build_request(
    prompt: str,
    *,
    model: str | Preset = "tiny",
    negative_prompt: str | None = None,
    frames: int | None = None,
    seconds: float | None = None,
    fps: int | None = None,
    width: int | None = None,
    height: int | None = None,
    aspect: str | None = None,
    steps: int | None = None,
    guidance: float | None = None,
    seed: int | None = None,
    image: str | None = None,
    extend: str | None = None,
    loop: bool = False,
) -> RenderRequest:
    """Resolve user options against a preset, or raise InvalidRequest with a friendly message.

    Frame counts and sizes that are in range but not aligned to what the model needs are
    rounded rather than refused: users think in seconds and shapes, not in latent strides.
    """
    preset = model if isinstance(model, Preset) else get_preset(model)
    prompt = (prompt or "").strip()
    if not prompt:
        raise InvalidRequest(
            "Please describe the video you want, e.g. `a corgi surfing at sunset`.", "no_prompt"
        )
    if len(prompt) > preset.max_prompt_chars:
        limit = preset.max_prompt_chars
        raise InvalidRequest(
            f"That prompt is {len(prompt)} characters; {preset.name} takes at most {limit}.",
            "prompt_too_long", length=len(prompt), model=preset.name, limit=limit,
        )  # fmt: skip
    negative = (negative_prompt or "").strip()
    if len(negative) > preset.max_prompt_chars:
        raise InvalidRequest(
            f"The negative prompt can be at most {preset.max_prompt_chars} characters.",
            "negative_too_long", limit=preset.max_prompt_chars,
        )  # fmt: skip

    fps = preset.default_fps if fps is None else fps
    _check_range("fps", fps, MIN_FPS, preset.max_fps)
    fps = int(fps)

    if frames is not None and seconds is not None:
        raise InvalidRequest("Give either seconds or frames, not both.", "seconds_or_frames")
    if seconds is not None:
        max_s = preset.max_frames / fps
        _check_range("Length", seconds, 0, max_s, f" seconds at {fps} fps", fps=fps)
        frames = max(1, round(seconds * fps))
    if frames is None:
        frames = preset.default_frames
    _check_range("Frames", frames, preset.min_frames, preset.max_frames)
    frames = preset.round_frames(int(frames))

    if aspect is not None:
        if width is not None or height is not None:
            raise InvalidRequest(
                "Give either an aspect ratio or a width and height, not both.", "aspect_or_size"
            )
        ratio = parse_aspect(aspect)
        area = preset.default_width * preset.default_height
        width = round(math.sqrt(area * ratio))
        height = round(math.sqrt(area / ratio))
        scale = min(1.0, preset.max_side / max(width, height))
        width, height = int(width * scale), int(height * scale)
    width = preset.default_width if width is None else width
    height = preset.default_height if height is None else height
    for name, side in (("Width", width), ("Height", height)):
        _check_range(name, side, preset.size_multiple, preset.max_side, " pixels")
    width, height = preset.round_side(int(width)), preset.round_side(int(height))

    steps = preset.default_steps if steps is None else steps
    _check_range("Steps", steps, 1, preset.max_steps)
    guidance = preset.default_guidance if guidance is None else guidance
    _check_range("Guidance", guidance, 0, preset.max_guidance)

    if seed is None:
        seed = random_seed()
    _check_range("Seed", seed, 0, MAX_SEED)

    _check_conditions(preset, image, extend, loop)

    return RenderRequest(
        model=preset.name,
        prompt=prompt,
        negative_prompt=negative,
        frames=frames,
        fps=fps,
        width=width,
        height=height,
        steps=int(steps),
        guidance=float(guidance),
        seed=int(seed),
        image=image or "",
        extend=extend or "",
        loop=bool(loop),
    )


def _check_conditions(preset: Preset, image: str | None, extend: str | None, loop: bool) -> None:
    """What a clip starts from must be something the preset can condition on."""
    if image and not preset.image_input:
        raise InvalidRequest(
            f"{preset.name} can't start from a picture; {_image_presets()} can.",
            "no_picture", model=preset.name, others=_image_presets(),
        )  # fmt: skip
    if (extend or loop) and not preset.frame_conditions:
        what = "extend a clip" if extend else "loop a clip"
        raise InvalidRequest(
            f"{preset.name} can't {what}; {_image_presets(frames=True)} can.",
            "no_extend" if extend else "no_loop", model=preset.name, others=_image_presets(frames=True),
        )  # fmt: skip
    if extend and loop:
        raise InvalidRequest("A clip can be extended or looped, not both at once.", "extend_and_loop")
    if image and extend:
        raise InvalidRequest(
            "An extension continues the clip's own last frames; leave the picture out.", "extend_and_picture"
        )
    if loop and not image:
        # A loop returns to a frame it was given: with text alone there is none to return to.
        raise InvalidRequest(
            "A loop needs a picture to start and end on: attach one with the prompt.", "loop_needs_picture"
        )


def _image_presets(*, frames: bool = False) -> str:
    names = [p.name for p in PRESETS.values() if (p.frame_conditions if frames else p.image_input)]
    return ", ".join(names) or "no preset here"
