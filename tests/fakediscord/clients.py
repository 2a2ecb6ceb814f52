"""Pointing discord.py at the fake and running real clients against it."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

import discord
import discord.gateway
import discord.http
import yarl

from .records import log
from .state import FakeState


class ClientsMixin(FakeState):
    # ------------------------------------------------------------------- pointing discord.py at us

    def _acquire_patch(self) -> None:
        if self._patch_depth == 0:
            self._saved_patch = (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
            discord.http.Route.BASE = self.api_base
            discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self.gateway_url)
        self._patch_depth += 1

    def _release_patch(self) -> None:
        self._patch_depth -= 1
        if self._patch_depth == 0 and self._saved_patch is not None:
            discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = self._saved_patch
            self._saved_patch = None

    @contextlib.contextmanager
    def patch_discord(self) -> Iterator[None]:
        """Point ``discord.http.Route.BASE`` and ``DiscordWebSocket.DEFAULT_GATEWAY`` at this fake."""
        self._acquire_patch()
        try:
            yield
        finally:
            self._release_patch()

    # ----------------------------------------------------------------------------- running clients

    async def start_client(
        self,
        client: discord.Client,
        *,
        token: str | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109
        guild_ready_timeout: float | None = 0.05,
        reconnect: bool = True,
    ) -> discord.Client:
        """Log ``client`` in (runs its ``setup_hook``), connect it, and wait for ``on_ready``.

        ``guild_ready_timeout`` overrides the client's (default 2 s) wait after the last
        GUILD_CREATE before READY fires; pass ``None`` to keep the client's own value.
        Raises whatever discord.py raises (``LoginFailure``, ``PrivilegedIntentsRequired``...)
        or ``TimeoutError``; on any failure the client is closed and the patch undone.
        """
        if self._runner is None:
            raise RuntimeError("FakeDiscord is not started")
        if guild_ready_timeout is not None:
            client._connection.guild_ready_timeout = guild_ready_timeout
        self._install_error_capture(client)
        self._acquire_patch()
        connect_task: asyncio.Task[None] | None = None
        try:
            await asyncio.wait_for(client.login(self.token if token is None else token), timeout)
            connect_task = asyncio.create_task(
                client.connect(reconnect=reconnect), name="fakediscord-connect"
            )
            ready_task = asyncio.create_task(client.wait_until_ready(), name="fakediscord-ready")
            done, _ = await asyncio.wait(
                {connect_task, ready_task}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
            if ready_task not in done:
                ready_task.cancel()
                if connect_task in done:
                    exc = connect_task.exception()
                    raise exc if exc is not None else RuntimeError("client.connect() returned before READY")
                raise TimeoutError(f"client did not become ready within {timeout}s")
            ready_task.result()
        except BaseException:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.close(), 5.0)
            if connect_task is not None:
                connect_task.cancel()
                with contextlib.suppress(BaseException):
                    await connect_task
            self._release_patch()
            raise
        self._clients[id(client)] = (client, connect_task)
        return client

    async def stop_client(self, client: discord.Client, *, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Close a client started with ``start_client`` and undo the patch."""
        entry = self._clients.pop(id(client), None)
        if entry is None:
            return
        _client, task = entry
        try:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.close(), timeout)
            try:
                await asyncio.wait_for(task, timeout)
            except (asyncio.CancelledError, TimeoutError):
                task.cancel()
            except Exception as exc:  # connect() may raise ConnectionClosed on shutdown
                log.debug("client.connect() ended with %r", exc)
        finally:
            self._release_patch()

    @contextlib.asynccontextmanager
    async def run_client(
        self,
        client: discord.Client,
        *,
        token: str | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109
        guild_ready_timeout: float | None = 0.05,
        reconnect: bool = True,
    ) -> AsyncIterator[discord.Client]:
        """``async with fake.run_client(bot) as bot:`` — ``start_client`` then ``stop_client``."""
        await self.start_client(
            client, token=token, timeout=timeout, guild_ready_timeout=guild_ready_timeout, reconnect=reconnect
        )
        try:
            yield client
        finally:
            await self.stop_client(client)

    def _install_error_capture(self, client: discord.Client) -> None:
        """Record exceptions that discord.py would only log (event handlers, app commands)."""
        if getattr(client, "_fakediscord_capturing", False):
            return
        client._fakediscord_capturing = True  # type: ignore[attr-defined]
        original_on_error = client.on_error

        async def on_error(event_method: str, /, *args: Any, **kwargs: Any) -> None:
            exc = sys.exc_info()[1]
            if exc is not None:
                self.client_errors.append((event_method, exc))
                self._notify()
            await original_on_error(event_method, *args, **kwargs)

        client.on_error = on_error  # type: ignore[method-assign]
        tree = getattr(client, "tree", None) or client._connection._command_tree
        if tree is not None:
            original_tree_error = tree.on_error

            async def tree_on_error(interaction: discord.Interaction, error: Exception, /) -> None:
                name = interaction.command.qualified_name if interaction.command else "?"
                self.client_errors.append((f"app_command:{name}", error))
                self._notify()
                await original_tree_error(interaction, error)

            tree.on_error = tree_on_error
