"""Turning rendered frames into a clip file a chat app will play inline.

`encode_clip` checks what it is given, runs the size-fitting ladder (`engine.encode.fit`) and
puts the finished file in place; `shrink_to_fit` re-encodes an existing clip for a smaller limit.

Choices worth knowing about:

* MP4 and WebM are yuv420p, which needs even sides, so an odd width or height is *padded* by
  repeating the last column/row rather than resized: the picture keeps every source pixel
  unscaled and only gains one duplicate line. `EncodeResult.width/height` report the padded,
  really-encoded size. GIF has no such limit and keeps the exact size.
* A clip is written to a hidden temporary file beside its destination and renamed into place
  only once it is complete and within `max_bytes`, so a crash or a failed fit never leaves a
  half-written or oversized clip at the destination, and the temporary file is always removed.
"""

from __future__ import annotations

import contextlib
import operator
import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import imageio_ffmpeg
import numpy as np

from engine.encode.ffmpeg import read_metadata
from engine.encode.fit import encode_to_fit, too_big
from engine.encode.metadata import clean_metadata

Format = Literal["mp4", "gif", "webm"]
FORMATS: tuple[str, ...] = ("mp4", "gif", "webm")


@dataclass(frozen=True)
class EncodeResult:
    """What was actually written, which can differ from what was asked (padding, downscaling)."""

    path: Path
    size_bytes: int
    width: int
    height: int
    frames: int
    fps: int
    fmt: str
    bitrate_kbps: int | None  # None when default quality was used
    scale: float  # 1.0 unless it had to downscale to fit


def encode_clip(
    frames: np.ndarray,
    path: Path,
    *,
    fps: int,
    fmt: Format = "mp4",
    max_bytes: int | None = None,
    metadata: Mapping[str, str] | None = None,
) -> EncodeResult:
    """Write `frames` (F, H, W, 3) as a playable clip at `path`, within `max_bytes` if given.

    The first encode uses the default quality, because most clips fit and it looks best. Only
    if that is too big are target bitrates, and then smaller scales, tried until one fits.
    Raises `EncodeError` (user-readable) if nothing fits or ffmpeg fails, and `ValueError` /
    `TypeError` for arguments that are a caller's bug rather than a user's problem.
    """
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {FORMATS}, not {fmt!r}")
    if isinstance(fps, bool):
        raise TypeError("fps must be an integer")
    fps = operator.index(fps)
    if fps < 1:
        raise ValueError(f"fps must be at least 1, not {fps}")
    if max_bytes is not None:
        max_bytes = operator.index(max_bytes)
        if max_bytes < 1:
            raise ValueError(f"max_bytes must be positive, not {max_bytes}")
    video = _as_uint8_rgb(frames)
    if fmt != "gif":
        video = _pad_to_even(video)
    tags = clean_metadata(metadata or {})

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Hidden and random so parallel encodes to the same name never collide and nobody mistakes
    # it for a finished clip; created by ffmpeg itself so it gets the usual umask permissions.
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.part")
    try:
        attempt, size = encode_to_fit(video, tmp, fps=fps, fmt=fmt, max_bytes=max_bytes, tags=tags)
        _fsync_file(tmp)
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return EncodeResult(
        path=path,
        size_bytes=size,
        width=attempt.width,
        height=attempt.height,
        frames=int(video.shape[0]),
        fps=fps,
        fmt=fmt,
        bitrate_kbps=None if attempt.bitrate_bps is None else round(attempt.bitrate_bps / 1000),
        scale=attempt.scale,
    )


def shrink_to_fit(
    path: Path, max_bytes: int, *, reserve: int = 0, finish: Callable[[Path], object] | None = None
) -> Path:
    """A copy of an MP4 clip re-encoded to at most `max_bytes`, kept beside it for reuse.

    Chat uploads have per-channel limits; the rendered clip stays untouched so a later delivery
    to a roomier channel, or a retry, never needs the model again. `finish` runs on the new copy
    before it is handed out (content credentials sign it there), and `reserve` bytes of the
    limit are left for what it adds, so the finished copy still fits.
    """
    path = Path(path)
    target = path.with_name(f"{path.stem}.fit{max_bytes}{path.suffix}")
    if target.exists() and target.stat().st_size <= max_bytes:
        return target
    if reserve >= max_bytes:
        raise too_big(max_bytes)
    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    width, height = meta["size"]
    frames = np.stack([np.frombuffer(f, np.uint8).reshape(height, width, 3) for f in reader])
    fps = max(1, round(meta.get("fps") or 8))
    kept = {k: v for k, v in read_metadata(path).items() if k in ("title", "comment")}
    encode_clip(frames, target, fps=fps, max_bytes=max_bytes - reserve, metadata=kept)
    if finish is not None:
        try:
            finish(target)
        except BaseException:
            # Never leave an unfinished copy where the next call would take it for a finished one.
            target.unlink(missing_ok=True)
            raise
    return target


# --- frames -------------------------------------------------------------------------------


def _as_uint8_rgb(frames: np.ndarray) -> np.ndarray:
    """Accept what a pipeline hands over (uint8, or float in [0, 1]) as C-contiguous uint8."""
    arr = np.asarray(frames)
    if arr.ndim != 4 or arr.shape[-1] != 3 or min(arr.shape[:3]) < 1:
        raise ValueError(f"frames must have shape (F, H, W, 3) with F, H, W >= 1, not {arr.shape}")
    if arr.dtype == np.uint8:
        return np.ascontiguousarray(arr)
    if np.issubdtype(arr.dtype, np.floating):
        # NaN would otherwise become an arbitrary integer; out-of-range values are clipped
        # because samplers slightly overshoot [0, 1].
        scaled = np.nan_to_num(arr.astype(np.float32), nan=0.0, posinf=1.0, neginf=0.0)
        np.clip(scaled, 0.0, 1.0, out=scaled)
        return np.rint(scaled * 255.0).astype(np.uint8)
    raise TypeError(f"frames must be uint8 or float in [0, 1], not {arr.dtype}")


def _pad_to_even(video: np.ndarray) -> np.ndarray:
    pad_h, pad_w = video.shape[1] % 2, video.shape[2] % 2
    if not (pad_h or pad_w):
        return video
    return np.pad(video, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")


# --- durability ---------------------------------------------------------------------------


def _fsync_file(path: Path) -> None:
    """Flush before the rename, or a power cut could leave a renamed but empty clip."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(directory: Path) -> None:
    """Persist the rename itself; not every OS/filesystem allows this, and it is only a bonus."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)
