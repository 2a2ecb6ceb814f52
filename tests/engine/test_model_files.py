"""Model files on disk: the tiny model is saved with the usual permissions, and weights that
are there but cannot be read are reported as that (naming the file), not as missing weights."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.tiny import ensure_tiny_model
from tests.helpers import child_env


@pytest.fixture
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    before = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(before)


@pytest.mark.parametrize("umask", [0o022, 0o027], indirect=True, ids=["umask-022", "umask-027"])
def test_the_tiny_model_is_saved_with_the_usual_permissions(tmp_path: Path, umask: int) -> None:
    folder = ensure_tiny_model(tmp_path / "models" / "tiny")
    modes = {p.relative_to(folder): stat.S_IMODE(p.stat().st_mode) for p in [folder, *folder.rglob("*")]}
    weights = [p for p in modes if p.suffix == ".safetensors"]
    assert weights, sorted(modes)  # the files a user of another account needs to read
    for path, mode in modes.items():
        usual = 0o777 & ~umask if (folder / path).is_dir() else 0o666 & ~umask
        assert mode == usual, f"{path}: {oct(mode)}, not {oct(usual)} as umask {oct(umask)} gives"


def _without_root_privileges(cmd: list[str]) -> list[str]:
    """As root, drop the capabilities that ignore file permissions, so a mode-000 file is unreadable."""
    if os.geteuid() != 0:
        return cmd
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("root reads every file; dropping that needs setpriv")
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search", *cmd]


def test_unreadable_weights_are_reported_as_a_permission_problem(
    tiny_models_dir: Path, tmp_path: Path
) -> None:
    models = tmp_path / "models"
    shutil.copytree(tiny_models_dir / "tiny", models / "tiny")
    [weights] = (models / "tiny" / "unet").glob("*.safetensors")
    weights.chmod(0)
    cmd = [sys.executable, "-m", "engine", "render", "a heron", "--frames", "2", "--steps", "1",
           "--width", "16", "--height", "16", "--out", str(tmp_path / "clip.mp4")]  # fmt: skip
    env = child_env(PROMPTREEL_MODELS_DIR=str(models), PROMPTREEL_OFFLINE="true", PROMPTREEL_DEVICE="cpu")
    proc = subprocess.run(
        _without_root_privileges(cmd), env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    [line] = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert "permission denied" in line.lower() and str(weights) in line, line
    assert "not on this machine" not in line  # fetching the weights again would not help
    assert not (tmp_path / "clip.mp4").exists()
