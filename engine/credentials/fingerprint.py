"""Perceptual fingerprints of clips: what still says "made by this bot" once credentials are gone.

Social networks re-encode every upload and drop its C2PA boxes, so the journal keeps a
fingerprint of each delivered clip: the perceptual hash (pHash) of a few frames sampled at fixed
fractions of the clip. Each frame is shrunk to 32x32 grey by ffmpeg (area averaging), its 2-D DCT
taken, and the 8x8 lowest frequencies compared with their median: 64 bits that change little
under scaling, recompression and colour shifts, because those leave the coarse structure alone.
Sampling by fraction rather than by frame number keeps the samples aligned when a copy has lost
or gained a few frames. Two clips are compared by the mean Hamming distance of their samples.
"""

from __future__ import annotations

import subprocess
from functools import cache
from pathlib import Path

import imageio_ffmpeg
import numpy as np

SAMPLES = 8
SIDE = 32
LOW = 8  # the LOW x LOW lowest frequencies make the 64 bits
# Mean bits (of 64) two samples may differ by and still be the same clip. Unrelated clips differ
# by about 32 (26 for two seeds of one prompt on the tiny model); a copy at half the size and a
# much higher CRF by about 13 on the tiny model's low-contrast frames, less on real footage.
MATCH_DISTANCE = 16
DECODE_TIMEOUT_S = 120.0


class FingerprintError(RuntimeError):
    """The file could not be decoded as a video."""


def fingerprint_file(path: Path) -> list[int]:
    """`SAMPLES` 64-bit frame hashes of the video at `path`, in clip order."""
    cmd = [
        imageio_ffmpeg.get_ffmpeg_exe(),
        "-nostdin",
        "-v",
        "error",
        "-i",
        str(path),
        "-an",
        "-vf",
        f"scale={SIDE}:{SIDE}:flags=area,format=gray",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "gray",
        "-",
    ]
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=DECODE_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired as exc:
        raise FingerprintError("decoding took too long") from exc
    frames = np.frombuffer(proc.stdout, np.uint8)
    if proc.returncode != 0 or frames.size < SIDE * SIDE:
        raise FingerprintError(proc.stderr.decode("utf-8", "replace").strip()[-300:] or "no frames")
    return fingerprint_frames(frames[: frames.size - frames.size % (SIDE * SIDE)].reshape(-1, SIDE, SIDE))


def fingerprint_frames(frames: np.ndarray) -> list[int]:
    """Hashes of `SAMPLES` frames of (F, SIDE, SIDE) grey frames, taken at (i + 0.5) / SAMPLES."""
    count = frames.shape[0]
    picks = [min(count - 1, int((i + 0.5) * count / SAMPLES)) for i in range(SAMPLES)]
    return [phash(frames[i]) for i in picks]


def phash(frame: np.ndarray) -> int:
    """64 bits: which of the 8x8 lowest DCT frequencies of a 32x32 grey frame exceed their median."""
    dct = _dct_matrix()
    coeffs = dct @ frame.astype(np.float64) @ dct.T
    low = coeffs[:LOW, :LOW].flatten()
    # The DC term only says how bright the frame is; left out of the median, it cannot shift it.
    bits = low > np.median(low[1:])
    return int(sum(1 << i for i, bit in enumerate(bits) if bit))


def distance(a: list[int], b: list[int]) -> float:
    """Mean Hamming distance of the samples two fingerprints share."""
    n = min(len(a), len(b))
    if n == 0:
        return 64.0
    return sum((x ^ y).bit_count() for x, y in zip(a[:n], b[:n], strict=True)) / n


@cache
def _dct_matrix() -> np.ndarray:
    """The orthonormal DCT-II matrix for SIDE samples (numpy has no DCT of its own)."""
    k = np.arange(SIDE)[:, None]
    n = np.arange(SIDE)[None, :]
    m = np.cos(np.pi * (2 * n + 1) * k / (2 * SIDE)) * np.sqrt(2 / SIDE)
    m[0] /= np.sqrt(2)
    return m
