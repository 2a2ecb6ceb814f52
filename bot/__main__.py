"""`python -m bot` runs the surfaces in `PROMPTREEL_SURFACES` (Discord by default); `python -m bot
console` the same workflow on stdin."""

from __future__ import annotations

import argparse
import asyncio
import io
import logging
import sys
from pathlib import Path

from bot import i18n
from bot.config import Settings


def _console(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bot console", description="chat with Promptreel on stdin"
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per event on stdout")
    parser.add_argument("--db", type=Path, default=None, help="journal file (default data/promptreel.db)")
    parser.add_argument("--model", default=None, help="preset to render with (default tiny)")
    parser.add_argument("--mods", default="", help="comma-separated names allowed to use /mod")
    parser.add_argument(
        "--owners", default="", help="comma-separated names who own the bot: bot-wide /mod actions"
    )
    parser.add_argument(
        "--lang", choices=i18n.LANGUAGES, default=None,
        help="the language to answer in (default: /mod language, else PROMPTREEL_LANGUAGE)",
    )  # fmt: skip
    args = parser.parse_args(argv)

    from bot.console import ConsoleAdapter, run_console
    from bot.core import Core
    from engine.farm.protocol import FarmConfigError
    from engine.journal import JournalError
    from engine.presets import ModelUnavailable, UnknownPreset, get_preset
    from engine.storage import FolderUnwritable

    overrides: dict[str, object] = {}
    if args.db is not None:
        overrides["db_path"] = args.db
    if args.model is not None:
        overrides["model"] = args.model
    settings = Settings(**overrides)  # type: ignore[arg-type]
    from bot import logs

    # The console says every job event on stdout already: its log stays at warnings, unless the
    # owner asked for JSON lines (for a log shipper), which then carry the job events too.
    logs.configure(as_json=settings.log_json, level=logging.INFO if settings.log_json else logging.WARNING)
    try:
        get_preset(settings.model)
    except UnknownPreset as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    mods = {name.strip() for name in args.mods.split(",") if name.strip()}
    owners = frozenset(name.strip() for name in args.owners.split(",") if name.strip())
    if isinstance(sys.stdin, io.TextIOWrapper):
        # Bytes that are not valid text become U+FFFD instead of ending the input (strict locales).
        sys.stdin.reconfigure(errors="replace")
    adapter = ConsoleAdapter(sys.stdout, as_json=args.json)
    try:
        return asyncio.run(
            run_console(Core(settings, adapter), adapter, mods, owners=owners, language=args.lang)
        )
    except (ModelUnavailable, JournalError, FolderUnwritable, FarmConfigError) as exc:
        # Storage or weights the owner must fix: one line saying what and how, no traceback.
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if argv and argv[0] == "console":
        return _console(argv[1:])
    if not argv:
        settings = Settings()
        if settings.surface_names() != ["discord"]:
            from bot.serve import run_surfaces

            return run_surfaces(settings)
    from bot.discord.run import run_discord

    return run_discord(argv)


if __name__ == "__main__":
    sys.exit(main())
