"""The fake gateway websocket: HELLO, IDENTIFY -> READY + GUILD_CREATE, heartbeats, RESUME, dispatch."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from .payloads import PRIVILEGED_INTENTS

if TYPE_CHECKING:
    from .server import FakeDiscord

log = logging.getLogger(__name__)

OP_DISPATCH = 0
OP_HEARTBEAT = 1
OP_IDENTIFY = 2
OP_PRESENCE = 3
OP_VOICE_STATE = 4
OP_RESUME = 6
OP_RECONNECT = 7
OP_REQUEST_MEMBERS = 8
OP_INVALID_SESSION = 9
OP_HELLO = 10
OP_HEARTBEAT_ACK = 11

CLOSE_AUTHENTICATION_FAILED = 4004
CLOSE_DISALLOWED_INTENTS = 4014


class GatewaySession:
    """One websocket connection from a client."""

    def __init__(self, fake: FakeDiscord, ws: web.WebSocketResponse) -> None:
        self.fake = fake
        self.ws = ws
        self.session_id: str = secrets.token_hex(16)
        self.seq = 0
        self.identified = asyncio.Event()
        self.identify: dict[str, Any] | None = None
        self.intents: int = 0
        self.received: list[dict[str, Any]] = []  # every op the client sent, in order
        self._send_lock = asyncio.Lock()

    @property
    def closed(self) -> bool:
        return self.ws.closed

    async def send_op(self, op: int, d: Any) -> None:
        async with self._send_lock:
            if not self.ws.closed:
                await self.ws.send_str(json.dumps({"op": op, "d": d, "s": None, "t": None}))

    async def dispatch(self, event: str, d: Any) -> None:
        async with self._send_lock:
            if self.ws.closed:
                return
            self.seq += 1
            await self.ws.send_str(json.dumps({"op": OP_DISPATCH, "t": event, "s": self.seq, "d": d}))

    async def close(self, code: int = 1000, message: bytes = b"") -> None:
        if not self.ws.closed:
            await self.ws.close(code=code, message=message)

    async def run(self) -> None:
        await self.send_op(OP_HELLO, {"heartbeat_interval": self.fake.heartbeat_interval_ms, "_trace": []})
        async for msg in self.ws:
            if msg.type != WSMsgType.TEXT:
                if msg.type == WSMsgType.ERROR:
                    log.debug("fake gateway websocket error: %r", self.ws.exception())
                continue
            try:
                payload = json.loads(msg.data)
            except ValueError:
                await self.close(4002, b"Error while decoding payload.")
                return
            self.received.append(payload)
            await self._handle(payload)
            self.fake._notify()

    async def _handle(self, payload: dict[str, Any]) -> None:
        op = payload.get("op")
        d = payload.get("d")
        if op == OP_HEARTBEAT:
            await self.send_op(OP_HEARTBEAT_ACK, None)
        elif op == OP_IDENTIFY:
            await self._on_identify(d)
        elif op == OP_RESUME:
            await self._on_resume(d)
        elif op == OP_REQUEST_MEMBERS:
            await self._on_request_members(d)
        elif op in (OP_PRESENCE, OP_VOICE_STATE):
            pass  # recorded in self.received, nothing to answer
        else:
            log.debug("fake gateway ignoring op %s", op)

    async def _on_identify(self, d: dict[str, Any]) -> None:
        fake = self.fake
        self.identify = d
        fake.identify_payloads.append(d)
        if d.get("token") != fake.token:
            await self.close(CLOSE_AUTHENTICATION_FAILED, b"Authentication failed.")
            return
        self.intents = int(d.get("intents", 0))
        if self.intents & PRIVILEGED_INTENTS & ~fake.allowed_privileged_intents:
            await self.close(CLOSE_DISALLOWED_INTENTS, b"Disallowed intent(s).")
            return
        ready = fake._ready_payload(self)
        if "shard" in d:
            ready["shard"] = d["shard"]
        await self.dispatch("READY", ready)
        for guild in fake._guild_create_payloads():
            await self.dispatch("GUILD_CREATE", guild)
        self.identified.set()
        fake._session_identified(self)

    async def _on_resume(self, d: dict[str, Any]) -> None:
        fake = self.fake
        old = fake._sessions_by_id.get(d.get("session_id", ""))
        if d.get("token") != fake.token or old is None:
            await self.send_op(OP_INVALID_SESSION, False)
            return
        self.session_id = old.session_id
        self.seq = old.seq
        self.identify = old.identify
        self.intents = old.intents
        await self.dispatch("RESUMED", {"_trace": []})
        self.identified.set()
        fake._session_identified(self)

    async def _on_request_members(self, d: dict[str, Any]) -> None:
        fake = self.fake
        guild_id = int(d["guild_id"]) if not isinstance(d["guild_id"], list) else int(d["guild_id"][0])
        members = [fake._member_payload(u) for u in fake.guild_members()]
        user_ids = d.get("user_ids")
        if user_ids:
            wanted = {str(u) for u in (user_ids if isinstance(user_ids, list) else [user_ids])}
            members = [m for m in members if m["user"]["id"] in wanted]
        chunk: dict[str, Any] = {
            "guild_id": str(guild_id),
            "members": members,
            "chunk_index": 0,
            "chunk_count": 1,
        }
        if d.get("nonce") is not None:
            chunk["nonce"] = d["nonce"]
        await self.dispatch("GUILD_MEMBERS_CHUNK", chunk)
