"""Meeting `max_bytes`: the ladder of bitrates, palette sizes and scales tried after a first encode.

The first encode uses the default quality, because most clips fit and it looks best. Only if that
is too big are target bitrates (palette sizes for GIF, which has no bitrate knob), and then
smaller scales, tried until one fits; the settings that did are returned for `EncodeResult`.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from engine.encode.errors import EncodeError
from engine.encode.ffmpeg import Attempt, encode_once

log = logging.getLogger(__name__)

# Downscale factors tried, in order, once lowering the bitrate alone cannot meet `max_bytes`.
DOWNSCALE_STEPS: tuple[float, ...] = (0.75, 0.5, 0.35, 0.25)
# Below this a clip stops being recognisable; also keeps x264/libvpx well inside their limits.
MIN_SIDE = 16
# Share of `max_bytes` given to the video stream: the container, codec headers and the rate
# control's overshoot on clips of a few dozen frames have to fit in the rest.
SIZE_HEADROOM = 0.9
# Bits per pixel per frame under which H.264/VP9 output turns to smeared blocks; with a budget
# this tight a smaller picture looks better than a blocky full-size one, so the next scale is
# tried instead. The smallest scale is always tried, whatever its bits per pixel.
MIN_BITS_PER_PIXEL = 0.04
# Rate control on short clips misses its target, so each scale gets a few corrected retries.
BITRATE_TRIES_PER_SCALE = 3
MIN_BITRATE_BPS = 4_000
# Palette sizes tried for GIF at each scale when the clip is too big; GIF has no bitrate knob.
GIF_PALETTE_SIZES: tuple[int, ...] = (256, 64)


def encode_to_fit(
    video: np.ndarray,
    out: Path,
    *,
    fps: int,
    fmt: str,
    max_bytes: int | None,
    tags: dict[str, str],
) -> tuple[Attempt, int]:
    """Run the quality ladder until a file at `out` fits, returning the settings that did."""
    n_frames, height, width, _ = video.shape
    raw = video.tobytes()  # once, not per attempt: this is the largest buffer in play

    def run(attempt: Attempt) -> int:
        size = encode_once(raw, width, height, out, fps=fps, fmt=fmt, attempt=attempt, tags=tags)
        log.debug("encoded %s %s: %d bytes (limit %s)", fmt, attempt, size, max_bytes)
        return size

    first = Attempt(width, height, 1.0)
    size = run(first)
    if max_bytes is None or size <= max_bytes:
        return first, size

    sizes = _ladder_sizes(width, height)
    if fmt == "gif":
        smallest = (size, width * height)  # (bytes, pixels) of the smallest GIF so far
        for i, (w, h, scale) in enumerate(sizes):
            # GIF size is roughly proportional to area; skip scales that cannot plausibly fit,
            # since each palette pass over a large clip costs seconds.
            expected = smallest[0] * (w * h) / smallest[1]
            if i < len(sizes) - 1 and expected > 2 * max_bytes:
                continue
            for colors in GIF_PALETTE_SIZES:
                if i == 0 and colors == GIF_PALETTE_SIZES[0]:
                    continue  # that was the first encode
                attempt = Attempt(w, h, scale, colors=colors)
                size = run(attempt)
                if size <= max_bytes:
                    return attempt, size
                if size / (w * h) < smallest[0] / smallest[1]:
                    smallest = (size, w * h)
        raise too_big(max_bytes)

    duration = n_frames / fps
    bitrate = max(MIN_BITRATE_BPS, int(max_bytes * 8 * SIZE_HEADROOM / duration))
    for i, (w, h, scale) in enumerate(sizes):
        is_last = i == len(sizes) - 1
        floor = MIN_BITRATE_BPS if is_last else max(MIN_BITRATE_BPS, MIN_BITS_PER_PIXEL * w * h * fps)
        previous: tuple[int, int] | None = None  # (bitrate, size) of the last try at this scale
        for _ in range(BITRATE_TRIES_PER_SCALE):
            if bitrate < floor:
                break
            attempt = Attempt(w, h, scale, bitrate_bps=bitrate)
            size = run(attempt)
            if size <= max_bytes:
                return attempt, size
            if previous is not None and size > previous[1] * 0.95:
                # The encoder is at its quality floor for this size: asking for fewer bits buys
                # nothing, so the smaller picture gets the earlier, less starved rate.
                bitrate = previous[0]
                break
            previous = (bitrate, size)
            corrected = max(MIN_BITRATE_BPS, int(bitrate * max_bytes * SIZE_HEADROOM / size))
            if corrected >= bitrate:
                break
            bitrate = corrected
    raise too_big(max_bytes)


def _ladder_sizes(width: int, height: int) -> list[tuple[int, int, float]]:
    """Full size followed by the distinct even downscales whose short side stays >= MIN_SIDE."""
    sizes = [(width, height, 1.0)]
    short = min(width, height)
    for step in DOWNSCALE_STEPS:
        scale = max(step, MIN_SIDE / short)
        if scale >= 1.0:
            break
        w, h = _even(width * scale), _even(height * scale)
        if (w, h) != sizes[-1][:2]:
            sizes.append((w, h, round(scale, 3)))
        if scale > step:  # clamped to MIN_SIDE: every further step would give the same size
            break
    return sizes


def _even(x: float) -> int:
    return max(2, 2 * round(x / 2))


def too_big(max_bytes: int) -> EncodeError:
    return EncodeError(f"The clip could not be made smaller than {_human_bytes(max_bytes)}.")


def _human_bytes(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f} MB"
    if n >= 1_000:
        return f"{n / 1_000:.1f} KB"
    return f"{n} bytes"
