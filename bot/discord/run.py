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
    settings = Settings()
    from bot import logs

    logs.configure(as_json=settings.log_json, level=logging.INFO)
    if settings.discord_token is None or not settings.discord_token.get_secret_value().strip():
        print(
            "error: DISCORD_TOKEN is not set. Copy .env.example to .env and paste your bot's token "
            "(Discord Developer Portal > your application > Bot > Reset Token), "
            "or try `python -m bot console` without Discord.",
            file=sys.stderr,
        )
        return 2
    return asyncio.run(_run(settings))


# Waits between attempts to reach Discord: doubling from the first, never longer than the last.
RETRY_FIRST_S = 2.0
RETRY_LONGEST_S = 300.0


async def _run(
    settings: Settings, *, first_retry_s: float = RETRY_FIRST_S, attempts: int | None = None
) -> int:
    """Connect, and keep trying while Discord cannot be reached (`attempts`: give up after that
    many, for tests). The journal and the model come first: a missing model or an unusable
    journal is said before Discord is ever contacted."""
    import aiohttp

    from bot.discord.app import create_bot
    from engine.farm.protocol import FarmConfigError
    from engine.journal import JournalError
    from engine.presets import ModelUnavailable
    from engine.storage import FolderUnwritable

    token = settings.discord_token.get_secret_value().strip()  # type: ignore[union-attr]
    delay, tried = first_retry_s, 0
    while True:
        bot = create_bot(settings)
        try:
            async with bot:
                await bot.core.start()
                await bot.start(token)
            return 0
        except (aiohttp.ClientConnectionError, discord.GatewayNotFound, discord.DiscordServerError) as exc:
            tried += 1
            why = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
            if attempts is not None and tried >= attempts:
                print(f"error: cannot reach Discord ({why}); giving up.", file=sys.stderr)
                return 1
            print(f"warning: cannot reach Discord ({why}); trying again in {delay:.0f} s.", file=sys.stderr)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_LONGEST_S)
        except discord.LoginFailure:
            print(
                "error: Discord rejected DISCORD_TOKEN. Reset the token in the Developer Portal "
                "and update .env.",
                file=sys.stderr,
            )
            return 1
        except discord.PrivilegedIntentsRequired:
            print(
                "error: Discord refused an intent this bot asked for. Promptreel needs no privileged "
                "intents; if you changed INTENTS, enable them under Bot > Privileged Gateway Intents.",
                file=sys.stderr,
            )
            return 1
        except (ModelUnavailable, JournalError, FolderUnwritable, FarmConfigError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
