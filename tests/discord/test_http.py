"""The Discord bot runs the owner's HTTP server with its core, and /readyz asks its gateway."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from tests.discord.conftest import World


async def _readyz(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as http, http.get(f"{url}/readyz") as response:
        return response.status, await response.text()


@pytest.mark.promptreel(http_port=0)
async def test_the_discord_bot_serves_readyz_and_is_ready_once_connected(world: World) -> None:
    server = world.bot.http_server
    assert server is not None and server.port
    deadline = time.monotonic() + 60
    while (got := await _readyz(server.url))[0] != 200:  # the worker's first heartbeat
        assert time.monotonic() < deadline, got
        await asyncio.sleep(0.1)
    assert got == (200, "ready\n")
    assert world.bot.adapter.connected()
