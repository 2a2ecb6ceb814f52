"""REST routes for logging in (``@me``, the application, the gateway URL), users and DMs, and the guild."""

from __future__ import annotations

from .payloads import APPLICATION_FLAGS
from .records import Abort, RecordedRequest, Reply
from .state import FakeState


class UsersMixin(FakeState):
    # ------------------------------------------------------------------------------------ login

    async def _get_me(self, rec: RecordedRequest, p: dict[str, str]) -> Reply:
        user = self._bot_self_payload()
        user.update(locale="en-US", bio="")
        return Reply(200, user)

    async def _get_application(self, rec: RecordedRequest, p: dict[str, str]) -> Reply:
        return Reply(
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
                "flags": APPLICATION_FLAGS,
                "bot": self.bot_user.to_payload(),
                "interactions_endpoint_url": None,
                "role_connections_verification_url": None,
                "tags": [],
                "redirect_uris": [],
                "approximate_guild_count": 1,
                "integration_types_config": {"0": {}},
            },
        )

    async def _get_gateway(self, rec: RecordedRequest, p: dict[str, str]) -> Reply:
        return Reply(200, {"url": self.gateway_url.rstrip("/")})

    async def _get_gateway_bot(self, rec: RecordedRequest, p: dict[str, str]) -> Reply:
        return Reply(
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

    # ----------------------------------------------------------------------------- users and DMs

    async def _open_dm(self, rec: RecordedRequest, p: dict[str, str]) -> Reply:
        try:
            user = self.users[int((rec.json or {})["recipient_id"])]
        except (KeyError, ValueError, TypeError):
            raise Abort(400, 50035, "Invalid Form Body") from None
        return Reply(200, self.channels[self.dm_channel_id(user)])

    async def _get_user(self, rec: RecordedRequest, p: dict[str, str]) -> Reply:
        user = self.users.get(int(p["user_id"]))
        if user is None:
            raise Abort(404, 10013, "Unknown User")
        return Reply(200, user.to_payload())

    # ---------------------------------------------------------------------------------- the guild

    def _check_guild(self, p: dict[str, str]) -> None:
        if int(p["guild_id"]) != self.guild_id:
            raise Abort(404, 10004, "Unknown Guild")

    async def _get_guild(self, rec: RecordedRequest, p: dict[str, str]) -> Reply:
        self._check_guild(p)
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
        return Reply(200, guild)

    async def _get_guild_channels(self, rec: RecordedRequest, p: dict[str, str]) -> Reply:
        self._check_guild(p)
        return Reply(200, self._guild_channels())

    async def _get_guild_roles(self, rec: RecordedRequest, p: dict[str, str]) -> Reply:
        self._check_guild(p)
        return Reply(200, self._roles_payload())

    async def _get_member(self, rec: RecordedRequest, p: dict[str, str]) -> Reply:
        self._check_guild(p)
        uid = int(p["user_id"])
        if uid not in self.guild_member_ids:
            raise Abort(404, 10007, "Unknown Member")
        return Reply(200, self._member_payload(self.users[uid]))
