"""What content credentials cost, and how well fingerprints survive re-encoding.

    python bench/credentials.py [--rounds 10] [--frames 48] [--width 512] [--height 320]

1. Signing against encoding, side by side: each round encodes the same frames to an MP4
   (`encode_clip`, the worker's call) and signs that file (`sign_clip`), alternating which goes
   first; the figure is the median of the per-round ratios sign / encode. Fingerprinting the
   clip (an ffmpeg decode of every frame at 32x32 grey) is timed the same way.
2. Fingerprint distances (mean bits of 64 over the 8 samples, and the nearest sample, which
   decides whether the banded look-up finds it) between the clip and copies re-encoded the way
   social networks do, and against a different clip.

The frames are synthetic (a grainy gradient with a moving square), not a model's: the costs
measured are the encoder's, c2pa's and ffmpeg's, which do not care where pixels came from.
The credentials are a fresh local authority, as `python -m engine credentials init` makes.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import imageio_ffmpeg
import numpy as np

from engine.credentials import ClipFacts, load_signing, make_authority, sign_clip
from engine.credentials.fingerprint import fingerprint_file
from engine.encode import encode_clip
from engine.settings import EngineSettings

COPIES = (
    ("half size, CRF 32", ["-vf", "scale=trunc(iw/4)*2:trunc(ih/4)*2", "-c:v", "libx264", "-crf", "32"]),
    ("quarter size, CRF 38", ["-vf", "scale=trunc(iw/8)*2:trunc(ih/8)*2", "-c:v", "libx264", "-crf", "38"]),
    ("same size, CRF 28, 12 fps", ["-r", "12", "-c:v", "libx264", "-crf", "28"]),
    ("VP9 WebM, CRF 45", ["-c:v", "libvpx-vp9", "-crf", "45", "-b:v", "0"]),
)


def frames(count: int, height: int, width: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = rng.integers(0, 255, 3)
    video = np.empty((count, height, width, 3), np.uint8)
    side = max(8, min(height, width) // 5)
    for f in range(count):
        video[f] = np.stack(
            [(x * 255 // width + base[0] + 3 * f) % 256, (y * 255 // height + base[1]) % 256,
             np.full_like(x, base[2])], -1,
        )  # fmt: skip
        top, left = (5 * f + seed * 17) % (height - side), (7 * f + seed * 31) % (width - side)
        video[f, top : top + side, left : left + side] = 255
    grain = rng.integers(-30, 30, video.shape)
    return np.clip(video.astype(np.int16) + grain, 0, 255).astype(np.uint8)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--frames", type=int, default=48)
    p.add_argument("--width", type=int, default=512)
    p.add_argument("--height", type=int, default=320)
    p.add_argument("--fps", type=int, default=24)
    args = p.parse_args()

    with tempfile.TemporaryDirectory(prefix="promptreel-bench-") as folder:
        root = Path(folder)
        made = make_authority(root / "creds")
        signing = load_signing(EngineSettings(c2pa_cert=made.cert, c2pa_key=made.key, data_dir=root))
        assert signing is not None, "the fresh authority was refused"
        facts = ClipFacts(preset="bench", seed=1, steps=30, bot="Promptreel")
        video = frames(args.frames, args.height, args.width, seed=1)
        clip = root / "clip.mp4"

        encode_s, sign_s, print_s, ratios = [], [], [], []
        for r in range(args.rounds + 1):
            steps = ["encode", "sign"] if r % 2 == 0 else ["sign", "encode"]
            took = {}
            for step in steps:
                if step == "sign" and not clip.exists():
                    encode_clip(video, clip, fps=args.fps)
                started = time.perf_counter()
                if step == "encode":
                    encode_clip(video, root / "again.mp4", fps=args.fps)
                else:
                    sign_clip(clip, signing, facts)
                    clip.unlink()
                took[step] = time.perf_counter() - started
            started = time.perf_counter()
            fingerprint_file(root / "again.mp4")
            took["print"] = time.perf_counter() - started
            if r == 0:
                continue  # warm-up: first ffmpeg start, c2pa's first load
            encode_s.append(took["encode"])
            sign_s.append(took["sign"])
            print_s.append(took["print"])
            ratios.append(took["sign"] / took["encode"])

        signed = root / "signed.mp4"
        encode_clip(video, signed, fps=args.fps)
        unsigned_size = signed.stat().st_size
        signed_size = sign_clip(signed, signing, facts)

        ms = lambda xs: f"{statistics.median(xs) * 1000:.1f} ms"  # noqa: E731
        print(
            f"clip: {args.frames} frames {args.width}x{args.height} @ {args.fps} fps, {unsigned_size} bytes"
        )
        print(f"encode (median)      {ms(encode_s)}")
        added = signed_size - unsigned_size
        print(f"sign (median)        {ms(sign_s)}  (+{added} bytes; room kept {signing.room})")
        print(
            f"sign / encode        {statistics.median(ratios):.3f}  (median of {len(ratios)} paired rounds)"
        )
        print(f"fingerprint (median) {ms(print_s)}")

        original = fingerprint_file(signed)
        print("fingerprint distance to the signed clip (mean of 8 samples / nearest sample, of 64 bits):")
        for name, codec in COPIES:
            copy = root / ("copy.webm" if "VP9" in name else "copy.mp4")
            subprocess.run(
                [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-i", str(signed), *codec,
                 "-map_metadata", "-1", str(copy)],
                check=True, capture_output=True,
            )  # fmt: skip
            show(name, original, fingerprint_file(copy))
        other = root / "other.mp4"
        encode_clip(frames(args.frames, args.height, args.width, seed=2), other, fps=args.fps)
        show("a different clip", original, fingerprint_file(other))
    return 0


def show(name: str, a: list[int], b: list[int]) -> None:
    bits = [(x ^ y).bit_count() for x, y in zip(a, b, strict=True)]
    print(f"  {name:<28} {sum(bits) / len(bits):5.1f} / {min(bits)}")


if __name__ == "__main__":
    sys.exit(main())
