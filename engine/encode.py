"""Turning rendered frames into a clip file a chat app will play inline.

Everything goes through the ffmpeg binary that imageio-ffmpeg ships, so a worker needs no system
ffmpeg (and gets no ffprobe, which is why metadata is read back through ffmpeg's ffmetadata
muxer). Frames reach ffmpeg as raw RGB on stdin and every argument is passed as a list, never
through a shell, so nothing a user typed into a prompt can change the command.

Choices worth knowing about:

* MP4 is H.264 + yuv420p + faststart, and WebM is VP9 + yuv420p, because those are what Discord
  and browsers preview inline. yuv420p needs even sides, so an odd width or height is *padded*
  by repeating the last column/row rather than resized: the picture keeps every source pixel
  unscaled and only gains one duplicate line. `EncodeResult.width/height` report the padded,
  really-encoded size. GIF has no such limit and keeps the exact size.
* RGB is converted with the BT.709 matrix and the stream is tagged so; untagged streams are
  decoded with different matrices by different players, which shifts colours.
* GIF goes through ffmpeg's palettegen/paletteuse (one palette per clip, ordered dither), which
  beats a fixed palette by far and keeps animated noise small. GIF has no key/value metadata, so
  the metadata is stored as one GIF comment in ffmetadata syntax, which `read_metadata` parses.
* A clip is written to a hidden temporary file beside its destination and renamed into place
  only once it is complete and within `max_bytes`, so a crash or a failed fit never leaves a
  half-written or oversized clip at the destination, and the temporary file is always removed.
"""

from __future__ import annotations

import contextlib
import logging
import operator
import os
import re
import secrets
import subprocess
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import imageio_ffmpeg
import numpy as np

from engine.gif_meta import _format_ffmetadata, _gif_add_comment, _parse_ffmetadata, _read_gif_metadata

log = logging.getLogger(__name__)

Format = Literal["mp4", "gif", "webm"]
FORMATS: tuple[str, ...] = ("mp4", "gif", "webm")

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
# Longer values are cut (with an ellipsis) rather than refused: a prompt is informative even
# when cut, and this keeps every argument far below the OS limit on one argv entry (128 KiB).
MAX_METADATA_CHARS = 4000
# An encode that runs this long is stuck, not slow; the worker thread must get its slot back.
FFMPEG_TIMEOUT_S = 600.0

_X264_CRF = "23"
_VP9_CRF = "32"
_KEY_RE = re.compile(r"[a-z][a-z0-9_]{0,63}")


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


