"""A loopback fake of Discord (REST API v10 + gateway) for testing with the real discord.py client.

Quick start::

    from tests.fakediscord import FakeDiscord

    async with FakeDiscord() as fake:                 # or the ``fake_discord`` pytest fixture
        client = discord.Client(intents=discord.Intents.default())
        async with fake.run_client(client):           # login + gateway + waits for on_ready
            mark = fake.mark()
            await fake.dispatch_message("hi", mentions=[client.user])
            req = await fake.wait_for_request("POST /channels/{channel_id}/messages", since=mark)

``run_client`` / ``start_client`` point ``discord.http.Route.BASE`` and
``discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY`` at the fake while the client runs and set the
client's ``guild_ready_timeout`` to 0.05 s (discord.py otherwise waits 2 s after the last
GUILD_CREATE before firing on_ready). See ``server.FakeDiscord`` for everything else.
"""

from .gateway import GatewaySession
from .payloads import FakeUser, snowflake
from .server import (
    DEFAULT_UPLOAD_LIMIT,
    FakeDiscord,
    FakeInteraction,
    Fault,
    RecordedRequest,
    UploadedFile,
)

__all__ = [
    "DEFAULT_UPLOAD_LIMIT",
    "FakeDiscord",
    "FakeInteraction",
    "FakeUser",
    "Fault",
    "GatewaySession",
    "RecordedRequest",
    "UploadedFile",
    "snowflake",
]
