"""A loopback fake of Discord's REST API and gateway for the real discord.py client.

See ``tests/fakediscord/__init__.py`` for the overview and usage. ``FakeDiscord`` is assembled
from: ``state`` (the world and store) on ``recorder`` (requests, waiting, faults); ``messages``,
``interactions``, ``commands`` and ``users`` (REST routes by resource); ``events`` (injecting
gateway events); ``clients`` (running discord.py clients against it). This module holds the HTTP
server and the routing table, and re-exports the names that used to live here.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import re
import socket

from aiohttp import web

from .clients import ClientsMixin
from .events import EventsMixin
from .gateway import GatewaySession
from .interactions import InteractionsMixin
from .payloads import (
    CALLBACK_AUTOCOMPLETE,
    CALLBACK_DEFERRED_MESSAGE,
    CALLBACK_DEFERRED_UPDATE,
    CALLBACK_MESSAGE,
    CALLBACK_MODAL,
    CALLBACK_UPDATE_MESSAGE,
    INTERACTION_APPLICATION_COMMAND,
    INTERACTION_AUTOCOMPLETE,
    INTERACTION_COMPONENT,
    INTERACTION_MODAL_SUBMIT,
    INTERACTION_PING,
    FakeUser,
    snowflake,
)
from .records import (
    API_PREFIX,
    Abort,
    FakeInteraction,
    Fault,
    RecordedRequest,
    Reply,
    RouteHandler,
    UploadedFile,
    compile_pattern,
    error_reply,
    log,
    pattern_matches,
    read_request,
)
from .state import DEFAULT_UPLOAD_LIMIT
from .users import UsersMixin

# Former private names of this module, still importable from here.
_Reply = Reply
_error = error_reply
_compile_pattern = compile_pattern
_pattern_matches = pattern_matches
_RouteHandler = RouteHandler

__all__ = [
    "API_PREFIX",
    "CALLBACK_AUTOCOMPLETE",
    "CALLBACK_DEFERRED_MESSAGE",
    "CALLBACK_DEFERRED_UPDATE",
    "CALLBACK_MESSAGE",
    "CALLBACK_MODAL",
    "CALLBACK_UPDATE_MESSAGE",
    "DEFAULT_UPLOAD_LIMIT",
    "INTERACTION_APPLICATION_COMMAND",
    "INTERACTION_AUTOCOMPLETE",
    "INTERACTION_COMPONENT",
    "INTERACTION_MODAL_SUBMIT",
    "INTERACTION_PING",
    "FakeDiscord",
    "FakeInteraction",
    "FakeUser",
    "Fault",
    "GatewaySession",
    "RecordedRequest",
    "UploadedFile",
    "snowflake",
]

_Route = tuple[str, str, re.Pattern[str], RouteHandler, bool]  # method, template, regex, handler, bot auth


def _route_regex(template: str) -> re.Pattern[str]:
    """``/channels/{channel_id}`` -> a regex with a named group per ``{param}``."""
    return re.compile(
        "".join(
            f"(?P<{tok[1:-1]}>[^/]+)" if tok.startswith("{") else re.escape(tok)
            for tok in re.split(r"(\{[^}/]+\})", template)
        )
        + r"/?\Z"
    )


class FakeDiscord(EventsMixin, InteractionsMixin, UsersMixin, ClientsMixin):
    """Loopback fake Discord (REST under ``/api/v10`` + gateway websocket at ``/``).

    Use as ``async with FakeDiscord() as fake:`` (or the ``fake_discord`` pytest fixture), then
    ``async with fake.run_client(client):`` to log a real ``discord.Client`` in against it.
    """

    # ----------------------------------------------------------------------------------- lifecycle

    async def start(self) -> FakeDiscord:
        app = web.Application(client_max_size=1024**3)
        app.router.add_get("/", self._handle_ws)
        app.router.add_get("/attachments/{channel_id}/{attachment_id}/{filename}", self._handle_cdn)
        app.router.add_route("*", API_PREFIX + "/{tail:.*}", self._handle_api)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        site = web.SockSite(self._runner, self._sock)
        await site.start()
        return self

    async def stop(self) -> None:
        for client, _task in list(self._clients.values()):
            with contextlib.suppress(Exception):
                await self.stop_client(client)
        for session in list(self.sessions):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(session.close(1001), 2.0)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    async def __aenter__(self) -> FakeDiscord:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------------------- HTTP plumbing

    async def _handle_ws(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(max_msg_size=0, autoping=True, compress=False)
        await ws.prepare(request)
        session = GatewaySession(self, ws)
        self.sessions.append(session)
        try:
            await session.run()
        finally:
            self._notify()
        return ws

    async def _handle_cdn(self, request: web.Request) -> web.StreamResponse:
        try:
            f = self.attachments[int(request.match_info["attachment_id"])]
        except (KeyError, ValueError):
            return web.Response(status=404)
        return web.Response(
            body=f.data, headers={"Content-Type": f.content_type or "application/octet-stream"}
        )

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"]
        rec = await read_request(request, path)
        self.requests.append(rec)
        try:
            reply = await self._respond(rec)
        except Exception as exc:  # a bug in the fake: make it loud but keep serving
            log.exception("fakediscord: error handling %s %s", rec.method, rec.path)
            reply = error_reply(500, 0, f"fakediscord internal error: {exc!r}")
        rec.status = reply.status
        rec.response = reply.body if reply.text is None else reply.text
        self._notify()
        return reply.to_response()

    async def _respond(self, rec: RecordedRequest) -> Reply:
        matched: tuple[str, RouteHandler, bool, dict[str, str]] | None = None
        for method, template, regex, handler, needs_bot_auth in self._routes:
            if method != rec.method:
                continue
            m = regex.match(rec.path)
            if m:
                matched = (f"{method} {template}", handler, needs_bot_auth, m.groupdict())
                break
        if matched is not None:
            rec.route, rec.params = matched[0], matched[3]
            if matched[2] and rec.authorization != f"Bot {self.token}":
                return error_reply(401, 0, "401: Unauthorized")
        fault_reply = self._fault_reply(rec)
        if fault_reply is not None:
            return fault_reply
        if matched is None:
            log.warning("fakediscord: no route for %s %s", rec.method, rec.path)
            return error_reply(404, 0, "404: Not Found")
        for f in rec.files:
            if f.size > self.upload_limit:
                return error_reply(413, 40005, "Request entity too large")
        try:
            return await matched[1](rec, matched[3])
        except Abort as abort:
            return abort.reply

    # ------------------------------------------------------------------------------- routing table

    @functools.cached_property
    def _routes(self) -> list[_Route]:
        routes: list[_Route] = []

        def r(method: str, template: str, handler: RouteHandler, *, bot_auth: bool = True) -> None:
            routes.append((method, template, _route_regex(template), handler, bot_auth))

        r("GET", "/users/@me", self._get_me)
        r("GET", "/oauth2/applications/@me", self._get_application)
        r("GET", "/applications/@me", self._get_application)
        r("GET", "/gateway", self._get_gateway, bot_auth=False)
        r("GET", "/gateway/bot", self._get_gateway_bot)
        r("POST", "/auth/logout", self._no_content)
        r("POST", "/users/@me/channels", self._open_dm)
        r("GET", "/users/{user_id}", self._get_user)
        r("GET", "/guilds/{guild_id}", self._get_guild)
        r("GET", "/guilds/{guild_id}/channels", self._get_guild_channels)
        r("GET", "/guilds/{guild_id}/roles", self._get_guild_roles)
        r("GET", "/guilds/{guild_id}/members/{user_id}", self._get_member)
        # application commands
        for base in (
            "/applications/{application_id}/commands",
            "/applications/{application_id}/guilds/{guild_id}/commands",
        ):
            r("GET", base, self._get_commands)
            r("PUT", base, self._put_commands)
            r("POST", base, self._post_command)
            r("GET", base + "/{command_id}", self._get_command)
            r("PATCH", base + "/{command_id}", self._patch_command)
            r("DELETE", base + "/{command_id}", self._delete_command)
        # channels & messages
        r("GET", "/channels/{channel_id}", self._get_channel)
        r("POST", "/channels/{channel_id}/typing", self._typing)
        r("GET", "/channels/{channel_id}/messages", self._get_history)
        r("POST", "/channels/{channel_id}/messages", self._create_message)
        r("GET", "/channels/{channel_id}/messages/{message_id}", self._get_message)
        r("PATCH", "/channels/{channel_id}/messages/{message_id}", self._edit_message)
        r("DELETE", "/channels/{channel_id}/messages/{message_id}", self._delete_message)
        r("PUT", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me", self._no_content)
        r("DELETE", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me", self._no_content)
        # interactions: no bot auth
        r(
            "POST",
            "/interactions/{interaction_id}/{token}/callback",
            self._interaction_callback,
            bot_auth=False,
        )
        wh = "/webhooks/{application_id}/{token}"
        r("POST", wh, self._followup_create, bot_auth=False)
        r("GET", wh + "/messages/{message_id}", self._webhook_get_message, bot_auth=False)
        r("PATCH", wh + "/messages/{message_id}", self._webhook_edit_message, bot_auth=False)
        r("DELETE", wh + "/messages/{message_id}", self._webhook_delete_message, bot_auth=False)
        return routes

    async def _no_content(self, rec: RecordedRequest, p: dict[str, str]) -> Reply:
        return Reply(204)
