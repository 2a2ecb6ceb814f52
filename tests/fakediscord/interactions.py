"""How the bot answers interactions: the callback route, followups and ``@original`` through the
interaction webhook, token expiry, and views of what was answered."""

from __future__ import annotations

from typing import Any

from .messages import MessagesMixin
from .payloads import (
    CALLBACK_AUTOCOMPLETE,
    CALLBACK_DEFERRED_MESSAGE,
    CALLBACK_DEFERRED_UPDATE,
    CALLBACK_MESSAGE,
    CALLBACK_MODAL,
    CALLBACK_PONG,
    CALLBACK_UPDATE_MESSAGE,
    FLAG_EPHEMERAL,
    FLAG_LOADING,
)
from .records import Abort, FakeInteraction, RecordedRequest, Reply


class InteractionsMixin(MessagesMixin):
    # ------------------------------------------------------------------------ looking at them

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

    # ----------------------------------------------------------------------------- REST routes

    async def _interaction_callback(self, rec: RecordedRequest, p: dict[str, str]) -> Reply:
        fi = self._interactions_by_token.get(p["token"])
        if fi is None or str(fi.id) != p["interaction_id"] or fi.expired:
            raise Abort(404, 10062, "Unknown interaction")
        if fi.acknowledged:
            raise Abort(400, 40060, "Interaction has already been acknowledged.")
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
                raise Abort(400, 50035, "Invalid Form Body")
            fi.original_message_id = fi.message_id
            if ctype == CALLBACK_UPDATE_MESSAGE:
                message = self._edit(self.messages[fi.message_id], data, rec.files)
        elif ctype not in (CALLBACK_PONG, CALLBACK_AUTOCOMPLETE, CALLBACK_MODAL):
            raise Abort(400, 50035, "Invalid Form Body")
        fi.acknowledged = True
        fi.response_type = ctype
        fi.response_data = data
        if rec.query.get("with_response", "").lower() not in ("1", "true"):
            return Reply(204)
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
        return Reply(200, out)

    def _webhook_interaction(self, p: dict[str, str]) -> FakeInteraction:
        """The acknowledged, unexpired interaction behind ``/webhooks/{application_id}/{token}``."""
        if int(p["application_id"]) != self.application_id:
            raise Abort(404, 10015, "Unknown Webhook")
        fi = self._interactions_by_token.get(p["token"])
        if fi is None or fi.expired:
            raise Abort(401, 50027, "Invalid Webhook Token")
        if not fi.acknowledged:
            raise Abort(404, 10015, "Unknown Webhook")
        return fi

    def _webhook_message(self, p: dict[str, str]) -> dict[str, Any]:
        """``@original`` or one of the interaction's followups."""
        fi = self._webhook_interaction(p)
        mid: int | None
        if p["message_id"] == "@original":
            mid = fi.original_message_id
        else:
            mid = int(p["message_id"])
            if mid != fi.original_message_id and mid not in fi.followup_message_ids:
                mid = None
        msg = self.messages.get(mid) if mid is not None else None
        if msg is None:
            raise Abort(404, 10008, "Unknown Message")
        return msg

    async def _followup_create(self, rec: RecordedRequest, p: dict[str, str]) -> Reply:
        fi = self._webhook_interaction(p)
        body = rec.json or {}
        self._require_content(body, rec.files)
        msg = self._new_message(fi.channel_id, body, rec.files, interaction=fi)
        fi.followup_message_ids.append(int(msg["id"]))
        if rec.query.get("wait", "").lower() in ("1", "true"):
            return Reply(200, msg)
        return Reply(204)

    async def _webhook_get_message(self, rec: RecordedRequest, p: dict[str, str]) -> Reply:
        return Reply(200, self._webhook_message(p))

    async def _webhook_edit_message(self, rec: RecordedRequest, p: dict[str, str]) -> Reply:
        msg = self._webhook_message(p)
        msg["flags"] = int(msg.get("flags", 0)) & ~FLAG_LOADING
        return Reply(200, self._edit(msg, rec.json or {}, rec.files))

    async def _webhook_delete_message(self, rec: RecordedRequest, p: dict[str, str]) -> Reply:
        return self._delete(self._webhook_message(p))
