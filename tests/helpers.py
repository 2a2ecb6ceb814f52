"""Helpers shared by every test folder (plain functions; the fixtures are in the conftest.py files)."""

from __future__ import annotations

from typing import Any, TypeVar

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
