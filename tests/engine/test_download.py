"""`python -m engine download PRESET` as an owner runs it: a subprocess, the real huggingface_hub
client, a loopback fake of the hub's API (`tests/fakehub.py`) behind `HF_ENDPOINT`, real files.

The fake repo looks like a real one: the components model_index.json lists, plus what diffusers
never loads (a root-level single-file checkpoint, a `.bin` duplicate, an fp16 variant, a README).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakehub import FakeHub, ThreadedFakeHub
from tests.helpers import SmallDisk, child_env

REPO = "cerspense/zeroscope_v2_576w"  # the zeroscope preset's hub id
BIG = "unet/diffusion_pytorch_model.safetensors"
SMALL = "vae/diffusion_pytorch_model.safetensors"
INDEX = {"_class_name": "TextToVideoSDPipeline", "unet": ["diffusers", "UNet3DConditionModel"],
         "vae": ["diffusers", "AutoencoderKL"], "safety_checker": [None, None]}  # fmt: skip


def repo_files(big_bytes: int = 12 << 20) -> dict[str, bytes]:
    rng = os.urandom
    return {
        "model_index.json": json.dumps(INDEX).encode(),
        "unet/config.json": b'{"sample_size": 32}',
        BIG: rng(big_bytes),  # over the client's 10 MiB write chunk, so a cut leaves bytes written
        "unet/diffusion_pytorch_model.bin": rng(4000),
        "unet/diffusion_pytorch_model.fp16.safetensors": rng(3000),
        "vae/config.json": b'{"latent_channels": 4}',
        SMALL: rng(5000),
        "zeroscope_v2_576w.safetensors": rng(6000),
        "README.md": b"# a model card",
    }


WANTED = {"model_index.json", "unet/config.json", BIG, "vae/config.json", SMALL}


@pytest.fixture
def hub() -> Iterator[FakeHub]:
    with ThreadedFakeHub() as fake:
        yield fake


def run_download(
    hub: FakeHub, tmp_path: Path, models_dir: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = child_env(
        HF_ENDPOINT=hub.url,
        HF_HOME=str(tmp_path / "hf-home"),  # no token or cache of the developer's
        HF_HUB_OFFLINE="0",
        PROMPTREEL_DATA_DIR=str(tmp_path / "data"),
        **({"PROMPTREEL_MODELS_DIR": str(models_dir)} if models_dir else {}),
    )
    return subprocess.run(
        [sys.executable, "-m", "engine", "download", "zeroscope"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip


def files_in(folder: Path) -> dict[str, bytes]:
    """Every file of the model folder, without the hub client's own metadata under .cache/."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in folder.rglob("*")
        if p.is_file() and ".cache" not in p.relative_to(folder).parts
    }


def test_download_fetches_what_diffusers_loads_into_the_models_folder(hub: FakeHub, tmp_path: Path) -> None:
    files = repo_files()
    hub.add_repo(REPO, files)
    proc = run_download(hub, tmp_path)
    assert proc.returncode == 0, proc.stderr
    folder = tmp_path / "data" / "models" / "zeroscope"
    assert proc.stdout.strip() == str(folder)
    assert files_in(folder) == {path: files[path] for path in WANTED}
    assert "100%" in proc.stderr  # the hub client's progress bar ran to the end
    # Nothing diffusers would not load went over the wire.
    fetched = {r.path.split("/resolve/", 1)[1].split("/", 1)[1] for r in hub.requests if r.method == "GET"
               and "/resolve/" in r.path}  # fmt: skip
    assert fetched == WANTED


def test_a_connection_cut_partway_is_resumed_with_a_range_request(hub: FakeHub, tmp_path: Path) -> None:
    files = repo_files()
    hub.add_repo(REPO, files)
    cut = 11 << 20
    hub.cut_after(BIG, cut)
    proc = run_download(hub, tmp_path)
    assert proc.returncode == 0, proc.stderr
    first, second = hub.gets(BIG)
    assert first.range is None and first.sent == cut
    assert second.range is not None and second.range.startswith("bytes=")
    resumed_at = int(second.range[len("bytes=") :].split("-")[0])
    assert 0 < resumed_at <= cut
    assert second.sent == len(files[BIG]) - resumed_at  # only the rest came again
    assert (tmp_path / "data" / "models" / "zeroscope" / BIG).read_bytes() == files[BIG]


def test_a_stopped_download_keeps_finished_files_and_the_next_run_fetches_the_rest(
    hub: FakeHub, tmp_path: Path
) -> None:
    files = repo_files()
    hub.add_repo(REPO, files)
    hub.cut_after(BIG, 11 << 20, then_fail=True)
    stopped = run_download(hub, tmp_path)
    assert stopped.returncode == 1
    line = stopped.stderr.strip().splitlines()[-1]
    assert line.startswith("error: ") and "run the same command again" in line
    folder = tmp_path / "data" / "models" / "zeroscope"
    # Not a model yet: the loader looks for model_index.json, and it must not find one.
    assert not (folder / "model_index.json").exists()
    assert (folder / SMALL).read_bytes() == files[SMALL]

    hub.heal()
    again = run_download(hub, tmp_path)
    assert again.returncode == 0, again.stderr
    assert files_in(folder) == {path: files[path] for path in WANTED}
    assert len(hub.gets(SMALL)) == 1  # the finished file was not fetched twice


def test_not_enough_disk_is_said_before_any_weights_are_fetched(hub: FakeHub, tmp_path: Path) -> None:
    hub.add_repo(REPO, repo_files(big_bytes=2 << 20))
    disk = SmallDisk(tmp_path / "small", size_kib=1024)  # 1 MiB of real disk for 2 MiB of weights
    try:
        proc = run_download(hub, tmp_path, models_dir=disk.path)
    finally:
        disk.close()
    assert proc.returncode == 1, proc.stderr
    summary, line = proc.stderr.strip().splitlines()  # what it would fetch, then why it will not
    assert "2.0 MiB still to fetch" in summary
    assert line.startswith("error: Not enough disk") and "MiB" in line
    assert hub.gets(BIG) == [] and hub.gets(SMALL) == []


def test_a_repo_the_hub_does_not_have_is_one_line(hub: FakeHub, tmp_path: Path) -> None:
    proc = run_download(hub, tmp_path)  # the fake has no repos at all
    assert proc.returncode == 1
    [line] = proc.stderr.strip().splitlines()
    assert REPO in line and "no repository" in line
