"""`python -m bot` with `PROMPTREEL_SURFACES` naming more than Discord: one process, one core.

One journal, one worker and one core serve every surface named. Each surface runs on its own:
Discord is (re)connected with backoff as before, each social network polls under the core's
supervision, and one that cannot connect (or whose credentials are refused) is said once and
retried, without stopping the others. Credentials missing for a named surface are said before
anything starts, one line each.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Callable
from typing import Any

from bot.config import Settings

log = logging.getLogger(__name__)

KNOWN = ("discord", "bluesky", "mastodon", "x")
RETRY_FIRST_S = 2.0
RETRY_LONGEST_S = 300.0


def missing_settings(settings: Settings) -> list[str]:
    """One line per surface that cannot start, naming what to set."""
    lines = []
    for name in settings.surface_names():
        if name not in KNOWN:
            lines.append(f"unknown surface {name!r} in PROMPTREEL_SURFACES; choose from {', '.join(KNOWN)}")
        elif name == "discord" and not _set(settings.discord_token):
            lines.append("DISCORD_TOKEN is not set (or leave discord out of PROMPTREEL_SURFACES)")
        elif name == "mastodon" and not _set(settings.mastodon_access_token):
            lines.append("PROMPTREEL_MASTODON_ACCESS_TOKEN is not set (Preferences > Development)")
        elif name == "bluesky" and not (settings.bluesky_handle and _set(settings.bluesky_app_password)):
            lines.append("PROMPTREEL_BLUESKY_HANDLE and PROMPTREEL_BLUESKY_APP_PASSWORD are needed")
        elif name == "x" and not all(
            _set(getattr(settings, f"x_{key}"))
            for key in ("api_key", "api_secret", "access_token", "access_token_secret")
        ):
            lines.append("X needs PROMPTREEL_X_API_KEY, _API_SECRET, _ACCESS_TOKEN and _ACCESS_TOKEN_SECRET")
    return lines


def _set(secret: Any) -> bool:
    return secret is not None and bool(secret.get_secret_value().strip())


def social_adapters(settings: Settings) -> list[Any]:
    """The social networks' adapters named in `surfaces`, in that order."""
    out: list[Any] = []
    for name in settings.surface_names():
        if name == "mastodon":
            from bot.mastodon import MastodonAdapter

            out.append(MastodonAdapter(settings))
        elif name == "bluesky":
            from bot.bluesky import BlueskyAdapter

            out.append(BlueskyAdapter(settings))
        elif name == "x":
            from bot.x import XAdapter

            out.append(XAdapter(settings))
    return out


def run_surfaces(settings: Settings) -> int:
    problems = missing_settings(settings)
    if problems:
        for line in problems:
            print(f"error: {line}", file=sys.stderr)
        return 2
    logging.getLogger().setLevel(logging.INFO)
    return asyncio.run(serve(settings))


async def serve(
    settings: Settings,
    *,
    stop: asyncio.Event | None = None,
    on_started: Callable[[Any, Any], None] | None = None,
) -> int:
    """Start the core with every configured surface and run until `stop` (or SIGINT/SIGTERM).

    `on_started(core, discord_bot_or_None)` is called once everything was started (tests).
    """
    from bot.core import Core
    from engine.journal import JournalError
    from engine.presets import ModelUnavailable
    from engine.storage import FolderUnwritable

    stop = stop or _stop_on_signals()
    social = social_adapters(settings)
    bot = None
    if "discord" in settings.surface_names():
        from bot.discord.app import create_bot

        bot = create_bot(settings)
        core = bot.core
        for adapter in social:
            core.add_adapter(adapter)
    else:
        core = Core(settings, social[0], also=social[1:])
    try:
        await core.start()  # the journal and the model first: their faults are the owner's
    except (ModelUnavailable, JournalError, FolderUnwritable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    discord_task = asyncio.create_task(_discord(bot, settings)) if bot is not None else None
    if on_started is not None:
        on_started(core, bot)
    try:
        await stop.wait()
    finally:
        if discord_task is not None:
            discord_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await discord_task
        if bot is not None:
            await bot.close()  # closes the core too
        else:
            await core.close()
    return 0


async def _discord(bot: Any, settings: Settings) -> None:
    """Log in and stay connected; a Discord that cannot be reached is retried, never fatal."""
    import aiohttp
    import discord

    token = settings.discord_token.get_secret_value().strip()  # type: ignore[union-attr]
    delay = RETRY_FIRST_S
    while True:
        try:
            await bot.login(token)
            await bot.connect(reconnect=True)
            return
        except (aiohttp.ClientConnectionError, discord.GatewayNotFound, discord.DiscordServerError) as exc:
            print(f"warning: cannot reach Discord ({exc}); trying again in {delay:.0f} s.", file=sys.stderr)
        except discord.LoginFailure:
            print("error: Discord rejected DISCORD_TOKEN; the other surfaces carry on.", file=sys.stderr)
            return
        await asyncio.sleep(delay)
        delay = min(delay * 2, RETRY_LONGEST_S)


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    return stop
