"""The chat side must stay torch-free: the bot process imports torch only if it renders itself."""

import subprocess
import sys
from pathlib import Path

import bot

BOT_DIR = Path(bot.__file__).parent


def _modules() -> list[str]:
    names = []
    for path in sorted(BOT_DIR.rglob("*.py")):
        rel = path.relative_to(BOT_DIR.parent).with_suffix("")
        names.append(".".join(rel.parts).removesuffix(".__init__"))
    return names


def test_importing_every_bot_module_does_not_import_torch() -> None:
    modules = _modules()
    assert "bot.discord.cogs.video" in modules and "bot.console" in modules
    code = "import sys\n" + "".join(f"import {m}\n" for m in modules) + "print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_engine_journal_and_worker_are_torch_free() -> None:
    code = (
        "import sys\nimport engine.journal, engine.request, engine.presets, engine.worker\n"
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
