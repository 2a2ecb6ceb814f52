"""What each real preset costs on this machine, measured without its weights.

Every preset's architecture is built at its published size with random weights
(`engine.architectures`; nothing is downloaded), then its default clip is rendered on the
fastest device present in four ways, side by side in one run:

* ``bare``: the diffusers pipeline called directly, as its model card shows;
* ``engine``: the same pipeline through `engine.render.Renderer` (progress, cancel checks,
  frame conversion) with the engine's options applied, so the engine's own cost is the ratio;
  (``bare`` and ``engine`` share one pipeline, so the ratio compares code paths, not builds)
* ``fbc``: the engine with First Block Cache (threshold 0.15);
* ``compile``: the engine with ``torch.compile`` (the first call, which compiles, is reported
  apart from the steady state).

It prints seconds per clip and peak memory per preset and mode. ``--smoke`` runs the same
code with shrunk architectures, a tiny clip and two steps, so CI on a CPU proves the script
works; its timings mean nothing.

Run: ``python bench/gpu.py`` (a GPU machine), ``python bench/gpu.py --smoke`` (anywhere),
``--presets ltx-video,wan2.1-1.3b``, ``--modes bare,engine``, ``--steps 10`` to fit a budget,
``--json results.json`` to keep the figures.
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

MODES = ("bare", "engine", "fbc", "compile")
PROMPT = "a red fox running through fresh snow, golden hour, cinematic"


def _device() -> str:
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def _reset_peak(device: str) -> None:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()


def _peak_gib(device: str) -> float:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() / 2**30
    # Linux reports the process' high-water mark in KiB; it never goes down, so on a CPU it is
    # the largest of this and every earlier mode.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def _request(preset: Any, smoke: bool, steps: int | None) -> Any:
    from engine.request import build_request

    if smoke:
        side = preset.size_multiple * 2
        return build_request(
            PROMPT, model=preset, frames=preset.min_frames, width=side, height=side, steps=2, seed=1
        )
    return build_request(PROMPT, model=preset, steps=steps, seed=1)


def _ignore(_step: int, _total: int) -> None:
    """The engine's progress hook, with nowhere to report to."""


def _never() -> bool:
    return False


def _bare_call(pipe: Any, preset: Any, request: Any) -> Any:
    """The pipeline as a model card calls it: no callbacks, no conversion of the frames."""
    import torch

    kwargs = dict(preset.call_kwargs)
    if preset.fps_kwarg:
        kwargs[preset.fps_kwarg] = request.fps
    with torch.inference_mode():
        return pipe(
            prompt=request.prompt,
            num_frames=request.frames,
            width=request.width,
            height=request.height,
            num_inference_steps=request.steps,
            guidance_scale=request.guidance,
            generator=torch.Generator(device="cpu").manual_seed(request.seed),
            output_type=preset.output_type,
            **kwargs,
        ).frames


def _timed(fn: Any, device: str, runs: int) -> tuple[float, list[float], float]:
    """First call (warm-up, and compilation where it applies), then the steady-state runs."""
    import torch

    _reset_peak(device)

    def once() -> float:
        started = time.perf_counter()
        fn()
        if device == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - started

    first = once()
    steady = [once() for _ in range(runs)]
    return first, steady, _peak_gib(device)


