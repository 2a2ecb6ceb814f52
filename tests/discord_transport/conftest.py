from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.fakediscord.fixtures import fake_discord, make_fake_discord

__all__ = ["fake_discord", "make_fake_discord"]


@pytest.fixture
def make_settings(tmp_path: Path, tiny_models_dir: Path) -> Callable[..., Any]:
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
