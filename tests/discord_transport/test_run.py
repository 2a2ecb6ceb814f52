"""`python -m bot`: what a server owner sees when the bot cannot connect — one `error:` line."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import discord
import pytest

import bot.discord.client as discord_client
from bot.config import Settings
from bot.discord import create_bot
from bot.discord.client import INTENTS
from bot.discord.run import _run
from tests.fakediscord import FakeDiscord
from tests.helpers import child_env, isolated_settings


@pytest.fixture
def settings_for(tmp_path: Path) -> Callable[..., Any]:
    """Settings for a bot that never renders (no in-process worker, so no model is loaded)."""

    def make(**overrides: Any) -> Any:
        values: dict[str, Any] = {
            "data_dir": tmp_path / "data",
            "in_process_worker": False,
            # Settings' own defaults, as these tests always had them (no model is loaded here).
            "device": "auto",
            "offline": False,
        }
        return isolated_settings(Settings, **{**values, **overrides})

    return make


def _error_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("error:")]


def test_missing_token_exits_with_one_error_line(tmp_path: Path) -> None:
    # cwd is an empty tmp dir, so no .env is read either.
    proc = subprocess.run(
        [sys.executable, "-m", "bot"],
        cwd=tmp_path,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = _error_lines(proc.stderr)
    assert len(lines) == 1, proc.stderr
    assert "DISCORD_TOKEN" in lines[0]
    assert proc.stderr.strip() == lines[0]  # nothing but that line
    assert proc.stdout == ""
    assert not (tmp_path / "data").exists()  # it stopped before touching anything


async def test_rejected_token_prints_one_line_and_returns_1(
    fake_discord: FakeDiscord, settings_for: Callable[..., Any], capsys: pytest.CaptureFixture[str]
) -> None:
    fake = fake_discord
    settings = settings_for(discord_token="not-the-right-token")
    with fake.patch_discord():
        code = await _run(settings)
    assert code == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = _error_lines(err)
    assert len(lines) == 1 and "rejected DISCORD_TOKEN" in lines[0], err
    me = fake.find_requests("GET /users/@me")
    assert [(r.status, r.authorization) for r in me] == [(401, "Bot not-the-right-token")]
    assert not fake.sessions  # it never reached the gateway


def test_bot_requests_no_privileged_intent() -> None:
    assert INTENTS.members is False
    assert INTENTS.presences is False
    assert INTENTS.message_content is False
    privileged = discord.Intents.none()
    privileged.members = privileged.presences = privileged.message_content = True
    assert INTENTS.value & privileged.value == 0
    assert INTENTS.guilds and INTENTS.guild_messages and INTENTS.dm_messages


async def test_logs_in_where_every_privileged_intent_is_off(
    make_fake_discord: Callable[..., Any], settings_for: Callable[..., Any]
) -> None:
    """A bot whose owner enabled no privileged intent in the portal still connects."""
    fake = await make_fake_discord(allowed_privileged_intents=0)
    bot = create_bot(settings_for())
    async with fake.run_client(bot, timeout=60):
        assert bot.user is not None and bot.user.id == fake.bot_user.id
    # The intents sent in IDENTIFY, as Discord's gateway bits: no privileged one, and the three
    # the bot works from.
    intents = fake.identify_payloads[0]["intents"]
    for privileged in (1 << 1, 1 << 8, 1 << 15):  # GUILD_MEMBERS, GUILD_PRESENCES, MESSAGE_CONTENT
        assert intents & privileged == 0, bin(intents)
    for needed in (1 << 0, 1 << 9, 1 << 12):  # GUILDS, GUILD_MESSAGES, DIRECT_MESSAGES
        assert intents & needed == needed, bin(intents)


async def test_refused_intent_prints_one_line_and_returns_1(
    make_fake_discord: Callable[..., Any],
    settings_for: Callable[..., Any],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The owner edited INTENTS to ask for message content but did not enable it in the portal.

    The only change is that constant (the case the error message is written for); Discord's
    refusal (close code 4014) comes from the fake gateway.
    """
    fake = await make_fake_discord(allowed_privileged_intents=0)
    wants_content = discord.Intents(INTENTS.value)
    wants_content.message_content = True
    monkeypatch.setattr(discord_client, "INTENTS", wants_content)
    settings = settings_for(discord_token=fake.token)
    with fake.patch_discord():
        code = await _run(settings)
    assert code == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = _error_lines(err)
    assert len(lines) == 1 and "refused an intent" in lines[0], err
    assert fake.identify_payloads[0]["intents"] == wants_content.value


async def test_unwritable_journal_prints_one_line_and_returns_1(
    make_fake_discord: Callable[..., Any],
    settings_for: Callable[..., Any],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    """The bot logs in, then cannot open its journal (a file stands where its folder should be)."""
    fake = await make_fake_discord()
    (tmp_path / "here").write_text("not a folder")
    db = tmp_path / "here" / "promptreel.db"
    settings = settings_for(discord_token=fake.token, db_path=db)
    with fake.patch_discord():
        code = await _run(settings)
    assert code == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = _error_lines(err)
    assert len(lines) == 1, err
    assert str(db) in lines[0] and "writable" in lines[0] and "PROMPTREEL_DB_PATH" in lines[0]


def _closed_port() -> int:
    """A loopback port nobody listens on (bound, then closed, so the next connect is refused)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_discord_unreachable_is_one_line_per_attempt_with_backoff(
    settings_for: Callable[..., Any], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(discord.http.Route, "BASE", f"http://127.0.0.1:{_closed_port()}/api/v10")
    code = await _run(settings_for(discord_token="some-token"), first_retry_s=0.01, attempts=3)
    assert code == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert [line.split(":")[0] for line in lines] == ["warning", "warning", "error"], err
    assert all("cannot reach Discord" in line for line in lines)
    assert "trying again in" in lines[0] and "giving up" in lines[-1]


async def test_a_missing_model_is_said_before_discord_is_contacted(
    settings_for: Callable[..., Any], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(discord.http.Route, "BASE", f"http://127.0.0.1:{_closed_port()}/api/v10")
    settings = settings_for(
        discord_token="some-token", in_process_worker=True, model="ltx-video", offline=True
    )
    code = await _run(settings, first_retry_s=0.01, attempts=1)
    assert code == 1
    err = capsys.readouterr().err
    lines = _error_lines(err)
    assert len(lines) == 1 and "ltx-video" in lines[0], err
    assert "cannot reach Discord" not in err  # it never tried
