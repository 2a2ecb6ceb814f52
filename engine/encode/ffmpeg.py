"""Running the ffmpeg binary: one encode with given settings, and reading a clip's tags back.

Everything goes through the ffmpeg binary that imageio-ffmpeg ships, so a worker needs no system
ffmpeg (and gets no ffprobe, which is why metadata is read back through ffmpeg's ffmetadata
muxer). Frames reach ffmpeg as raw RGB on stdin and every argument is passed as a list, never
through a shell, so nothing a user typed into a prompt can change the command.

Choices worth knowing about:

* MP4 is H.264 + yuv420p + faststart, and WebM is VP9 + yuv420p, because those are what Discord
  and browsers preview inline (yuv420p needs even sides; `engine.encode.clip` pads to them).
* RGB is converted with the BT.709 matrix and the stream is tagged so; untagged streams are
  decoded with different matrices by different players, which shifts colours.
* GIF goes through ffmpeg's palettegen/paletteuse (one palette per clip, ordered dither), which
  beats a fixed palette by far and keeps animated noise small. GIF has no key/value metadata, so
  the metadata is stored as one GIF comment in ffmetadata syntax, which `read_metadata` parses.
"""

from __future__ import annotations

import logging
import subprocess
from dataclasses import dataclass
from pathlib import Path

import imageio_ffmpeg

from engine.encode.errors import EncodeError
from engine.encode.metadata import format_ffmetadata, gif_add_comment, parse_ffmetadata, read_gif_metadata
from engine.storage import machine_error_in

log = logging.getLogger(__name__)

# An encode that runs this long is stuck, not slow; the worker thread must get its slot back.
FFMPEG_TIMEOUT_S = 600.0

_X264_CRF = "23"
_VP9_CRF = "32"


@dataclass(frozen=True)
class Attempt:
    """One ffmpeg run of the fitting ladder, so the winning settings can be reported."""

    width: int
    height: int
    scale: float
    bitrate_bps: int | None = None
    colors: int = 256


def encode_once(
    raw: bytes,
    width: int,
    height: int,
    out: Path,
    *,
    fps: int,
    fmt: str,
    attempt: Attempt,
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
        # A disk that is full or will not take the file is the machine's fault, which the caller
        # reports once (a worker retries until it clears); only the clip's own failures warn here.
        level = logging.DEBUG if machine_error_in(detail) is not None else logging.WARNING
        log.log(level, "ffmpeg failed to encode %s (%s): %s", out.name, attempt, detail)
        raise EncodeError("The clip could not be encoded.", detail=detail)
    if fmt == "gif" and tags:
        gif_add_comment(out, format_ffmetadata(tags))
    return out.stat().st_size


def _codec_args(fmt: str, attempt: Attempt, *, seconds: float) -> list[str]:
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


def read_metadata(path: Path) -> dict[str, str]:
    """Return the container-level metadata of a clip, keys lower-cased.

    Keys come back lower-cased because Matroska/WebM stores custom tags upper-case. Besides what
    `encode_clip` wrote, an MP4 also reports its brand fields (`major_brand`, ...).
    """
    path = Path(path)
    with path.open("rb") as fh:
        magic = fh.read(6)
    if magic in (b"GIF87a", b"GIF89a"):
        return read_gif_metadata(path.read_bytes())
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
    return parse_ffmetadata(proc.stdout.decode("utf-8", errors="replace"))
