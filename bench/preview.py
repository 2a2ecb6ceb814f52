"""What a live preview costs against a denoising step, per preset, side by side in one run.

For the two tiny presets (their own models) and each real preset's wiring (a tiny random
pipeline of its diffusers class, `tests/engine/tiny_components.py`), it renders a clip several
times and takes the measurement a worker makes once (`engine.preview.Previews.make`): the second
of two decodes of one preview against one step, with the worker's default bound (a preview may
cost one step). It prints the medians and whether a worker would keep previews on.

On the tiny models these figures only say that the code path works and how the two costs
compare at toy sizes; a real model's step grows with frames and pixels much faster than a
one-frame decode does. Run: ``python bench/preview.py`` (``--repeats 7``, ``--presets tiny,wan2.1-1.3b``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# Each preset's clip here: (frames, width, height); the tiny presets at their defaults.
SIZES = {
    "tiny": (8, 64, 64),
    "tiny-i2v": (9, 128, 96),
    "ltx-video": (9, 128, 64),
    "ltx-video-i2v": (9, 128, 64),
    "wan2.1-1.3b": (9, 64, 32),
    "cogvideox-2b": (9, 64, 32),
    "modelscope": (8, 64, 32),
    "zeroscope": (8, 64, 32),
}


def _renderer(name: str, data: Path) -> Any:
    from engine.presets import get_preset
    from engine.render import Renderer
    from engine.settings import EngineSettings

    settings = EngineSettings(_env_file=None, data_dir=data, device="cpu", dtype="float32")  # type: ignore[call-arg]
    preset = get_preset(name)
    if preset.source.startswith("builtin:"):
        return Renderer(settings, preset)
    from tests.engine.tiny_components import build_tiny

    return Renderer(settings, preset, pipe=build_tiny(preset.pipeline_class))


def measure(name: str, repeats: int, data: Path) -> dict[str, Any]:
    from engine.preview import Previews
    from engine.request import build_request

    renderer = _renderer(name, data)
    renderer.pipe.set_progress_bar_config(disable=True)
    frames, width, height = SIZES[name]
    steps, previews = [], []
    for seed in range(repeats + 1):
        schedule = Previews(every_steps=1, min_seconds=0.0, max_side=256, max_cost=1.0)
        request = build_request("a red fox in snow", model=name, frames=frames, width=width, height=height,
                                steps=3, seed=seed)  # fmt: skip
        renderer.render(request, previews=schedule, on_preview=lambda *_: None)
        if seed == 0:
            continue  # the first render of a fresh pipeline warms it up
        steps.append(schedule.step_seconds or 0.0)
        previews.append(schedule.preview_seconds or 0.0)
    step_ms, preview_ms = statistics.median(steps) * 1000, statistics.median(previews) * 1000
    return {
        "preset": name,
        "pipeline": type(renderer.pipe).__name__,
        "clip": f"{frames}x{width}x{height}",
        "step_ms": step_ms,
        "preview_ms": preview_ms,
        "previews": "on" if preview_ms <= step_ms else "off",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default=",".join(SIZES))
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    print(f"{'preset':<14} {'pipeline':<22} {'clip FxWxH':<11} {'step ms':>8} {'preview ms':>10}  previews")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.presets.split(","):
            row = measure(name, args.repeats, Path(tmp))
            print(f"{row['preset']:<14} {row['pipeline']:<22} {row['clip']:<11} {row['step_ms']:>8.1f} "
                  f"{row['preview_ms']:>10.1f}  {row['previews']}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