class EncodeError(RuntimeError):
    """The clip could not be made; the message is written for the chat user who asked for it.

    `detail` carries ffmpeg's own output for the logs, which would only confuse that user.
    """

    def __init__(self, message: str, *, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail


@dataclass(frozen=True)
class _Attempt:
    """One ffmpeg run of the fitting ladder, so the winning settings can be reported."""

    width: int
    height: int
    scale: float
    bitrate_bps: int | None = None
    colors: int = 256


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
    tags = _clean_metadata(metadata or {})

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Hidden and random so parallel encodes to the same name never collide and nobody mistakes
    # it for a finished clip; created by ffmpeg itself so it gets the usual umask permissions.
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.part")
    try:
        attempt, size = _encode_to_fit(video, tmp, fps=fps, fmt=fmt, max_bytes=max_bytes, tags=tags)
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


def read_metadata(path: Path) -> dict[str, str]:
    """Return the container-level metadata of a clip, keys lower-cased.

    Keys come back lower-cased because Matroska/WebM stores custom tags upper-case. Besides what
    `encode_clip` wrote, an MP4 also reports its brand fields (`major_brand`, ...).
    """
    path = Path(path)
    with path.open("rb") as fh:
        magic = fh.read(6)
    if magic in (b"GIF87a", b"GIF89a"):
        return _read_gif_metadata(path.read_bytes())
    cmd = [
        imageio_ffmpeg.get_ffmpeg_exe(),
        "-nostdin",
        "-v",
        "error",
        "-i",
        str(path),
        # bitexact: otherwise ffmpeg stamps its own "encoder" over the one in the file.
        "-fflags",
        "+bitexact",
        "-f",
        "ffmetadata",
        "-",
    ]
    proc = _run(cmd, stdin=None)
    if proc.returncode != 0:
        raise EncodeError("The clip's details could not be read.", detail=_tail(proc.stderr))
    return _parse_ffmetadata(proc.stdout.decode("utf-8", errors="replace"))


def shrink_to_fit(path: Path, max_bytes: int) -> Path:
    """A copy of an MP4 clip re-encoded to at most `max_bytes`, kept beside it for reuse.

    Chat uploads have per-channel limits; the rendered clip stays untouched so a later delivery
    to a roomier channel, or a retry, never needs the model again.
    """
    path = Path(path)
    target = path.with_name(f"{path.stem}.fit{max_bytes}{path.suffix}")
    if target.exists() and target.stat().st_size <= max_bytes:
        return target
    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    width, height = meta["size"]
    frames = np.stack([np.frombuffer(f, np.uint8).reshape(height, width, 3) for f in reader])
    fps = max(1, round(meta.get("fps") or 8))
    kept = {k: v for k, v in read_metadata(path).items() if k in ("title", "comment")}
    encode_clip(frames, target, fps=fps, max_bytes=max_bytes, metadata=kept)
    return target


# --- fitting ------------------------------------------------------------------------------


def _encode_to_fit(
    video: np.ndarray,
    out: Path,
    *,
    fps: int,
    fmt: str,
    max_bytes: int | None,
    tags: dict[str, str],
) -> tuple[_Attempt, int]:
    """Run the quality ladder until a file at `out` fits, returning the settings that did."""
    n_frames, height, width, _ = video.shape
    raw = video.tobytes()  # once, not per attempt: this is the largest buffer in play

    def run(attempt: _Attempt) -> int:
        size = _encode_once(raw, width, height, out, fps=fps, fmt=fmt, attempt=attempt, tags=tags)
        log.debug("encoded %s %s: %d bytes (limit %s)", fmt, attempt, size, max_bytes)
        return size

    first = _Attempt(width, height, 1.0)
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
                attempt = _Attempt(w, h, scale, colors=colors)
                size = run(attempt)
                if size <= max_bytes:
                    return attempt, size
                if size / (w * h) < smallest[0] / smallest[1]:
                    smallest = (size, w * h)
        raise _too_big(max_bytes)

    duration = n_frames / fps
    bitrate = max(MIN_BITRATE_BPS, int(max_bytes * 8 * SIZE_HEADROOM / duration))
    for i, (w, h, scale) in enumerate(sizes):
        is_last = i == len(sizes) - 1
        floor = MIN_BITRATE_BPS if is_last else max(MIN_BITRATE_BPS, MIN_BITS_PER_PIXEL * w * h * fps)
        previous: tuple[int, int] | None = None  # (bitrate, size) of the last try at this scale
        for _ in range(BITRATE_TRIES_PER_SCALE):
            if bitrate < floor:
                break
            attempt = _Attempt(w, h, scale, bitrate_bps=bitrate)
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
    raise _too_big(max_bytes)


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


def _too_big(max_bytes: int) -> EncodeError:
    return EncodeError(f"The clip could not be made smaller than {_human_bytes(max_bytes)}.")


def _human_bytes(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f} MB"
    if n >= 1_000:
        return f"{n / 1_000:.1f} KB"
    return f"{n} bytes"


# --- one ffmpeg run -----------------------------------------------------------------------


def _encode_once(
    raw: bytes,
    width: int,
    height: int,
    out: Path,
    *,
    fps: int,
    fmt: str,
    attempt: _Attempt,
    tags: dict[str, str],
) -> int:
    """Encode `raw` once with `attempt`'s settings into `out`; return the file size."""
    n_frames = len(raw) // (width * height * 3)
    cmd = [
        imageio_ffmpeg.get_ffmpeg_exe(),
        "-hide_banner",
        "-v",
        "error",
        "-y",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        "-s",
        f"{width}x{height}",
        "-r",
        str(fps),
        "-i",
        "-",
        "-an",
        *_codec_args(fmt, attempt, seconds=n_frames / fps),
    ]
    if fmt != "gif":
        for key, value in tags.items():
            cmd += ["-metadata", f"{key}={value}"]
    cmd += ["-f", fmt, str(out)]
    proc = _run(cmd, stdin=raw)
    if proc.returncode != 0:
        detail = _tail(proc.stderr)
        log.warning("ffmpeg failed to encode %s (%s): %s", out.name, attempt, detail)
        raise EncodeError("The clip could not be encoded.", detail=detail)
    if fmt == "gif" and tags:
        _gif_add_comment(out, _format_ffmetadata(tags))
    return out.stat().st_size


def _codec_args(fmt: str, attempt: _Attempt, *, seconds: float) -> list[str]:
    w, h = attempt.width, attempt.height
    if fmt == "gif":
        graph = (
            f"[0:v]scale=w={w}:h={h}:flags=area,split[a][b];"
            f"[a]palettegen=max_colors={attempt.colors}:stats_mode=full[p];"
            "[b][p]paletteuse=dither=bayer:bayer_scale=4:diff_mode=rectangle[out]"
        )
        return ["-filter_complex", graph, "-map", "[out]", "-loop", "0"]

    video_filter = (
        f"scale=w={w}:h={h}:flags=area:out_color_matrix=bt709:out_range=tv,format=yuv420p,"
        "setparams=colorspace=bt709:color_primaries=bt709:color_trc=bt709:range=tv"
    )
    args = ["-vf", video_filter, "-pix_fmt", "yuv420p"]
    if fmt == "mp4":
        args += ["-c:v", "libx264", "-preset", "medium"]
        quality = ["-crf", _X264_CRF]
        # use_metadata_tags: without it the mp4 muxer silently drops keys it has no atom for.
        args += ["-movflags", "+faststart+use_metadata_tags"]
    else:
        args += ["-c:v", "libvpx-vp9", "-deadline", "good", "-cpu-used", "4", "-row-mt", "1"]
        quality = ["-crf", _VP9_CRF, "-b:v", "0"]
    if attempt.bitrate_bps is not None:
        rate = str(attempt.bitrate_bps)
        # A rate buffer of half a second (or half the clip) keeps one-pass rate control close to
        # the target even on clips of a dozen frames, where plain ABR overshoots several-fold.
        buffer = str(max(1_000, int(attempt.bitrate_bps * min(1.0, seconds) / 2)))
        quality = ["-b:v", rate, "-maxrate", rate, "-bufsize", buffer]
        if fmt == "webm":
            quality += ["-minrate", rate]
    return args + quality


def _run(cmd: list[str], *, stdin: bytes | None) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(
            cmd,
            input=stdin,
            stdin=subprocess.DEVNULL if stdin is None else None,
            capture_output=True,
            timeout=FFMPEG_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:  # run() has already killed ffmpeg
        raise EncodeError(
            "Making the clip took too long and was stopped.", detail=_tail(exc.stderr or b"")
        ) from exc


def _tail(stderr: bytes, limit: int = 2000) -> str:
    return stderr.decode("utf-8", errors="replace")[-limit:].strip()


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


# --- metadata -----------------------------------------------------------------------------


def _clean_metadata(metadata: Mapping[str, str]) -> dict[str, str]:
    """Make every pair safe to pass to ffmpeg and to store; refuse keys that are a caller's bug.

    Keys are restricted to [a-z0-9_] (lower-cased), since containers treat case differently and
    ffmpeg splits `key=value` at the first '='. Values lose NUL and other control characters
    (newlines and tabs stay), unpaired surrogates become U+FFFD, and overlong values are cut.
    Empty values are dropped because `-metadata key=` means "delete key" to ffmpeg.
    """
    cleaned: dict[str, str] = {}
    for raw_key, raw_value in metadata.items():
        key = str(raw_key).lower()
        if not _KEY_RE.fullmatch(key):
            raise ValueError(f"metadata key {raw_key!r} must be 1-64 letters, digits or '_'")
        value = str(raw_value).replace("\r\n", "\n").replace("\r", "\n")
        value = value.encode("utf-8", errors="replace").decode("utf-8")
        value = "".join(ch for ch in value if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cs"))
        if len(value) > MAX_METADATA_CHARS:
            value = value[: MAX_METADATA_CHARS - 1] + "…"
        if value:
            cleaned[key] = value
    return cleaned


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
