"""Every model's weights licence where owners and members look: `/help` and `engine presets`.

The licences are the model cards' (CC-BY-NC-4.0 for ModelScope and Zeroscope, Apache-2.0 for
CogVideoX-2b and Wan2.1); a bot whose members pay must be told when a model forbids that.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.bot.console_session import console_session
from tests.helpers import child_env


async def _help(make_settings, **overrides) -> str:  # type: ignore[no-untyped-def]
    async with console_session(make_settings(**overrides)) as session:
        answer = await session.answer_to("alice: /help")
    assert answer["event"] == "info"
    return answer["text"]


async def test_help_names_each_offered_models_licence(make_settings) -> None:  # type: ignore[no-untyped-def]
    text = await _help(make_settings, extra_models=["zeroscope", "cogvideox-2b"])
    lines = {line.split(":")[0].strip("• "): line for line in text.splitlines() if line.startswith("•")}
    assert "CC-BY-NC-4.0" in lines["zeroscope"]
    assert "Apache-2.0" in lines["cogvideox-2b"]
    # Nobody charges members here, so no warning about paid use.
    assert "⚠" not in text


async def test_a_paid_bot_is_warned_of_non_commercial_models_only(make_settings) -> None:  # type: ignore[no-untyped-def]
    text = await _help(make_settings, extra_models=["zeroscope", "cogvideox-2b"], charges_members=True)
    warnings = [line for line in text.splitlines() if line.startswith("⚠")]
    assert len(warnings) == 1
    assert "`zeroscope`" in warnings[0] and "CC-BY-NC-4.0" in warnings[0]


def test_engine_presets_shows_every_licence(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "engine", "presets"],
        cwd=tmp_path,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    blocks = proc.stdout.split("\n    weights licence: ")
    # One licence line per preset, each following that preset's block.
    names = ["tiny", "ltx-video", "tiny-i2v", "ltx-video-i2v", "wan2.1-1.3b", "cogvideox-2b", "modelscope",
             "zeroscope"]  # fmt: skip
    licences = dict(zip(names, [b.splitlines()[0] for b in blocks[1:]], strict=True))
    for name in ("modelscope", "zeroscope"):
        assert licences[name].startswith("CC-BY-NC-4.0") and "NON-COMMERCIAL" in licences[name]
    for name in ("wan2.1-1.3b", "cogvideox-2b"):
        assert licences[name].startswith("Apache-2.0") and "commercial use allowed" in licences[name]
    for name in ("ltx-video", "ltx-video-i2v"):
        assert "Lightricks" in licences[name] and "conditions" in licences[name]


async def test_a_paid_bot_is_told_at_start(make_settings, caplog) -> None:  # type: ignore[no-untyped-def]
    with caplog.at_level("WARNING", logger="bot.core.core"):
        async with console_session(make_settings(extra_models=["modelscope"], charges_members=True)):
            pass
    [line] = [r.getMessage() for r in caplog.records if "PROMPTREEL_CHARGES_MEMBERS" in r.getMessage()]
    assert "modelscope" in line and "NON-COMMERCIAL" in line
