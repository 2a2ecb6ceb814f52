from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from tests.fakediscord.fixtures import fake_discord, make_fake_discord
from tests.helpers import isolated_settings

__all__ = ["fake_discord", "make_fake_discord"]


@pytest.fixture
def make_settings(tmp_path: Path, tiny_models_dir: Path) -> Callable[..., Settings]:
    """`make_settings(**overrides)`: bot Settings rooted in this test's tmp_path, `.env` ignored."""

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "data_dir": tmp_path / "data",
            "models_dir": tiny_models_dir,
            "status_edit_seconds": 0,
        }
        return isolated_settings(Settings, **{**values, **overrides})

    return make
