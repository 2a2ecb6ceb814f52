"""The Docker files: a static check that compose.yaml parses and everything it and the Dockerfile
name exists in this checkout; `docker build` itself only where a Docker daemon answers."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from engine.__main__ import build_parser

REPO = Path(__file__).resolve().parent.parent


def compose() -> dict:  # type: ignore[type-arg]
    return yaml.safe_load((REPO / "compose.yaml").read_text(encoding="utf-8"))


def test_compose_has_the_bot_redis_and_a_gpu_worker() -> None:
    services = compose()["services"]
    assert {"bot", "redis", "worker"} <= set(services)
    worker = services["worker"]
    assert worker["runtime"] == "nvidia"
    [device] = worker["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia" and "gpu" in device["capabilities"]
    # The bot only chats: a second renderer in its process would compete for the GPU.
    assert services["bot"]["environment"]["PROMPTREEL_IN_PROCESS_WORKER"] == "false"


def test_compose_keeps_journal_clips_and_models_on_volumes_where_the_image_looks() -> None:
    doc = compose()
    dockerfile = (REPO / "Dockerfile").read_text(encoding="utf-8")
    env = dict(re.findall(r"(PROMPTREEL_\w+_DIR)=(\S+)", dockerfile))
    assert env == {
        "PROMPTREEL_DATA_DIR": "/data",
        "PROMPTREEL_CLIPS_DIR": "/clips",
        "PROMPTREEL_MODELS_DIR": "/models",
    }
    mounts = {m.split(":")[1]: m.split(":")[0] for m in doc["services"]["bot"]["volumes"]}
    assert mounts == {"/data": "journal", "/clips": "clips", "/models": "models"}
    for service in ("bot", "worker"):
        for mount in doc["services"][service]["volumes"]:
            assert mount.split(":")[0] in doc["volumes"], mount
    # The worker writes clips the bot posts, into the same volume.
    assert "clips:/clips" in doc["services"]["worker"]["volumes"]


def test_everything_the_docker_files_name_exists() -> None:
    doc = compose()
    for name, service in doc["services"].items():
        if "build" in service:
            assert (REPO / service["build"] / "Dockerfile").is_file(), name
            assert service["env_file"] == ".env"
    assert (REPO / ".env.example").is_file()  # what `.env` is copied from, as the compose file says
    dockerfile = (REPO / "Dockerfile").read_text(encoding="utf-8")
    for line in dockerfile.splitlines():
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (REPO / source).exists(), line
    # The commands run modules and subcommands that exist.
    assert (REPO / "bot" / "__main__.py").is_file()
    worker = doc["services"]["worker"]["command"]
    assert worker[:4] == ["python", "-m", "engine", "worker"]
    subcommands = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert "worker" in subcommands and "download" in subcommands


def _docker_unusable() -> str | None:
    if shutil.which("docker") is None:
        return "no docker client on this machine"
    info = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=30, check=False)
    if info.returncode != 0:
        return "docker has no daemon here: " + (info.stderr.strip().splitlines() or ["?"])[-1]
    return None


def test_the_image_builds_where_docker_works(tmp_path: Path) -> None:
    reason = _docker_unusable()
    if reason:
        pytest.skip(reason)
    build = subprocess.run(
        ["docker", "build", "-t", "promptreel:test", str(REPO)],
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    assert build.returncode == 0, build.stderr[-4000:]
