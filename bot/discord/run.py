"""`python -m bot`: connect to Discord, explaining in one line what to do when that fails."""

from __future__ import annotations

import asyncio
import logging
import sys

import discord

from bot.config import Settings


def run_discord(argv: list[str]) -> int:
    if argv:
        print(
            f"error: unknown arguments {' '.join(argv)!r}; use `python -m bot` or `python -m bot console`",
            file=sys.stderr,
        )
        return 2
    logging.getLogger().setLevel(logging.INFO)
    settings = Settings()
    if settings.discord_token is None or not settings.discord_token.get_secret_value().strip():
        print(
            "error: DISCORD_TOKEN is not set. Copy .env.example to .env and paste your bot's token "
            "(Discord Developer Portal > your application > Bot > Reset Token), "
            "or try `python -m bot console` without Discord.",
            file=sys.stderr,
        )
        return 2
    return asyncio.run(_run(settings))


async def _run(settings: Settings) -> int:
    from bot.discord.app import create_bot
    from engine.journal import JournalError
    from engine.presets import ModelUnavailable
    from engine.storage import FolderUnwritable

    bot = create_bot(settings)
    token = settings.discord_token.get_secret_value().strip()  # type: ignore[union-attr]
    try:
        async with bot:
            await bot.start(token)
    except discord.LoginFailure:
        print(
            "error: Discord rejected DISCORD_TOKEN. Reset the token in the Developer Portal and update .env.",
            file=sys.stderr,
        )
        return 1
    except discord.PrivilegedIntentsRequired:
        print(
            "error: Discord refused an intent this bot asked for. Promptreel needs no privileged intents; "
            "if you changed INTENTS, enable them under Bot > Privileged Gateway Intents.",
            file=sys.stderr,
        )
        return 1
    except (ModelUnavailable, JournalError, FolderUnwritable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
