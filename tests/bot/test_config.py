"""Settings: every one documented in .env.example, and the file itself loads as shipped."""

from pathlib import Path

import pytest

from bot.config import Settings

ROOT = Path(__file__).resolve().parents[2]


def _env_name(name: str) -> str:
    alias = Settings.model_fields[name].validation_alias
    choices = getattr(alias, "choices", None)
    return choices[0] if choices else f"PROMPTREEL_{name.upper()}"


def test_every_setting_is_documented_in_env_example() -> None:
    text = (ROOT / ".env.example").read_text()
    documented = {line.lstrip("# ").split("=", 1)[0] for line in text.splitlines() if "=" in line}
    missing = [_env_name(n) for n in Settings.model_fields if _env_name(n) not in documented]
    assert missing == []


def test_env_example_loads_as_shipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text((ROOT / ".env.example").read_text())
    monkeypatch.chdir(tmp_path)
    settings = Settings()
    assert settings.model == "tiny" and settings.discord_token is None and settings.rate_burst == 3
