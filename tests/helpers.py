"""Helpers shared by every test folder (plain functions; the fixtures are in the conftest.py files)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, TypeVar

import imageio_ffmpeg
import numpy as np

from engine.settings import EngineSettings

S = TypeVar("S", bound=EngineSettings)

# What every suite's settings share: the built-in tiny model on the CPU, never the hub, and none
# of the options that change the output or the memory use.
TEST_DEFAULTS: dict[str, Any] = {
    "model": "tiny",
    "model_path": None,
    "offline": True,
    "device": "cpu",
    "dtype": "auto",
    "cpu_offload": False,
    "vae_tiling": False,
    "vae_slicing": False,
    "attention_backend": None,
    "first_block_cache": 0.0,
    "compile": False,
}


def isolated_settings(cls: type[S], **values: Any) -> S:
    """`cls` (EngineSettings or bot.config.Settings) from TEST_DEFAULTS and `values` only.

    `.env` is never read; `PROMPTREEL_*` / `DISCORD_*` variables are removed for the whole run by
    the autouse fixture in tests/conftest.py. Each folder's `make_settings` adds what it needs.
    """
    return cls(_env_file=None, **{**TEST_DEFAULTS, **values})


REPO = Path(__file__).resolve().parents[1]


def child_env(**values: str) -> dict[str, str]:
    """The environment for a subprocess under test: this one without `PROMPTREEL_*` / `DISCORD_*`,
    this checkout first on the import path (a subprocess started in a temporary folder would
    otherwise import whatever copy is installed), torch's OpenMP on one thread (as
    `_one_torch_thread` does in-process), then `values`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PROMPTREEL_", "DISCORD_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [env.get("PYTHONPATH")])])
    # The tiny model gains nothing from threads; on shared CI cores their spin-waits cost a lot.
    env["OMP_NUM_THREADS"] = "1"
    env.update(values)
    return env


def decode_video(path: str | Path) -> tuple[np.ndarray, dict[str, Any]]:
    """Every frame of a clip as ffmpeg decodes it, as (F, H, W, 3) uint8, and ffmpeg's metadata.

    `-fps_mode passthrough`: ffmpeg neither duplicates nor drops a frame, so `len(frames)` is
    the number of frames in the file. `meta` has `size` (width, height), `codec`, `pix_fmt`, `fps`.
    """
    reader = imageio_ffmpeg.read_frames(str(path), output_params=["-fps_mode", "passthrough"])
    meta = next(reader)
    width, height = meta["size"]
    frames = [np.frombuffer(buf, np.uint8).reshape(height, width, 3) for buf in reader]
    return (np.stack(frames) if frames else np.empty((0, height, width, 3), np.uint8)), meta
