"""`bench/gpu.py --smoke`: the published-size benchmark's code path, at shrunk sizes, on a CPU.

The real figures need a GPU; what CI can hold is that the script builds every preset's
architecture from its written-down config, renders through both the bare pipeline and the
engine, and applies First Block Cache where the model supports it. The published sizes are
checked by counting parameters on the meta device (no memory), against the model cards.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import child_env

ROOT = Path(__file__).resolve().parents[2]

# Billions of parameters in each denoiser, as the model cards name the models.
PUBLISHED_DENOISER_B = {"ltx-video": 1.9, "wan2.1-1.3b": 1.3, "cogvideox-2b": 1.7, "modelscope": 1.4}


@pytest.mark.parametrize("preset", sorted(PUBLISHED_DENOISER_B))
def test_published_architectures_have_the_model_cards_sizes(preset: str) -> None:
    import torch

    from engine.architectures import build_random_pipeline

    pipe = build_random_pipeline(preset, device="meta")
    model = getattr(pipe, "transformer", None) or pipe.unet
    billions = sum(p.numel() for p in model.parameters()) / 1e9
    assert billions == pytest.approx(PUBLISHED_DENOISER_B[preset], rel=0.12)
    assert all(p.device == torch.device("meta") for p in model.parameters())


def test_smoke_run_renders_every_preset_bare_and_through_the_engine(tmp_path: Path) -> None:
    out = tmp_path / "rows.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "gpu.py"), "--smoke", "--json", str(out)],
        cwd=tmp_path,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    rows = json.loads(out.read_text())
    seen = {(r["preset"], r["mode"]) for r in rows}
    for preset in PUBLISHED_DENOISER_B:
        for mode in ("bare", "engine", "fbc"):
            assert (preset, mode) in seen
    assert all(r["clip_s"] > 0 and r["peak_gib"] > 0 for r in rows)
    # First Block Cache exists for the transformer models; the UNet has no cache hooks.
    applied = {r["preset"]: r["applied"] for r in rows if r["mode"] == "fbc"}
    assert applied == {"ltx-video": True, "wan2.1-1.3b": True, "cogvideox-2b": True, "modelscope": False}
    assert "s/clip" in done.stdout