def measure(
    name: str, *, smoke: bool, modes: list[str], runs: int, steps: int | None
) -> list[dict[str, Any]]:
    import torch

    from engine.architectures import build_random_pipeline, parameter_count
    from engine.loader import apply_options, denoiser
    from engine.presets import get_preset
    from engine.render import Renderer
    from engine.settings import EngineSettings

    device = _device()
    preset = get_preset(name)
    dtype = getattr(torch, preset.dtype) if device != "cpu" else torch.float32
    started = time.perf_counter()
    pipe = build_random_pipeline(name, smoke=smoke, device=device, dtype=dtype)
    pipe.set_progress_bar_config(disable=True)
    built_s = time.perf_counter() - started
    params = parameter_count(pipe)
    request = _request(preset, smoke, steps)
    rows = []
    for mode in modes:
        settings = EngineSettings(
            _env_file=None,
            device=device,
            first_block_cache=0.15 if mode == "fbc" else 0.0,
            compile=mode == "compile",
        )
        if mode == "bare":
            pipe.to(device)
            fn = functools.partial(_bare_call, pipe, preset, request)
        else:
            apply_options(pipe, settings, torch.device(device))
            renderer = Renderer(settings, preset, pipe=pipe)
            fn = functools.partial(renderer.render, request, on_progress=_ignore, should_cancel=_never)
        model = denoiser(pipe)
        # An option a model lacks is skipped by the engine with a log line; say so in the table.
        applied = mode in ("bare", "engine") or (
            getattr(model, "is_cache_enabled", False)
            if mode == "fbc"
            else hasattr(model, "_compiled_call_impl")
            or any(getattr(m, "_compiled_call_impl", None) for m in model.modules())
        )
        first, steady, peak = _timed(fn, device, runs)
        if mode == "fbc" and applied:
            model.disable_cache()
        rows.append(
            {
                "preset": name,
                "mode": mode,
                "applied": bool(applied),
                "device": device,
                "dtype": str(dtype).removeprefix("torch."),
                "params_b": params / 1e9,
                "build_s": built_s,
                "frames": request.frames,
                "size": f"{request.width}x{request.height}",
                "steps": request.steps,
                "first_s": first,
                "clip_s": statistics.median(steady),
                "peak_gib": peak,
            }
        )
    pipe = None
    gc.collect()
    if device == "cuda":
        torch.cuda.empty_cache()
    return rows


def _params(billions: float) -> str:
    return f"{billions:.2f}B" if billions >= 0.1 else f"{billions * 1000:.2f}M"


def _print(rows: list[dict[str, Any]]) -> None:
    header = (
        f"{'preset':<13} {'mode':<11} {'device':<6} {'params':>8} {'clip':>14} {'first s':>8} {'s/clip':>8} "
    )
    print(header + f"{'vs bare':>8} {'peak GiB':>9}")
    bare = {r["preset"]: r["clip_s"] for r in rows if r["mode"] == "bare"}
    for r in rows:
        ratio = r["clip_s"] / bare[r["preset"]] if r["preset"] in bare else float("nan")
        clip = f"{r['frames']}f {r['size']} {r['steps']}st"
        mode = r["mode"] if r["applied"] else r["mode"] + "(n/a)"
        print(
            f"{r['preset']:<13} {mode:<11} {r['device']:<6} {_params(r['params_b']):>8} {clip:>14} "
            f"{r['first_s']:>8.2f} {r['clip_s']:>8.2f} {ratio:>8.2f} {r['peak_gib']:>9.2f}"
        )


def main(argv: list[str] | None = None) -> int:
    from engine.architectures import known

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="shrunk architectures and a tiny clip (CPU, CI)")
    # Zeroscope and LTX's condition preset share another preset's architecture: measured once.
    same = {"zeroscope", "ltx-video-i2v"}
    parser.add_argument("--presets", default=",".join(p for p in known() if p not in same))
    parser.add_argument(
        "--modes", default=None, help=f"default {','.join(MODES)}; without compile in --smoke"
    )
    parser.add_argument("--runs", type=int, default=1, help="steady-state runs after the first")
    parser.add_argument("--steps", type=int, default=None, help="override the presets' default steps")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    args = parser.parse_args(argv)
    if not args.smoke and _device() == "cpu":
        # Published sizes on a CPU would need ~20 GB for a text encoder and hours per clip.
        print("no GPU here: running --smoke (shrunk sizes; the timings mean nothing)", file=sys.stderr)
        args.smoke = True
    # Compiling takes minutes on a CPU for a model that renders in a fraction of a second, so a
    # smoke run leaves it out unless asked: CI proves the code path, not the speed-up.
    default = [m for m in MODES if m != "compile"] if args.smoke else list(MODES)
    modes = [m for m in args.modes.split(",") if m] if args.modes else default
    unknown = sorted(set(modes) - set(MODES))
    if unknown:
        parser.error(f"unknown modes {unknown}; choose from {', '.join(MODES)}")
    from engine.loader import quiet_libraries

    quiet_libraries()
    rows: list[dict[str, Any]] = []
    for name in [p for p in args.presets.split(",") if p]:
        rows += measure(name, smoke=args.smoke, modes=modes, runs=args.runs, steps=args.steps)
        print(f"# {name} done", file=sys.stderr, flush=True)
    _print(rows)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
