"""`python -m engine check PRESET` as an owner runs it, on this CPU-only machine and for a GPU given
with --gpu-memory. Figures expected here are the model cards' (Zeroscope: 7.9 GB for 30 frames at
576x320), not read from our presets."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.helpers import child_env


def run_check(tmp_path: Path, models_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = child_env(PROMPTREEL_DATA_DIR=str(tmp_path / "data"), PROMPTREEL_MODELS_DIR=str(models_dir),
                    CUDA_VISIBLE_DEVICES="")  # fmt: skip
    return subprocess.run(
        [sys.executable, "-m", "engine", "check", *args],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip


def test_tiny_on_a_cpu_only_machine_says_so_and_measures_the_weights(
    tmp_path: Path, tiny_models_dir: Path
) -> None:
    proc = run_check(tmp_path, tiny_models_dir, "tiny")
    assert proc.returncode == 0, proc.stderr  # the tiny model is made for CPUs
    out = proc.stdout
    assert "No CUDA GPU on this machine" in out
    weights = sum(p.stat().st_size for p in (tiny_models_dir / "tiny").rglob("*.safetensors"))
    assert f"weights on disk: {weights / 2**20:.1f} MiB" in out


def test_a_real_model_on_a_cpu_only_machine_does_not_pass(tmp_path: Path, tiny_models_dir: Path) -> None:
    proc = run_check(tmp_path, tiny_models_dir, "zeroscope")
    assert proc.returncode == 1
    assert "No CUDA GPU on this machine" in proc.stdout
    assert "python -m engine download zeroscope" in proc.stdout  # not downloaded yet, and how to


def option_lines(out: str) -> dict[str, str]:
    return {line.split()[0]: line for line in out.splitlines() if line.startswith("  ")}


def test_a_given_gpu_is_checked_against_the_published_figures(tmp_path: Path, tiny_models_dir: Path) -> None:
    roomy = run_check(tmp_path, tiny_models_dir, "zeroscope", "--gpu-memory", "10")
    assert roomy.returncode == 0, roomy.stdout
    lines = option_lines(roomy.stdout)
    assert "fits" in lines["none"] and "NOT" not in lines["none"] and "7.9" in lines["none"]
    assert "unknown" in lines["cpu_offload"]  # nobody published one: said, not guessed

    small = run_check(tmp_path, tiny_models_dir, "zeroscope", "--gpu-memory", "6")
    assert small.returncode == 1
    assert "does NOT fit" in option_lines(small.stdout)["none"]


def test_tiny_fits_any_gpu(tmp_path: Path, tiny_models_dir: Path) -> None:
    proc = run_check(tmp_path, tiny_models_dir, "tiny", "--gpu-memory", "1")
    assert proc.returncode == 0, proc.stdout
    assert "fits" in option_lines(proc.stdout)["none"]


def test_bad_arguments_exit_2_with_one_line(tmp_path: Path, tiny_models_dir: Path) -> None:
    for args in (["nope"], ["tiny", "--gpu-memory", "0"]):
        proc = run_check(tmp_path, tiny_models_dir, *args)
        assert proc.returncode == 2, args
        assert len(proc.stderr.strip().splitlines()) == 1
