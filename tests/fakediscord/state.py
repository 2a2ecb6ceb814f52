"""The fake's world and store: users, the one guild, its channels and roles, DMs, ids, messages,
attachments (served as the CDN), interactions, commands and gateway sessions."""

from __future__ import annotations

import asyncio
import mimetypes
import socket
from collections.abc import Iterable
from typing import Any

import discord
import yarl
from aiohttp import web

from .gateway import GatewaySession
from .payloads import (
    APPLICATION_FLAGS,
    BOT_ROLE_PERMISSIONS,
    EVERYONE_PERMISSIONS,
    PRIVILEGED_INTENTS,
    FakeUser,
    dm_channel_payload,
    iso_now,
    member_payload,
    role_payload,
    snowflake,
    text_channel_payload,
)
from .recorder import Recorder
from .records import API_PREFIX, FakeInteraction, UploadedFile

DEFAULT_UPLOAD_LIMIT = 10 * 1024 * 1024  # discord.utils.DEFAULT_FILE_SIZE_LIMIT_BYTES (unboosted guild)


class FakeState(Recorder):
    """Everything the fake knows; the REST handlers, event injection and the facade build on it."""

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
        super().__init__()
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

        # stored state (requests and faults are kept by Recorder)
        self.messages: dict[int, dict[str, Any]] = {}  # every message the fake knows, current state
        self.deleted_message_ids: list[int] = []
        self.attachments: dict[int, UploadedFile] = {}  # attachment id -> bytes, served as the CDN
        self.interactions: dict[int, FakeInteraction] = {}
        self._interactions_by_token: dict[str, FakeInteraction] = {}
        self.global_commands: list[dict[str, Any]] = []
        self.guild_commands: dict[int, list[dict[str, Any]]] = {}
        self.identify_payloads: list[dict[str, Any]] = []
        self.sessions: list[GatewaySession] = []
        self._sessions_by_id: dict[str, GatewaySession] = {}
        self.dropped_events: list[tuple[str, dict[str, Any], str]] = []  # (event, payload, why)
        self.client_errors: list[tuple[str, BaseException]] = []  # errors raised in the bot's handlers

        # the server, and the clients running against it
        self._runner: web.AppRunner | None = None
        self._sock: socket.socket | None = None
        self.port: int = 0
        self._clients: dict[int, tuple[discord.Client, asyncio.Task[None]]] = {}
        self._patch_depth = 0
        self._saved_patch: tuple[str, yarl.URL] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        return f"{self.url}{API_PREFIX}"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/"

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

    def mention(self, user: Any) -> str:
        return f"<@{self._user_of(user).id}>"

    def _bot_self_payload(self) -> dict[str, Any]:
        """The bot's own user object, as READY and ``GET /users/@me`` give it."""
        user = self.bot_user.to_payload()
        user.update(verified=True, mfa_enabled=False, email=None)
        return user

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

    def _guild_channels(self) -> list[dict[str, Any]]:
        return [c for c in self.channels.values() if "guild_id" in c]

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
        return {
            "v": 10,
            "user": self._bot_self_payload(),
            "guilds": [{"id": str(self.guild_id), "unavailable": True}],
            "session_id": session.session_id,
            "session_type": "normal",
            "resume_gateway_url": self.gateway_url,
            "application": {"id": str(self.application_id), "flags": APPLICATION_FLAGS},
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
            "channels": self._guild_channels(),
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

    # ---------------------------------------------------------------------------------- attachments

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

    def attachment_bytes(self, attachment: dict[str, Any] | int | str) -> bytes:
        """Bytes of an attachment (payload dict, id, or URL) that the fake stored."""
        if isinstance(attachment, dict):
            aid = int(attachment["id"])
        elif isinstance(attachment, str) and "/" in attachment:
            aid = int(yarl.URL(attachment).parts[-2])
        else:
            aid = int(attachment)
        return self.attachments[aid].data
