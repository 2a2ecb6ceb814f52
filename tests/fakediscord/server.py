"""A loopback fake of Discord's REST API and gateway for the real discord.py client.

See ``tests/fakediscord/__init__.py`` for the overview and usage.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import mimetypes
import re
import socket
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import discord
import discord.gateway
import discord.http
import yarl
from aiohttp import BodyPartReader, web
from multidict import CIMultiDict

from .gateway import OP_INVALID_SESSION, OP_RECONNECT, GatewaySession
from .payloads import (
    BOT_ROLE_PERMISSIONS,
    EVERYONE_PERMISSIONS,
    FLAG_EPHEMERAL,
    FLAG_LOADING,
    INTENT_DIRECT_MESSAGES,
    INTENT_GUILD_MESSAGES,
    INTENT_MESSAGE_CONTENT,
    PRIVILEGED_INTENTS,
    FakeUser,
    dm_channel_payload,
    iso_now,
    member_payload,
    role_payload,
    snowflake,
    text_channel_payload,
)

log = logging.getLogger(__name__)

DEFAULT_UPLOAD_LIMIT = 10 * 1024 * 1024  # discord.utils.DEFAULT_FILE_SIZE_LIMIT_BYTES (unboosted guild)
API_PREFIX = "/api/v10"

# Interaction types / callback types
INTERACTION_PING = 1
INTERACTION_APPLICATION_COMMAND = 2
INTERACTION_COMPONENT = 3
INTERACTION_AUTOCOMPLETE = 4
INTERACTION_MODAL_SUBMIT = 5

CALLBACK_MESSAGE = 4
CALLBACK_DEFERRED_MESSAGE = 5
CALLBACK_DEFERRED_UPDATE = 6
CALLBACK_UPDATE_MESSAGE = 7
CALLBACK_AUTOCOMPLETE = 8
CALLBACK_MODAL = 9


# --------------------------------------------------------------------------------------------- records


@dataclass
class UploadedFile:
    """One ``files[n]`` part of a multipart request."""

    field: str
    filename: str | None
    content_type: str | None
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass
class RecordedRequest:
    """Everything the fake saw of one REST request, plus what it answered."""

    method: str
    path: str  # without the /api/v10 prefix, e.g. "/channels/123/messages"
    query: dict[str, str]
    headers: CIMultiDict[str]
    json: Any  # the JSON body, or the parsed ``payload_json`` part of a multipart body
    files: list[UploadedFile]
    multipart: bool
    route: str | None = None  # e.g. "POST /channels/{channel_id}/messages"; None when no route matched
    params: dict[str, str] = field(default_factory=dict)
    status: int | None = None
    response: Any = None
    fault: Fault | None = None  # the scripted fault that answered, if any

    @property
    def authorization(self) -> str | None:
        return self.headers.get("Authorization")

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def __repr__(self) -> str:
        files = f" files={[f.filename for f in self.files]}" if self.files else ""
        return f"<RecordedRequest {self.method} {self.path} -> {self.status}{files}>"


@dataclass
class _Reply:
    status: int
    body: Any = None  # JSON-able; None means an empty body
    headers: dict[str, str] = field(default_factory=dict)
    text: str | None = None  # a non-JSON body (e.g. a Cloudflare HTML page)

    def to_response(self) -> web.Response:
        headers = dict(self.headers)
        if self.text is not None:
            headers.setdefault("Content-Type", "text/html")
            return web.Response(status=self.status, body=self.text.encode(), headers=headers)
        if self.body is None:
            return web.Response(status=self.status, headers=headers)
        # discord.py only parses JSON when Content-Type is exactly "application/json";
        # web.json_response would append "; charset=utf-8".
        headers["Content-Type"] = "application/json"
        return web.Response(status=self.status, body=json.dumps(self.body).encode(), headers=headers)


def _error(status: int, code: int, message: str) -> _Reply:
    return _Reply(status, {"message": message, "code": code})


def _compile_pattern(pattern: str) -> tuple[str | None, re.Pattern[str]]:
    """``"POST /channels/{channel_id}/messages"`` -> (method, regex over concrete paths).

    ``{name}`` and ``*`` match one path segment, ``**`` matches anything. The method is optional
    (``"*"`` or omitted means any method).
    """
    pattern = pattern.strip()
    method: str | None = None
    if " " in pattern:
        method, pattern = pattern.split(None, 1)
        method = None if method == "*" else method.upper()
    if pattern.startswith(API_PREFIX):
        pattern = pattern[len(API_PREFIX) :]
    out = []
    for token in re.split(r"(\{[^}/]+\}|\*\*|\*)", pattern):
        if token == "**":
            out.append(".*")
        elif token == "*" or (token.startswith("{") and token.endswith("}")):
            out.append("[^/]+")
        else:
            out.append(re.escape(token))
    return method, re.compile("".join(out) + r"/?\Z")


def _pattern_matches(compiled: tuple[str | None, re.Pattern[str]], method: str, path: str) -> bool:
    want_method, regex = compiled
    return (want_method is None or want_method == method) and regex.match(path) is not None


@dataclass
class Fault:
    """A scripted failure for the next ``remaining`` requests matching ``pattern``."""

    pattern: str
    remaining: int
    reply: _Reply
    hits: list[RecordedRequest] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._compiled = _compile_pattern(self.pattern)

    def matches(self, method: str, path: str) -> bool:
        return self.remaining > 0 and _pattern_matches(self._compiled, method, path)


@dataclass
class FakeInteraction:
    """An interaction injected with ``dispatch_interaction`` and what the bot did with it."""

    id: int
    token: str
    type: int
    application_id: int
    channel_id: int
    guild_id: int | None
    user: FakeUser
    payload: dict[str, Any]
    message_id: int | None = None  # the message a component / modal interaction came from
    command_name: str | None = None
    # server-side state
    expired: bool = False
    acknowledged: bool = False
    response_type: int | None = None  # callback type the bot answered with
    response_data: Any = None  # the callback's "data"
    original_message_id: int | None = None
    followup_message_ids: list[int] = field(default_factory=list)


# --------------------------------------------------------------------------------------------- the fake


_RouteHandler = Callable[[RecordedRequest, dict[str, str]], Awaitable[_Reply]]


class FakeDiscord:
    """Loopback fake Discord (REST under ``/api/v10`` + gateway websocket at ``/``).

    Use as ``async with FakeDiscord() as fake:`` (or the ``fake_discord`` pytest fixture), then
    ``async with fake.run_client(client):`` to log a real ``discord.Client`` in against it.
    """

    def __init__(
        self,
        *,
        token: str = "fake-bot-token",
        upload_limit: int = DEFAULT_UPLOAD_LIMIT,
        bot_name: str = "Promptreel",
        guild_name: str = "Promptreel Test Guild",
        text_channels: Iterable[str] = ("general",),
        extra_roles: Iterable[str] = (),
        heartbeat_interval_ms: int = 41250,
        allowed_privileged_intents: int = PRIVILEGED_INTENTS,
        enforce_message_content_intent: bool = True,
    ) -> None:
        self.token = token
        self.upload_limit = upload_limit
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.allowed_privileged_intents = allowed_privileged_intents
        self.enforce_message_content_intent = enforce_message_content_intent

        self.guild_id = snowflake()
        self.guild_name = guild_name
        self.bot_role_id = snowflake()
        self.role_ids: dict[str, int] = {name: snowflake() for name in extra_roles}
        self.bot_user = FakeUser(id=snowflake(), username=bot_name, bot=True, roles=[self.bot_role_id])
        self.application_id = self.bot_user.id  # as for every modern Discord app
        self.user = FakeUser(id=snowflake(), username="alice", global_name="Alice")  # default human
        self.owner = self.user
        self.users: dict[int, FakeUser] = {self.bot_user.id: self.bot_user, self.user.id: self.user}
        self.guild_member_ids: list[int] = [self.bot_user.id, self.user.id]
        self.joined_at = iso_now()

        self.text_channel_ids: dict[str, int] = {}
        self.channels: dict[int, dict[str, Any]] = {}
        for position, name in enumerate(text_channels):
            cid = snowflake()
            self.text_channel_ids[name] = cid
            self.channels[cid] = text_channel_payload(cid, self.guild_id, name, position)
        if not self.channels:
            raise ValueError("at least one text channel is needed")
        self.channel_id = next(iter(self.text_channel_ids.values()))
        self.dm_channel_ids: dict[int, int] = {}  # user id -> DM channel id

        # recorded / stored state
        self.requests: list[RecordedRequest] = []
        self.messages: dict[int, dict[str, Any]] = {}  # every message the fake knows, current state
        self.deleted_message_ids: list[int] = []
        self.attachments: dict[int, UploadedFile] = {}  # attachment id -> bytes, served as the CDN
        self.interactions: dict[int, FakeInteraction] = {}
        self._interactions_by_token: dict[str, FakeInteraction] = {}
        self.global_commands: list[dict[str, Any]] = []
        self.guild_commands: dict[int, list[dict[str, Any]]] = {}
        self.faults: list[Fault] = []
        self.identify_payloads: list[dict[str, Any]] = []
        self.sessions: list[GatewaySession] = []
        self._sessions_by_id: dict[str, GatewaySession] = {}
        self.dropped_events: list[tuple[str, dict[str, Any], str]] = []  # (event, payload, why)
        self.client_errors: list[tuple[str, BaseException]] = []  # errors raised in the bot's handlers

        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._sock: socket.socket | None = None
        self.port: int = 0
        self._clients: dict[int, tuple[discord.Client, asyncio.Task[None]]] = {}
        self._patch_depth = 0
        self._saved_patch: tuple[str, yarl.URL] | None = None
        self._routes: list[tuple[str, str, re.Pattern[str], _RouteHandler, bool]] = []
        self._install_routes()

    # ----------------------------------------------------------------------------------- lifecycle

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        return f"{self.url}{API_PREFIX}"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/"

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

    # ---------------------------------------------------------------------------------- users etc.

    def add_user(
        self, username: str, *, roles: Iterable[int] = (), member: bool = True, bot: bool = False
    ) -> FakeUser:
        """A new user; ``member=True`` makes them a guild member (included in GUILD_CREATE if
        added before the client connects, and in ``member`` fields of events either way)."""
        user = FakeUser(
            id=snowflake(), username=username, global_name=username.title(), bot=bot, roles=list(roles)
        )
        self.users[user.id] = user
        if member:
            self.guild_member_ids.append(user.id)
        return user

    def guild_members(self) -> list[FakeUser]:
        return [self.users[uid] for uid in self.guild_member_ids]

    def _member_payload(
        self, user: FakeUser, *, include_user: bool = True, permissions: bool = False
    ) -> dict:
        perms = self._permissions_of(user) if permissions else None
        return member_payload(user, joined_at=self.joined_at, include_user=include_user, permissions=perms)

    def _permissions_of(self, user: FakeUser) -> int:
        if user.id == self.owner.id:
            return (1 << 53) - 1
        perms = EVERYONE_PERMISSIONS
        if self.bot_role_id in user.roles:
            perms |= BOT_ROLE_PERMISSIONS
        return perms

    def _user_of(self, obj: Any) -> FakeUser:
        """FakeUser from a FakeUser, a discord.py user/member, or an id."""
        if isinstance(obj, FakeUser):
            return obj
        uid = int(getattr(obj, "id", obj))
        try:
            return self.users[uid]
        except KeyError:
            raise KeyError(f"user {uid} is unknown to the fake; create it with fake.add_user()") from None

    def dm_channel_id(self, user: Any) -> int:
        """The DM channel between the bot and ``user`` (created on first use)."""
        u = self._user_of(user)
        if u.id not in self.dm_channel_ids:
            cid = snowflake()
            self.dm_channel_ids[u.id] = cid
            self.channels[cid] = dm_channel_payload(cid, u)
        return self.dm_channel_ids[u.id]

    def _guild_of_channel(self, channel_id: int) -> int | None:
        ch = self.channels.get(channel_id)
        if ch is None or "guild_id" not in ch:
            return None
        return int(ch["guild_id"])

    def _roles_payload(self) -> list[dict[str, Any]]:
        roles = [
            role_payload(self.guild_id, "@everyone", permissions=EVERYONE_PERMISSIONS, position=0),
            role_payload(
                self.bot_role_id,
                self.bot_user.username,
                permissions=BOT_ROLE_PERMISSIONS,
                position=1,
                managed=True,
                bot_id=self.bot_user.id,
            ),
        ]
        for i, (name, rid) in enumerate(self.role_ids.items(), start=2):
            roles.append(role_payload(rid, name, permissions=EVERYONE_PERMISSIONS, position=i))
        return roles

    # --------------------------------------------------------------------------------- gateway bits

    def _ready_payload(self, session: GatewaySession) -> dict[str, Any]:
        user = self.bot_user.to_payload()
        user.update(verified=True, mfa_enabled=False, email=None)
        return {
            "v": 10,
            "user": user,
            "guilds": [{"id": str(self.guild_id), "unavailable": True}],
            "session_id": session.session_id,
            "session_type": "normal",
            "resume_gateway_url": self.gateway_url,
            "application": {"id": str(self.application_id), "flags": (1 << 19) | (1 << 15)},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "user_settings": {},
            "auth": {},
            "_trace": ["fakediscord"],
        }

    def guild_payload(self) -> dict[str, Any]:
        """The full GUILD_CREATE payload for the one guild."""
        members = [self._member_payload(u) for u in self.guild_members()]
        guild_channels = [c for c in self.channels.values() if "guild_id" in c]
        return {
            "id": str(self.guild_id),
            "name": self.guild_name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(self.owner.id),
            "unavailable": False,
            "joined_at": self.joined_at,
            "large": False,
            "lazy": True,
            "member_count": len(members),
            "members": members,
            "channels": guild_channels,
            "threads": [],
            "roles": self._roles_payload(),
            "emojis": [],
            "stickers": [],
            "features": [],
            "presences": [],
            "voice_states": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "premium_progress_bar_enabled": False,
            "preferred_locale": "en-US",
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "nsfw": False,
            "afk_channel_id": None,
            "afk_timeout": 300,
            "system_channel_id": str(self.channel_id),
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "max_members": 500000,
            "max_video_channel_users": 25,
            "vanity_url_code": None,
            "application_id": None,
            "incidents_data": None,
        }

    def _guild_create_payloads(self) -> list[dict[str, Any]]:
        return [self.guild_payload()]

    def _session_identified(self, session: GatewaySession) -> None:
        self._sessions_by_id[session.session_id] = session
        self._notify()

    @property
    def active_sessions(self) -> list[GatewaySession]:
        return [s for s in self.sessions if s.identified.is_set() and not s.closed]

    async def dispatch_event(
        self, event: str, data: dict[str, Any], *, required_intent: int | None = None
    ) -> int:
        """Send a DISPATCH to every connected, identified client. Returns how many got it.

        With ``required_intent``, sessions that did not IDENTIFY with that intent bit are skipped
        (recorded in ``dropped_events``), as real Discord does.
        """
        sessions = self.active_sessions
        if not sessions:
            raise RuntimeError("no client is connected to the fake gateway")
        sent = 0
        for session in sessions:
            if required_intent is not None and not session.intents & required_intent:
                self.dropped_events.append((event, data, f"missing intent {required_intent}"))
                log.warning(
                    "fakediscord: %s not delivered: client lacks intent bit %s", event, required_intent
                )
                continue
            await session.dispatch(event, data)
            sent += 1
        return sent

    async def reconnect_clients(self, *, resume: bool = True, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Make every connected client reconnect and wait until it is back.

        ``resume=True`` sends op 7 RECONNECT (discord.py reconnects to ``resume_gateway_url`` and
        RESUMEs; no new READY). ``resume=False`` sends op 9 INVALID_SESSION(false): the client
        IDENTIFYs again, gets a new READY + GUILD_CREATE, and ``on_ready`` fires again.
        """
        old = self.active_sessions
        first_new = len(self.sessions)
        for session in old:
            if resume:
                await session.send_op(OP_RECONNECT, None)
            else:
                await session.send_op(OP_INVALID_SESSION, False)

        def back() -> bool:
            return sum(1 for s in self.sessions[first_new:] if s.identified.is_set()) >= len(old)

        await self.wait_for(back, timeout=timeout)

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

    # ------------------------------------------------------------------------- injecting messages

    def mention(self, user: Any) -> str:
        return f"<@{self._user_of(user).id}>"

    async def dispatch_message(
        self,
        content: str = "",
        *,
        author: Any = None,
        channel_id: int | None = None,
        dm: bool = False,
        mentions: Iterable[Any] = (),
        attachments: Iterable[tuple[str, bytes]] = (),
        embeds: list[dict[str, Any]] | None = None,
        reference: int | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Inject a MESSAGE_CREATE from a user. Returns the full payload (also stored in ``messages``).

        ``dm=True`` sends it in the author's DM channel with the bot (no guild). ``mentions`` takes
        FakeUsers, discord.py users/members (e.g. ``client.user``) or ids. Like real Discord, a
        client that did not IDENTIFY with the MESSAGE_CONTENT intent gets empty content/embeds/
        attachments for guild messages that don't mention it.
        """
        user = self.user if author is None else self._user_of(author)
        if dm:
            channel_id = self.dm_channel_id(user)
        elif channel_id is None:
            channel_id = self.channel_id
        if channel_id not in self.channels:
            raise KeyError(f"unknown channel {channel_id}")
        guild_id = self._guild_of_channel(channel_id)

        mentioned = [self._user_of(m) for m in mentions]
        mention_payloads = []
        for m in mentioned:
            p = m.to_payload()
            if guild_id is not None and m.id in self.guild_member_ids:
                p["member"] = self._member_payload(m, include_user=False)
            mention_payloads.append(p)
        att_payloads = [self._store_attachment(channel_id, name, data) for name, data in attachments]

        msg = self._message_skeleton(channel_id, user)
        msg.update(
            content=content,
            mentions=mention_payloads,
            attachments=att_payloads,
            embeds=list(embeds or []),
        )
        if reference is not None:
            msg["type"] = 19
            msg["message_reference"] = {
                "type": 0,
                "message_id": str(reference),
                "channel_id": str(channel_id),
                **({"guild_id": str(guild_id)} if guild_id else {}),
            }
            msg["referenced_message"] = self.messages.get(reference)
        if guild_id is not None:
            msg["guild_id"] = str(guild_id)
            msg["member"] = self._member_payload(user, include_user=False)
        if extra:
            msg.update(extra)
        self.messages[int(msg["id"])] = msg

        intent = INTENT_GUILD_MESSAGES if guild_id is not None else INTENT_DIRECT_MESSAGES
        sessions = self.active_sessions
        if not sessions:
            raise RuntimeError("no client is connected to the fake gateway")
        for session in sessions:
            if not session.intents & intent:
                self.dropped_events.append(("MESSAGE_CREATE", msg, f"missing intent {intent}"))
                log.warning("fakediscord: MESSAGE_CREATE not delivered: client lacks intent bit %s", intent)
                continue
            data = msg
            redact = (
                self.enforce_message_content_intent
                and not session.intents & INTENT_MESSAGE_CONTENT
                and guild_id is not None
                and user.id != self.bot_user.id
                and self.bot_user.id not in {m.id for m in mentioned}
            )
            if redact:
                data = dict(msg, content="", embeds=[], attachments=[], components=[])
            await session.dispatch("MESSAGE_CREATE", data)
        return msg

    # --------------------------------------------------------------------- injecting interactions

    def _find_command(self, name: str, guild_id: int | None) -> tuple[dict[str, Any] | None, bool]:
        if guild_id is not None:
            for cmd in self.guild_commands.get(guild_id, []):
                if cmd["name"] == name and cmd.get("type", 1) == 1:
                    return cmd, True
        for cmd in self.global_commands:
            if cmd["name"] == name and cmd.get("type", 1) == 1:
                return cmd, False
        return None, False

    def _option_values(
        self,
        options: Mapping[str, Any] | list[dict[str, Any]] | None,
        defs: list[dict[str, Any]],
        resolved: dict[str, dict[str, Any]],
        channel_id: int,
        guild_id: int | None,
        focused: str | None,
    ) -> list[dict[str, Any]]:
        if options is None:
            return []
        if isinstance(options, list):
            return options
        out = []
        for name, value in options.items():
            spec = next((d for d in defs if d.get("name") == name), None)
            if spec is not None:
                typ = int(spec["type"])
            elif isinstance(value, bool):
                typ = 5
            elif isinstance(value, int):
                typ = 4
            elif isinstance(value, float):
                typ = 10
            elif isinstance(value, FakeUser):
                typ = 6
            elif isinstance(value, tuple):
                typ = 11
            else:
                typ = 3
            opt: dict[str, Any] = {"name": name, "type": typ}
            if name == focused:
                opt["focused"] = True
                opt["value"] = str(value)
            elif typ in (6, 9):
                user = self._user_of(value)
                resolved.setdefault("users", {})[str(user.id)] = user.to_payload()
                if guild_id is not None and user.id in self.guild_member_ids:
                    resolved.setdefault("members", {})[str(user.id)] = self._member_payload(
                        user, include_user=False, permissions=True
                    )
                opt["value"] = str(user.id)
            elif typ == 7:
                cid = int(getattr(value, "id", value))
                ch = dict(self.channels[cid])
                ch["permissions"] = str(EVERYONE_PERMISSIONS)
                resolved.setdefault("channels", {})[str(cid)] = ch
                opt["value"] = str(cid)
            elif typ == 8:
                rid = int(getattr(value, "id", value))
                role = next(r for r in self._roles_payload() if int(r["id"]) == rid)
                resolved.setdefault("roles", {})[str(rid)] = role
                opt["value"] = str(rid)
            elif typ == 11:
                filename, data = value[0], value[1]
                att = self._store_attachment(channel_id, filename, data, ephemeral=True)
                resolved.setdefault("attachments", {})[att["id"]] = att
                opt["value"] = att["id"]
            elif typ == 4:
                opt["value"] = int(value)
            elif typ == 10:
                opt["value"] = float(value)
            elif typ == 5:
                opt["value"] = bool(value)
            else:
                opt["value"] = str(value)
            out.append(opt)
        return out

    def _command_data(
        self,
        name: str,
        options: Mapping[str, Any] | list[dict[str, Any]] | None,
        channel_id: int,
        guild_id: int | None,
        focused: str | None,
    ) -> dict[str, Any]:
        parts = name.split()
        cmd, is_guild_cmd = self._find_command(parts[0], guild_id)
        defs: list[dict[str, Any]] = (cmd or {}).get("options") or []
        chain: list[tuple[str, int]] = []
        for i, sub in enumerate(parts[1:], start=1):
            spec = next((d for d in defs if d.get("name") == sub), None)
            sub_type = int(spec["type"]) if spec else (1 if i == len(parts) - 1 else 2)
            chain.append((sub, sub_type))
            defs = (spec or {}).get("options") or []
        resolved: dict[str, dict[str, Any]] = {}
        leaf = self._option_values(options, defs, resolved, channel_id, guild_id, focused)
        for sub, sub_type in reversed(chain):
            leaf = [{"name": sub, "type": sub_type, "options": leaf}]
        data: dict[str, Any] = {
            "id": (cmd or {}).get("id") or str(snowflake()),
            "name": parts[0],
            "type": 1,
        }
        if leaf:
            data["options"] = leaf
        if resolved:
            data["resolved"] = resolved
        if is_guild_cmd and guild_id is not None:
            data["guild_id"] = str(guild_id)
        return data

    async def dispatch_interaction(
        self,
        *,
        type: int = INTERACTION_APPLICATION_COMMAND,
        name: str | None = None,
        options: Mapping[str, Any] | list[dict[str, Any]] | None = None,
        custom_id: str | None = None,
        message_id: int | None = None,
        component_type: int = 2,
        values: list[str] | None = None,
        fields: Mapping[str, str] | None = None,
        focused: str | None = None,
        data: dict[str, Any] | None = None,
        user: Any = None,
        channel_id: int | None = None,
        dm: bool = False,
        locale: str = "en-US",
    ) -> FakeInteraction:
        """Inject an INTERACTION_CREATE and return its ``FakeInteraction`` (id, token, state).

        - ``type=2`` (slash command): ``name`` ("cmd" or "group sub"), ``options`` as a dict
          ``{name: value}`` whose option types come from the commands the bot synced (else are
          guessed from the Python value; users/channels/roles/attachments get ``resolved``
          data — pass an attachment as ``(filename, bytes)``), or a raw list of option dicts.
        - ``type=3`` (component): ``custom_id``, ``message_id`` of a message the fake knows (e.g.
          one the bot sent with a view), ``component_type`` (2 button, 3 string select...) and
          ``values`` for selects.
        - ``type=4`` (autocomplete): like type 2 plus ``focused`` = the option being typed.
        - ``type=5`` (modal submit): ``custom_id`` and ``fields`` ``{text_input_custom_id: value}``.
        - ``data`` replaces the generated ``data`` object entirely.
        """
        u = self.user if user is None else self._user_of(user)
        if dm:
            channel_id = self.dm_channel_id(u)
        elif channel_id is None:
            channel_id = self.channel_id
        if channel_id not in self.channels:
            raise KeyError(f"unknown channel {channel_id}")
        guild_id = self._guild_of_channel(channel_id)

        if data is None:
            if type in (INTERACTION_APPLICATION_COMMAND, INTERACTION_AUTOCOMPLETE):
                if name is None:
                    raise ValueError("name= is required for application command interactions")
                data = self._command_data(name, options, channel_id, guild_id, focused)
            elif type == INTERACTION_COMPONENT:
                if custom_id is None:
                    raise ValueError("custom_id= is required for component interactions")
                data = {"custom_id": custom_id, "component_type": component_type}
                if values is not None:
                    data["values"] = list(values)
            elif type == INTERACTION_MODAL_SUBMIT:
                if custom_id is None:
                    raise ValueError("custom_id= is required for modal submits")
                rows = [
                    {"type": 1, "components": [{"type": 4, "custom_id": cid, "value": value}]}
                    for cid, value in (fields or {}).items()
                ]
                data = {"custom_id": custom_id, "components": rows}
            else:
                data = {}

        iid = snowflake()
        token = f"fake-interaction-token-{iid}"
        channel = dict(self.channels[channel_id])
        payload: dict[str, Any] = {
            "id": str(iid),
            "application_id": str(self.application_id),
            "type": type,
            "data": data,
            "token": token,
            "version": 1,
            "locale": locale,
            "app_permissions": str(self._permissions_of(self.bot_user)),
            "entitlements": [],
            "entitlement_sku_ids": [],
            "attachment_size_limit": self.upload_limit,
            "channel_id": str(channel_id),
            "channel": channel,
        }
        if guild_id is not None:
            channel["permissions"] = str(self._permissions_of(u))
            payload.update(
                guild_id=str(guild_id),
                guild={"id": str(guild_id), "locale": "en-US", "features": []},
                guild_locale="en-US",
                member=self._member_payload(u, permissions=True),
                authorizing_integration_owners={"0": str(guild_id)},
                context=0,
            )
        else:
            payload.update(
                user=u.to_payload(),
                authorizing_integration_owners={"0": "0"},
                context=1,
            )
        if message_id is not None:
            try:
                payload["message"] = self.messages[message_id]
            except KeyError:
                raise KeyError(f"message {message_id} is unknown to the fake") from None
        elif type == INTERACTION_COMPONENT:
            raise ValueError("message_id= is required for component interactions")

        fi = FakeInteraction(
            id=iid,
            token=token,
            type=type,
            application_id=self.application_id,
            channel_id=channel_id,
            guild_id=guild_id,
            user=u,
            payload=payload,
            message_id=message_id,
            command_name=name,
        )
        self.interactions[iid] = fi
        self._interactions_by_token[token] = fi
        await self.dispatch_event("INTERACTION_CREATE", payload)
        return fi

    async def dispatch_command(
        self, name: str, options: Mapping[str, Any] | list[dict[str, Any]] | None = None, **kwargs: Any
    ) -> FakeInteraction:
        """Shorthand for ``dispatch_interaction(type=2, name=..., options=...)``."""
        return await self.dispatch_interaction(
            type=INTERACTION_APPLICATION_COMMAND, name=name, options=options, **kwargs
        )

    async def dispatch_component(self, custom_id: str, message_id: int, **kwargs: Any) -> FakeInteraction:
        """Shorthand for a button click (``component_type=2``) on ``message_id``."""
        return await self.dispatch_interaction(
            type=INTERACTION_COMPONENT, custom_id=custom_id, message_id=message_id, **kwargs
        )

    async def dispatch_modal_submit(
        self, custom_id: str, fields: Mapping[str, str], **kwargs: Any
    ) -> FakeInteraction:
        return await self.dispatch_interaction(
            type=INTERACTION_MODAL_SUBMIT, custom_id=custom_id, fields=fields, **kwargs
        )

    def _interaction(self, interaction: FakeInteraction | int | str) -> FakeInteraction:
        if isinstance(interaction, FakeInteraction):
            return interaction
        if isinstance(interaction, str):
            return self._interactions_by_token[interaction]
        return self.interactions[int(interaction)]

    def expire_interaction(self, interaction: FakeInteraction | int | str) -> None:
        """Make the interaction's token invalid from now on, as after Discord's 15 minutes.

        Webhook routes (followups, @original) then answer 401 ``{"code": 50027, "message":
        "Invalid Webhook Token"}``; the callback route answers 404 ``10062 Unknown interaction``
        (what Discord returns for a callback after its 3-second window).
        """
        self._interaction(interaction).expired = True

    # ------------------------------------------------------------------------------ scripted faults

    def add_fault(
        self,
        route: str,
        *,
        status: int,
        json_body: Any = None,
        text: str | None = None,
        headers: Mapping[str, str] | None = None,
        times: int = 1,
    ) -> Fault:
        """Answer the next ``times`` requests matching ``route`` with this response instead.

        ``route`` is ``"[METHOD ]/path"`` where ``{name}`` or ``*`` match one path segment and
        ``**`` anything, e.g. ``"POST /channels/{channel_id}/messages"``.
        """
        fault = Fault(route, times, _Reply(status, json_body, dict(headers or {}), text))
        self.faults.append(fault)
        return fault

    def rate_limit(
        self,
        route: str,
        *,
        times: int = 1,
        retry_after: float = 0.05,
        is_global: bool = False,
        scope: str = "user",
        cloudflare: bool = False,
    ) -> Fault:
        """Script 429s. Discord's (and what discord.py retries) carry ``Via: 1.1 google``;
        ``cloudflare=True`` gives the header-less HTML 429 of a Cloudflare ban instead, which
        discord.py raises as ``HTTPException`` (status 429) without retrying."""
        if cloudflare:
            return self.add_fault(
                route,
                status=429,
                text="<html><body>Error 1015: You are being rate limited</body></html>",
                times=times,
            )
        headers = {
            "Via": "1.1 google",
            "Retry-After": str(max(1, math.ceil(retry_after))),
            "X-RateLimit-Scope": "global" if is_global else scope,
        }
        if is_global:
            headers["X-RateLimit-Global"] = "true"
        else:
            headers.update(
                {
                    "X-RateLimit-Limit": "5",
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset": f"{time.time() + retry_after:.3f}",
                    "X-RateLimit-Reset-After": f"{retry_after:.3f}",
                    "X-RateLimit-Bucket": "fakediscord-bucket",
                }
            )
        body = {"message": "You are being rate limited.", "retry_after": retry_after, "global": is_global}
        if not is_global:
            body["code"] = 0
        return self.add_fault(route, status=429, json_body=body, headers=headers, times=times)

    def server_error(self, route: str, *, status: int = 500, times: int = 1) -> Fault:
        """Script 5xx answers. discord.py's bot HTTP client retries 500/502/504/524 after
        sleeping 1 s, 3 s, ... (raises ``DiscordServerError`` for other 5xx at once); its
        webhook/interaction adapter retries every 5xx the same way."""
        return self.add_fault(
            route,
            status=status,
            json_body={"message": f"{status}: Internal Server Error", "code": 0},
            times=times,
        )

    def clear_faults(self) -> None:
        self.faults.clear()

    # --------------------------------------------------------------------------------- recording

    def _notify(self) -> None:
        ev, self._changed = self._changed, asyncio.Event()
        ev.set()

    def mark(self) -> int:
        """Index to pass as ``since=`` to only look at requests recorded after this point."""
        return len(self.requests)

    def find_requests(
        self,
        route: str | None = None,
        *,
        since: int = 0,
        status: int | None = None,
        ok: bool | None = None,
        predicate: Callable[[RecordedRequest], bool] | None = None,
    ) -> list[RecordedRequest]:
        """Recorded requests matching ``route`` (same syntax as ``add_fault``), in order."""
        compiled = _compile_pattern(route) if route is not None else None
        out = []
        for rec in self.requests[since:]:
            if rec.status is None:
                continue  # still being handled
            if compiled is not None and not _pattern_matches(compiled, rec.method, rec.path):
                continue
            if status is not None and rec.status != status:
                continue
            if ok is not None and rec.ok != ok:
                continue
            if predicate is not None and not predicate(rec):
                continue
            out.append(rec)
        return out

    async def wait_for_request(
        self,
        route: str | None = None,
        *,
        count: int = 1,
        since: int = 0,
        timeout: float = 5.0,  # noqa: ASYNC109
        status: int | None = None,
        ok: bool | None = None,
        predicate: Callable[[RecordedRequest], bool] | None = None,
    ) -> RecordedRequest:
        """Wait (event-driven, no polling) until ``count`` matching requests have been answered;
        return the ``count``-th. Raises ``TimeoutError`` listing what was recorded."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            matches = self.find_requests(route, since=since, status=status, ok=ok, predicate=predicate)
            if len(matches) >= count:
                return matches[count - 1]
            remaining = deadline - loop.time()
            if remaining <= 0:
                seen = (
                    ", ".join(f"{r.method} {r.path} -> {r.status}" for r in self.requests[since:])
                    or "nothing"
                )
                raise TimeoutError(f"no {count}x {route!r} within {timeout}s; recorded: {seen}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)

    async def wait_for(self, predicate: Callable[[], bool], *, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait until ``predicate()`` is true, re-checking whenever a request or session changes."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"condition not met within {timeout}s")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)

    # views
    def channel_messages(self, channel_id: int | None = None) -> list[dict[str, Any]]:
        """Messages the bot created with ``POST /channels/{id}/messages``, current state, in order."""
        out = []
        for rec in self.find_requests("POST /channels/{channel_id}/messages", ok=True):
            if channel_id is not None and int(rec.params["channel_id"]) != channel_id:
                continue
            mid = int(rec.response["id"])
            out.append(self.messages.get(mid, rec.response))
        return out

    def interaction_callbacks(
        self, interaction: FakeInteraction | int | str | None = None
    ) -> list[RecordedRequest]:
        """Recorded ``POST /interactions/{id}/{token}/callback`` requests (all, or for one)."""
        recs = self.find_requests("POST /interactions/{interaction_id}/{token}/callback")
        if interaction is None:
            return recs
        fi = self._interaction(interaction)
        return [r for r in recs if r.params.get("interaction_id") == str(fi.id)]

    def followups(self, interaction: FakeInteraction | int | str) -> list[dict[str, Any]]:
        """Followup messages the bot created for an interaction (current state)."""
        fi = self._interaction(interaction)
        return [self.messages[mid] for mid in fi.followup_message_ids if mid in self.messages]

    def original_response(self, interaction: FakeInteraction | int | str) -> dict[str, Any] | None:
        """The interaction's original response message (current state), if any."""
        fi = self._interaction(interaction)
        if fi.original_message_id is None:
            return None
        return self.messages.get(fi.original_message_id)

    def attachment_bytes(self, attachment: dict[str, Any] | int | str) -> bytes:
        """Bytes of an attachment (payload dict, id, or URL) that the fake stored."""
        if isinstance(attachment, dict):
            aid = int(attachment["id"])
        elif isinstance(attachment, str) and "/" in attachment:
            aid = int(yarl.URL(attachment).parts[-2])
        else:
            aid = int(attachment)
        return self.attachments[aid].data

    # ------------------------------------------------------------------------------- HTTP plumbing

    async def _handle_cdn(self, request: web.Request) -> web.StreamResponse:
        try:
            f = self.attachments[int(request.match_info["attachment_id"])]
        except (KeyError, ValueError):
            return web.Response(status=404)
        return web.Response(
            body=f.data, headers={"Content-Type": f.content_type or "application/octet-stream"}
        )

    async def _read_request(self, request: web.Request, path: str) -> RecordedRequest:
        files: list[UploadedFile] = []
        body: Any = None
        multipart = request.content_type.startswith("multipart/")
        if multipart:
            reader = await request.multipart()
            async for part in reader:
                if part is None:
                    break
                if not isinstance(part, BodyPartReader):
                    continue
                data = await part.read(decode=False)
                if part.name == "payload_json":
                    body = json.loads(data.decode())
                else:
                    files.append(
                        UploadedFile(
                            field=part.name or "",
                            filename=part.filename,
                            content_type=part.headers.get("Content-Type"),
                            data=bytes(data),
                        )
                    )
        else:
            raw = await request.read()
            if raw:
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = raw.decode(errors="replace")
        return RecordedRequest(
            method=request.method,
            path=path,
            query=dict(request.query),
            headers=CIMultiDict(request.headers),
            json=body,
            files=files,
            multipart=multipart,
        )

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"]
        rec = await self._read_request(request, path)
        self.requests.append(rec)
        try:
            reply = await self._respond(rec)
        except Exception as exc:  # a bug in the fake: make it loud but keep serving
            log.exception("fakediscord: error handling %s %s", rec.method, rec.path)
            reply = _error(500, 0, f"fakediscord internal error: {exc!r}")
        rec.status = reply.status
        rec.response = reply.body if reply.text is None else reply.text
        self._notify()
        return reply.to_response()

    async def _respond(self, rec: RecordedRequest) -> _Reply:
        matched: tuple[str, _RouteHandler, bool, dict[str, str]] | None = None
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
                return _error(401, 0, "401: Unauthorized")
        for fault in self.faults:
            if fault.matches(rec.method, rec.path):
                fault.remaining -= 1
                fault.hits.append(rec)
                rec.fault = fault
                reply = fault.reply
                if reply.status == 429 and "X-RateLimit-Reset" in reply.headers:
                    retry = float(reply.headers.get("X-RateLimit-Reset-After", "0"))
                    reply = _Reply(
                        reply.status,
                        reply.body,
                        {**reply.headers, "X-RateLimit-Reset": f"{time.time() + retry:.3f}"},
                        reply.text,
                    )
                return reply
        if matched is None:
            log.warning("fakediscord: no route for %s %s", rec.method, rec.path)
            return _error(404, 0, "404: Not Found")
        for f in rec.files:
            if f.size > self.upload_limit:
                return _error(413, 40005, "Request entity too large")
        return await matched[1](rec, matched[3])

    def _route(self, method: str, template: str, handler: _RouteHandler, *, bot_auth: bool = True) -> None:
        regex = re.compile(
            "".join(
                f"(?P<{tok[1:-1]}>[^/]+)" if tok.startswith("{") else re.escape(tok)
                for tok in re.split(r"(\{[^}/]+\})", template)
            )
            + r"/?\Z"
        )
        self._routes.append((method, template, regex, handler, bot_auth))

    def _install_routes(self) -> None:
        r = self._route
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

    # ----------------------------------------------------------------------------- route handlers

    async def _no_content(self, rec: RecordedRequest, p: dict[str, str]) -> _Reply:
        return _Reply(204)

    async def _get_me(self, rec: RecordedRequest, p: dict[str, str]) -> _Reply:
        user = self.bot_user.to_payload()
        user.update(verified=True, mfa_enabled=False, email=None, locale="en-US", bio="")
        return _Reply(200, user)

    async def _get_application(self, rec: RecordedRequest, p: dict[str, str]) -> _Reply:
        return _Reply(
            200,
            {
                "id": str(self.application_id),
                "name": self.bot_user.username,
                "icon": None,
                "description": "",
                "summary": "",
                "type": None,
                "rpc_origins": [],
                "bot_public": True,
                "bot_require_code_grant": False,
                "verify_key": "0" * 64,
                "owner": self.owner.to_payload(),
                "team": None,
                "flags": (1 << 19) | (1 << 15),
                "bot": self.bot_user.to_payload(),
                "interactions_endpoint_url": None,
                "role_connections_verification_url": None,
                "tags": [],
                "redirect_uris": [],
                "approximate_guild_count": 1,
                "integration_types_config": {"0": {}},
            },
        )

    async def _get_gateway(self, rec: RecordedRequest, p: dict[str, str]) -> _Reply:
        return _Reply(200, {"url": self.gateway_url.rstrip("/")})

    async def _get_gateway_bot(self, rec: RecordedRequest, p: dict[str, str]) -> _Reply:
        return _Reply(
            200,
            {
                "url": self.gateway_url.rstrip("/"),
                "shards": 1,
                "session_start_limit": {
                    "total": 1000,
                    "remaining": 999,
                    "reset_after": 0,
                    "max_concurrency": 1,
                },
            },
        )

    async def _open_dm(self, rec: RecordedRequest, p: dict[str, str]) -> _Reply:
        try:
            user = self.users[int((rec.json or {})["recipient_id"])]
        except (KeyError, ValueError, TypeError):
            return _error(400, 50035, "Invalid Form Body")
        return _Reply(200, self.channels[self.dm_channel_id(user)])

    async def _get_user(self, rec: RecordedRequest, p: dict[str, str]) -> _Reply:
        user = self.users.get(int(p["user_id"]))
        return _Reply(200, user.to_payload()) if user else _error(404, 10013, "Unknown User")

    def _check_guild(self, p: dict[str, str]) -> _Reply | None:
        if int(p["guild_id"]) != self.guild_id:
            return _error(404, 10004, "Unknown Guild")
        return None

    async def _get_guild(self, rec: RecordedRequest, p: dict[str, str]) -> _Reply:
        if err := self._check_guild(p):
            return err
        guild = self.guild_payload()
        for key in (
            "members",
            "channels",
            "threads",
            "presences",
            "voice_states",
            "joined_at",
            "member_count",
        ):
            guild.pop(key, None)
        return _Reply(200, guild)

    async def _get_guild_channels(self, rec: RecordedRequest, p: dict[str, str]) -> _Reply:
        if err := self._check_guild(p):
            return err
        return _Reply(200, [c for c in self.channels.values() if "guild_id" in c])

    async def _get_guild_roles(self, rec: RecordedRequest, p: dict[str, str]) -> _Reply:
        if err := self._check_guild(p):
            return err
        return _Reply(200, self._roles_payload())

    async def _get_member(self, rec: RecordedRequest, p: dict[str, str]) -> _Reply:
        if err := self._check_guild(p):
            return err
        uid = int(p["user_id"])
        if uid not in self.guild_member_ids:
            return _error(404, 10007, "Unknown Member")
        return _Reply(200, self._member_payload(self.users[uid]))

    # application commands

    def _command_list(self, p: dict[str, str]) -> list[dict[str, Any]] | None:
        if int(p["application_id"]) != self.application_id:
            return None
        if "guild_id" in p:
            return self.guild_commands.setdefault(int(p["guild_id"]), [])
        return self.global_commands

    def _make_command(self, body: dict[str, Any], p: dict[str, str], existing: list[dict[str, Any]]) -> dict:
        ctype = body.get("type", 1)
        old = next((c for c in existing if c["name"] == body["name"] and c.get("type", 1) == ctype), None)
        cmd = {
            "description": "",
            "options": [],
            "default_member_permissions": None,
            "nsfw": False,
            "integration_types": [0],
            "contexts": None,
            **body,
            "id": old["id"] if old else str(snowflake()),
            "application_id": str(self.application_id),
            "version": str(snowflake()),
            "type": ctype,
        }
        if "guild_id" in p:
            cmd["guild_id"] = p["guild_id"]
        return cmd

    async def _get_commands(self, rec: RecordedRequest, p: dict[str, str]) -> _Reply:
        cmds = self._command_list(p)
        return _Reply(200, cmds) if cmds is not None else _error(404, 10002, "Unknown Application")

    async def _put_commands(self, rec: RecordedRequest, p: dict[str, str]) -> _Reply:
        cmds = self._command_list(p)
        if cmds is None:
            return _error(404, 10002, "Unknown Application")
        new = [self._make_command(body, p, cmds) for body in (rec.json or [])]
        cmds[:] = new
        return _Reply(200, new)

    async def _post_command(self, rec: RecordedRequest, p: dict[str, str]) -> _Reply:
        cmds = self._command_list(p)
        if cmds is None:
            return _error(404, 10002, "Unknown Application")
        cmd = self._make_command(rec.json, p, cmds)
        cmds[:] = [c for c in cmds if c["id"] != cmd["id"]] + [cmd]
        return _Reply(201, cmd)

    def _command_by_id(self, p: dict[str, str]) -> tuple[list[dict[str, Any]] | None, dict[str, Any] | None]:
        cmds = self._command_list(p)
        if cmds is None:
            return None, None
        return cmds, next((c for c in cmds if c["id"] == p["command_id"]), None)

    async def _get_command(self, rec: RecordedRequest, p: dict[str, str]) -> _Reply:
        _cmds, cmd = self._command_by_id(p)
        return _Reply(200, cmd) if cmd else _error(404, 10063, "Unknown application command")

    async def _patch_command(self, rec: RecordedRequest, p: dict[str, str]) -> _Reply:
        _cmds, cmd = self._command_by_id(p)
        if cmd is None:
            return _error(404, 10063, "Unknown application command")
        cmd.update(rec.json or {})
        cmd["version"] = str(snowflake())
        return _Reply(200, cmd)

    async def _delete_command(self, rec: RecordedRequest, p: dict[str, str]) -> _Reply:
        cmds, cmd = self._command_by_id(p)
        if cmds is None or cmd is None:
            return _error(404, 10063, "Unknown application command")
        cmds.remove(cmd)
        return _Reply(204)

    # channels & messages

    def _message_skeleton(self, channel_id: int, author: FakeUser) -> dict[str, Any]:
        return {
            "id": str(snowflake()),
            "channel_id": str(channel_id),
            "author": author.to_payload(),
            "content": "",
            "timestamp": iso_now(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": [],
            "components": [],
            "reactions": [],
            "pinned": False,
            "type": 0,
            "flags": 0,
            "sticker_items": [],
        }

    def _store_attachment(
        self,
        channel_id: int,
        filename: str,
        data: bytes,
        *,
        description: str | None = None,
        ephemeral: bool = False,
    ) -> dict[str, Any]:
        aid = snowflake()
        content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        self.attachments[aid] = UploadedFile(
            field="", filename=filename, content_type=content_type, data=data
        )
        url = f"{self.url}/attachments/{channel_id}/{aid}/{filename}"
        att: dict[str, Any] = {
            "id": str(aid),
            "filename": filename,
            "size": len(data),
            "url": url,
            "proxy_url": url,
            "content_type": content_type,
            "flags": 0,
        }
        if description:
            att["description"] = description
        if ephemeral:
            att["ephemeral"] = True
        return att

    def _attachments_from(
        self, channel_id: int, body: dict[str, Any], files: list[UploadedFile], existing: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Resolve ``attachments`` of a create/edit body against the uploaded ``files[n]``."""
        by_index = {}
        for i, f in enumerate(files):
            m = re.fullmatch(r"files\[(\d+)\]", f.field)
            by_index[int(m.group(1)) if m else i] = f
        existing_by_id = {a["id"]: a for a in existing}
        out: list[dict[str, Any]] = []
        used: set[int] = set()
        specs = body.get("attachments")
        if specs is None:
            out.extend(existing)
            specs = []
        for spec in specs:
            sid = str(spec.get("id"))
            if sid in existing_by_id:
                out.append(existing_by_id[sid])
            elif sid.isdigit() and int(sid) in by_index:
                f = by_index[int(sid)]
                used.add(int(sid))
                out.append(
                    self._store_attachment(
                        channel_id,
                        spec.get("filename") or f.filename or "file",
                        f.data,
                        description=spec.get("description"),
                    )
                )
        for idx, f in sorted(by_index.items()):
            if idx not in used:
                out.append(self._store_attachment(channel_id, f.filename or "file", f.data))
        return out

    def _mentions_in(self, content: str) -> list[dict[str, Any]]:
        out = []
        for uid in dict.fromkeys(int(x) for x in re.findall(r"<@!?(\d+)>", content or "")):
            if uid in self.users:
                out.append(self.users[uid].to_payload())
        return out

    def _new_message(
        self,
        channel_id: int,
        body: dict[str, Any],
        files: list[UploadedFile],
        *,
        webhook: bool = False,
        interaction: FakeInteraction | None = None,
    ) -> dict[str, Any]:
        msg = self._message_skeleton(channel_id, self.bot_user)
        msg.update(
            content=body.get("content") or "",
            tts=bool(body.get("tts", False)),
            embeds=body.get("embeds") or [],
            components=body.get("components") or [],
            flags=int(body.get("flags") or 0),
            mentions=self._mentions_in(body.get("content") or ""),
            attachments=self._attachments_from(channel_id, body, files, []),
        )
        if body.get("nonce") is not None:
            msg["nonce"] = body["nonce"]
        if body.get("poll"):
            msg["poll"] = body["poll"]
        ref = body.get("message_reference")
        if ref and ref.get("message_id"):
            ref_id = int(ref["message_id"])
            msg["type"] = 19
            msg["message_reference"] = {
                "type": 0,
                "message_id": str(ref_id),
                "channel_id": str(ref.get("channel_id", channel_id)),
            }
            msg["referenced_message"] = self.messages.get(ref_id)
        if webhook or interaction is not None:
            msg["webhook_id"] = str(self.application_id)
            msg["application_id"] = str(self.application_id)
        if interaction is not None:
            is_command = interaction.type == INTERACTION_APPLICATION_COMMAND
            msg["type"] = 20 if is_command else 0
            meta: dict[str, Any] = {
                "id": str(interaction.id),
                "type": interaction.type,
                "user": interaction.user.to_payload(),
                "authorizing_integration_owners": interaction.payload.get(
                    "authorizing_integration_owners", {}
                ),
            }
            if interaction.original_message_id is not None:
                meta["original_response_message_id"] = str(interaction.original_message_id)
            if interaction.message_id is not None:
                meta["interacted_message_id"] = str(interaction.message_id)
            msg["interaction_metadata"] = meta
            if is_command:
                msg["interaction"] = {
                    "id": str(interaction.id),
                    "type": interaction.type,
                    "name": interaction.command_name or "",
                    "user": interaction.user.to_payload(),
                }
        self.messages[int(msg["id"])] = msg
        return msg

    def _edit(self, msg: dict[str, Any], body: dict[str, Any], files: list[UploadedFile]) -> dict[str, Any]:
        if "content" in body:
            msg["content"] = body["content"] or ""
        for key in ("embeds", "components"):
            if key in body:
                msg[key] = body[key] or []
        if "poll" in body:
            msg["poll"] = body["poll"]
        if "flags" in body:  # the ephemeral bit cannot be changed by an edit
            msg["flags"] = (int(msg.get("flags") or 0) & FLAG_EPHEMERAL) | (
                int(body["flags"] or 0) & ~FLAG_EPHEMERAL
            )
        if "content" in body:
            msg["mentions"] = self._mentions_in(msg.get("content") or "")
        if "attachments" in body or files:
            msg["attachments"] = self._attachments_from(
                int(msg["channel_id"]), body, files, msg.get("attachments", [])
            )
        msg["edited_timestamp"] = iso_now()
        return msg

    def _channel_or_404(self, p: dict[str, str]) -> tuple[int, _Reply | None]:
        cid = int(p["channel_id"])
        if cid not in self.channels:
            return cid, _error(404, 10003, "Unknown Channel")
        return cid, None

    def _message_or_404(self, p: dict[str, str]) -> tuple[dict[str, Any] | None, _Reply | None]:
        cid, err = self._channel_or_404(p)
        if err:
            return None, err
        msg = self.messages.get(int(p["message_id"]))
        if msg is None or int(msg["channel_id"]) != cid:
            return None, _error(404, 10008, "Unknown Message")
        return msg, None

    async def _get_channel(self, rec: RecordedRequest, p: dict[str, str]) -> _Reply:
        cid, err = self._channel_or_404(p)
        return err or _Reply(200, self.channels[cid])

    async def _typing(self, rec: RecordedRequest, p: dict[str, str]) -> _Reply:
        _cid, err = self._channel_or_404(p)
        return err or _Reply(204)

    async def _get_history(self, rec: RecordedRequest, p: dict[str, str]) -> _Reply:
        cid, err = self._channel_or_404(p)
        if err:
            return err
        limit = int(rec.query.get("limit", 50))
        msgs = [
            m
            for m in self.messages.values()
            if int(m["channel_id"]) == cid and not m["flags"] & FLAG_EPHEMERAL
        ]
        msgs.sort(key=lambda m: int(m["id"]), reverse=True)
        return _Reply(200, msgs[:limit])

    async def _create_message(self, rec: RecordedRequest, p: dict[str, str]) -> _Reply:
        cid, err = self._channel_or_404(p)
        if err:
            return err
        body = rec.json or {}
        if not (
            body.get("content")
            or body.get("embeds")
            or rec.files
            or body.get("components")
            or body.get("poll")
        ):
            return _error(400, 50006, "Cannot send an empty message")
        return _Reply(200, self._new_message(cid, body, rec.files))

    async def _get_message(self, rec: RecordedRequest, p: dict[str, str]) -> _Reply:
        msg, err = self._message_or_404(p)
        return err or _Reply(200, msg)

    async def _edit_message(self, rec: RecordedRequest, p: dict[str, str]) -> _Reply:
        msg, err = self._message_or_404(p)
        if err or msg is None:
            return err or _error(404, 10008, "Unknown Message")
        return _Reply(200, self._edit(msg, rec.json or {}, rec.files))

    async def _delete_message(self, rec: RecordedRequest, p: dict[str, str]) -> _Reply:
        msg, err = self._message_or_404(p)
        if err or msg is None:
            return err or _error(404, 10008, "Unknown Message")
        mid = int(msg["id"])
        del self.messages[mid]
        self.deleted_message_ids.append(mid)
        return _Reply(204)

    # interactions

    async def _interaction_callback(self, rec: RecordedRequest, p: dict[str, str]) -> _Reply:
        fi = self._interactions_by_token.get(p["token"])
        if fi is None or str(fi.id) != p["interaction_id"] or fi.expired:
            return _error(404, 10062, "Unknown interaction")
        if fi.acknowledged:
            return _error(400, 40060, "Interaction has already been acknowledged.")
        body = rec.json or {}
        ctype = int(body.get("type", 0))
        data = body.get("data") or {}
        resource: dict[str, Any] | None = None
        message: dict[str, Any] | None = None
        if ctype == CALLBACK_MESSAGE:
            message = self._new_message(fi.channel_id, data, rec.files, interaction=fi)
            fi.original_message_id = int(message["id"])
        elif ctype == CALLBACK_DEFERRED_MESSAGE:
            flags = FLAG_LOADING | (int(data.get("flags") or 0) & FLAG_EPHEMERAL)
            message = self._new_message(fi.channel_id, {"flags": flags}, [], interaction=fi)
            fi.original_message_id = int(message["id"])
        elif ctype in (CALLBACK_UPDATE_MESSAGE, CALLBACK_DEFERRED_UPDATE):
            if fi.message_id is None or fi.message_id not in self.messages:
                return _error(400, 50035, "Invalid Form Body")
            fi.original_message_id = fi.message_id
            if ctype == CALLBACK_UPDATE_MESSAGE:
                message = self._edit(self.messages[fi.message_id], data, rec.files)
        elif ctype not in (1, CALLBACK_AUTOCOMPLETE, CALLBACK_MODAL):
            return _error(400, 50035, "Invalid Form Body")
        fi.acknowledged = True
        fi.response_type = ctype
        fi.response_data = data
        if rec.query.get("with_response", "").lower() not in ("1", "true"):
            return _Reply(204)
        if message is not None:
            resource = {"type": ctype, "message": message}
        interaction: dict[str, Any] = {"id": str(fi.id), "type": fi.type}
        if fi.original_message_id is not None and ctype in (CALLBACK_MESSAGE, CALLBACK_DEFERRED_MESSAGE):
            interaction.update(
                response_message_id=str(fi.original_message_id),
                response_message_loading=ctype == CALLBACK_DEFERRED_MESSAGE,
                response_message_ephemeral=bool(message and message["flags"] & FLAG_EPHEMERAL),
            )
        out: dict[str, Any] = {"interaction": interaction}
        if resource is not None:
            out["resource"] = resource
        return _Reply(200, out)

    def _webhook_interaction(self, p: dict[str, str]) -> tuple[FakeInteraction | None, _Reply | None]:
        if int(p["application_id"]) != self.application_id:
            return None, _error(404, 10015, "Unknown Webhook")
        fi = self._interactions_by_token.get(p["token"])
        if fi is None or fi.expired:
            return None, _error(401, 50027, "Invalid Webhook Token")
        if not fi.acknowledged:
            return None, _error(404, 10015, "Unknown Webhook")
        return fi, None

    def _webhook_message(self, fi: FakeInteraction, p: dict[str, str]) -> dict[str, Any] | None:
        if p["message_id"] == "@original":
            mid = fi.original_message_id
        else:
            mid = int(p["message_id"])
            if mid != fi.original_message_id and mid not in fi.followup_message_ids:
                return None
        return self.messages.get(mid) if mid is not None else None

    async def _followup_create(self, rec: RecordedRequest, p: dict[str, str]) -> _Reply:
        fi, err = self._webhook_interaction(p)
        if err or fi is None:
            return err or _error(404, 10015, "Unknown Webhook")
        body = rec.json or {}
        if not (
            body.get("content")
            or body.get("embeds")
            or rec.files
            or body.get("components")
            or body.get("poll")
        ):
            return _error(400, 50006, "Cannot send an empty message")
        msg = self._new_message(fi.channel_id, body, rec.files, interaction=fi)
        fi.followup_message_ids.append(int(msg["id"]))
        if rec.query.get("wait", "").lower() in ("1", "true"):
            return _Reply(200, msg)
        return _Reply(204)

    async def _webhook_get_message(self, rec: RecordedRequest, p: dict[str, str]) -> _Reply:
        fi, err = self._webhook_interaction(p)
        if err or fi is None:
            return err or _error(404, 10015, "Unknown Webhook")
        msg = self._webhook_message(fi, p)
        return _Reply(200, msg) if msg else _error(404, 10008, "Unknown Message")

    async def _webhook_edit_message(self, rec: RecordedRequest, p: dict[str, str]) -> _Reply:
        fi, err = self._webhook_interaction(p)
        if err or fi is None:
            return err or _error(404, 10015, "Unknown Webhook")
        msg = self._webhook_message(fi, p)
        if msg is None:
            return _error(404, 10008, "Unknown Message")
        msg["flags"] = int(msg.get("flags", 0)) & ~FLAG_LOADING
        return _Reply(200, self._edit(msg, rec.json or {}, rec.files))

    async def _webhook_delete_message(self, rec: RecordedRequest, p: dict[str, str]) -> _Reply:
        fi, err = self._webhook_interaction(p)
        if err or fi is None:
            return err or _error(404, 10015, "Unknown Webhook")
        msg = self._webhook_message(fi, p)
        if msg is None:
            return _error(404, 10008, "Unknown Message")
        mid = int(msg["id"])
        del self.messages[mid]
        self.deleted_message_ids.append(mid)
        return _Reply(204)
