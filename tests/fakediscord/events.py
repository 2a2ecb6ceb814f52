"""Injecting gateway events into connected clients: messages, interactions, anything else, and
reconnects; plus the bookkeeping of which gateway sessions are live."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .commands import CommandsMixin
from .gateway import OP_INVALID_SESSION, OP_RECONNECT, GatewaySession
from .messages import MessagesMixin
from .payloads import (
    INTENT_DIRECT_MESSAGES,
    INTENT_GUILD_MESSAGES,
    INTENT_MESSAGE_CONTENT,
    INTERACTION_APPLICATION_COMMAND,
    INTERACTION_AUTOCOMPLETE,
    INTERACTION_COMPONENT,
    INTERACTION_MODAL_SUBMIT,
    FakeUser,
    snowflake,
)
from .records import FakeInteraction, log


class EventsMixin(MessagesMixin, CommandsMixin):
    # ------------------------------------------------------------------------------ sessions

    def _session_identified(self, session: GatewaySession) -> None:
        self._sessions_by_id[session.session_id] = session
        self._notify()

    @property
    def active_sessions(self) -> list[GatewaySession]:
        return [s for s in self.sessions if s.identified.is_set() and not s.closed]

    async def _deliver(
        self,
        event: str,
        data: dict[str, Any],
        required_intent: int | None,
        shape: Callable[[GatewaySession], dict[str, Any]] | None = None,
    ) -> int:
        """Send ``event`` to every live session (``shape(session)`` may tailor the payload);
        sessions lacking ``required_intent`` are skipped and logged in ``dropped_events``."""
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
            await session.dispatch(event, data if shape is None else shape(session))
            sent += 1
        return sent

    async def dispatch_event(
        self, event: str, data: dict[str, Any], *, required_intent: int | None = None
    ) -> int:
        """Send a DISPATCH to every connected, identified client. Returns how many got it.

        With ``required_intent``, sessions that did not IDENTIFY with that intent bit are skipped
        (recorded in ``dropped_events``), as real Discord does.
        """
        return await self._deliver(event, data, required_intent)

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

    def _origin(self, user: Any, channel_id: int | None, dm: bool) -> tuple[FakeUser, int, int | None]:
        """(who, channel id, guild id or None) of an injected event; defaults: alice in #general."""
        u = self.user if user is None else self._user_of(user)
        if dm:
            channel_id = self.dm_channel_id(u)
        elif channel_id is None:
            channel_id = self.channel_id
        if channel_id not in self.channels:
            raise KeyError(f"unknown channel {channel_id}")
        return u, channel_id, self._guild_of_channel(channel_id)

    # ------------------------------------------------------------------------------ messages

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
        user, channel_id, guild_id = self._origin(author, channel_id, dm)

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
            self._set_reply_to(msg, reference, channel_id, guild_id)
        if guild_id is not None:
            msg["guild_id"] = str(guild_id)
            msg["member"] = self._member_payload(user, include_user=False)
        if extra:
            msg.update(extra)
        self.messages[int(msg["id"])] = msg

        def as_seen_by(session: GatewaySession) -> dict[str, Any]:
            redact = (
                self.enforce_message_content_intent
                and not session.intents & INTENT_MESSAGE_CONTENT
                and guild_id is not None
                and user.id != self.bot_user.id
                and self.bot_user.id not in {m.id for m in mentioned}
            )
            if redact:
                return dict(msg, content="", embeds=[], attachments=[], components=[])
            return msg

        intent = INTENT_GUILD_MESSAGES if guild_id is not None else INTENT_DIRECT_MESSAGES
        await self._deliver("MESSAGE_CREATE", msg, intent, as_seen_by)
        return msg

    # -------------------------------------------------------------------------- interactions

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
        u, channel_id, guild_id = self._origin(user, channel_id, dm)

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
