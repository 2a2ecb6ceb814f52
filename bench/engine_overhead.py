"""How much does our engine cost on top of a bare diffusers call, and what does batching buy?

    python bench/engine_overhead.py [--rounds 30] [--threads 1] [--width 128 ...]

Two measurements on the same warm tiny pipeline (random weights, real diffusers classes):

1. `Renderer.render(request)` against a bare `pipe(...)` call with the same parameters and seed,
   on the very same pipeline object (`renderer.pipe`). Calls are interleaved A/B, with the order
   flipped every round, so drift in machine load hits both sides alike; the figure is the median
   of the per-round ratios. Goal: engine/bare <= 1.03.
2. One batch of 4 requests in a single `render` call against the same 4 rendered one by one,
   interleaved the same way; the figure is batch throughput / sequential throughput.

Torch runs on one thread by default: the tiny model's ops are too small for intra-op threads to
help, and on a machine whose cores are busy with anything else their spin-waiting makes timings
swing several-fold. Pass --threads 0 to keep torch's default.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engine.render import Renderer, to_uint8
from engine.request import RenderRequest, build_request
from engine.settings import EngineSettings

PROMPTS = [
    "a corgi surfing a wave at sunset",
    "a paper boat drifting down a rainy street",
    "fireworks over a mountain lake",
    "a cat astronaut floating past the moon",
]


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=30, help="timed A/B rounds for engine vs bare")
    p.add_argument("--batch-rounds", type=int, default=6, help="timed rounds for batch vs sequential")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--width", type=int, default=96)
    p.add_argument("--height", type=int, default=96)
    p.add_argument("--steps", type=int, default=4)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads; 0 keeps the default")
    p.add_argument("--device", default="cpu")
    p.add_argument("--models-dir", type=Path, default=None, help="reuse a saved tiny model (default: temp)")
    return p.parse_args()


def request(args: argparse.Namespace, seed: int, prompt: str = PROMPTS[0]) -> RenderRequest:
    return build_request(
        prompt,
        model="tiny",
        frames=args.frames,
        width=args.width,
        height=args.height,
        steps=args.steps,
        seed=seed,
    )


def bare_call(pipe: Any, r: RenderRequest) -> np.ndarray:
    """What a script using diffusers directly would write."""
    output = pipe(
        prompt=r.prompt,
        num_frames=r.frames,
        width=r.width,
        height=r.height,
        num_inference_steps=r.steps,
        guidance_scale=r.guidance,
        generator=torch.Generator().manual_seed(r.seed),
        output_type="np",
    )
    return output.frames[0]


def timed(fn: Any) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def interleaved(a: Any, b: Any, rounds: int, warmup: int, seed_base: int) -> tuple[list[float], list[float]]:
    """Time a(seed) and b(seed) alternately, flipping who goes first each round."""
    for i in range(warmup):
        a(seed_base - 1 - i)
        b(seed_base - 1 - i)
    times_a: list[float] = []
    times_b: list[float] = []
    for i in range(rounds):
        seed = seed_base + i
        if i % 2 == 0:
            times_a.append(timed(lambda s=seed: a(s)))
            times_b.append(timed(lambda s=seed: b(s)))
        else:
            times_b.append(timed(lambda s=seed: b(s)))
            times_a.append(timed(lambda s=seed: a(s)))
    return times_a, times_b


def quartiles(values: list[float]) -> tuple[float, float, float]:
    q1, q2, q3 = statistics.quantiles(values, n=4)
    return q1, q2, q3


def main() -> int:
    args = parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    bench_started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="promptreel-bench-") as tmp:
        settings = EngineSettings(
            _env_file=None,
            data_dir=Path(tmp),
            models_dir=args.models_dir,
            model="tiny",
            device=args.device,
        )
        load_started = time.perf_counter()
        renderer = Renderer(settings, "tiny")
        pipe = renderer.pipe
        print(
            f"setup: tiny pipeline ready in {time.perf_counter() - load_started:.1f}s; "
            f"{args.frames} frames {args.width}x{args.height}, {args.steps} steps, "
            f"guidance {request(args, 0).guidance:g}; torch threads {torch.get_num_threads()}; "
            f"device {args.device}"
        )

        # Same work on both sides, or the comparison means nothing.
        check = request(args, 123)
        [mine] = renderer.render(check)
        bare = to_uint8(bare_call(pipe, check))
        diff = int(np.abs(mine.frames.astype(np.int16) - bare.astype(np.int16)).max())
        print(f"same output as the bare call: {'yes' if diff == 0 else 'NO'} (max abs diff {diff})")

        # 1. engine vs bare, one request per call.
        engine_times, bare_times = interleaved(
            lambda s: renderer.render(request(args, s)),
            lambda s: bare_call(pipe, request(args, s)),
            args.rounds,
            args.warmup,
            seed_base=1000,
        )
        ratios = [e / b for e, b in zip(engine_times, bare_times, strict=True)]
        q1, med, q3 = quartiles(ratios)
        print(
            f"engine call: median {statistics.median(engine_times):.3f}s, "
            f"bare call: median {statistics.median(bare_times):.3f}s ({args.rounds} interleaved rounds)"
        )
        verdict = "ok" if med <= 1.03 else "OVER GOAL"
        print(f"engine/bare median ratio: {med:.3f} (goal <= 1.03; IQR {q1:.3f}-{q3:.3f}) {verdict}")

        # 2. one batched call vs the same requests one at a time.
        def batch_of(seed: int) -> list[RenderRequest]:
            return [request(args, seed * 10 + i, PROMPTS[i % len(PROMPTS)]) for i in range(args.batch)]

        def sequential(seed: int) -> None:
            for r in batch_of(seed):
                renderer.render(r)

        batch_times, seq_times = interleaved(
            lambda s: renderer.render(batch_of(s)),
            sequential,
            args.batch_rounds,
            1,
            seed_base=5000,
        )
        # Throughput is requests per second; both sides render the same number of requests.
        gains = [s / b for b, s in zip(batch_times, seq_times, strict=True)]
        g1, gmed, g3 = quartiles(gains)
        print(
            f"batch of {args.batch}: median {statistics.median(batch_times):.3f}s, "
            f"{args.batch} sequential: median {statistics.median(seq_times):.3f}s "
            f"({args.batch_rounds} interleaved rounds)"
        )
        print(
            f"batch/sequential throughput ratio: {gmed:.2f} (IQR {g1:.2f}-{g3:.2f}; > 1 means batching helps)"
        )
    print(f"total bench time: {time.perf_counter() - bench_started:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
