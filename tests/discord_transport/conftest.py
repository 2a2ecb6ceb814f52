from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.fakediscord.fixtures import fake_discord, make_fake_discord

__all__ = ["fake_discord", "make_fake_discord"]


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No DISCORD_* / PROMPTREEL_* from the developer's shell may reach the bot's settings."""
    for name in list(os.environ):
        if name.startswith(("DISCORD_", "PROMPTREEL_")):
            monkeypatch.delenv(name)


@pytest.fixture
def make_settings(tmp_path: Path, tiny_models_dir: Path, clean_env: None) -> Callable[..., Any]:
    """`make_settings(**overrides)`: bot Settings rooted in this test's tmp_path, `.env` ignored."""

    def make(**overrides: Any) -> Any:
        from bot.config import Settings

        values: dict[str, Any] = {
            "data_dir": tmp_path / "data",
            "models_dir": tiny_models_dir,
            "model": "tiny",
            "device": "cpu",
            "offline": True,
            "status_edit_seconds": 0,
        }
        values.update(overrides)
        return Settings(_env_file=None, **values)

    return make
