"""Messages: building, editing and deleting them in the store, and the channel/message REST routes."""

from __future__ import annotations

import re
from typing import Any

from .payloads import FLAG_EPHEMERAL, INTERACTION_APPLICATION_COMMAND, FakeUser, iso_now, snowflake
from .records import Abort, FakeInteraction, RecordedRequest, Reply, UploadedFile
from .state import FakeState


class MessagesMixin(FakeState):
    # ------------------------------------------------------------------------------- the store

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

    def _set_reply_to(
        self, msg: dict[str, Any], ref_id: int, channel_id: Any, guild_id: int | None = None
    ) -> None:
        """Make ``msg`` a reply (type 19) to message ``ref_id``."""
        msg["type"] = 19
        msg["message_reference"] = {
            "type": 0,
            "message_id": str(ref_id),
            "channel_id": str(channel_id),
            **({"guild_id": str(guild_id)} if guild_id else {}),
        }
        msg["referenced_message"] = self.messages.get(ref_id)

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

    @staticmethod
    def _require_content(body: dict[str, Any], files: list[UploadedFile]) -> None:
        if not (
            body.get("content") or body.get("embeds") or files or body.get("components") or body.get("poll")
        ):
            raise Abort(400, 50006, "Cannot send an empty message")

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
            self._set_reply_to(msg, int(ref["message_id"]), ref.get("channel_id", channel_id))
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

    def _delete(self, msg: dict[str, Any]) -> Reply:
        mid = int(msg["id"])
        del self.messages[mid]
        self.deleted_message_ids.append(mid)
        return Reply(204)

    def channel_messages(self, channel_id: int | None = None) -> list[dict[str, Any]]:
        """Messages the bot created with ``POST /channels/{id}/messages``, current state, in order."""
        out = []
        for rec in self.find_requests("POST /channels/{channel_id}/messages", ok=True):
            if channel_id is not None and int(rec.params["channel_id"]) != channel_id:
                continue
            mid = int(rec.response["id"])
            out.append(self.messages.get(mid, rec.response))
        return out

    # ------------------------------------------------------------------------------ REST routes

    def _channel(self, p: dict[str, str]) -> int:
        cid = int(p["channel_id"])
        if cid not in self.channels:
            raise Abort(404, 10003, "Unknown Channel")
        return cid

    def _message(self, p: dict[str, str]) -> dict[str, Any]:
        cid = self._channel(p)
        msg = self.messages.get(int(p["message_id"]))
        if msg is None or int(msg["channel_id"]) != cid:
            raise Abort(404, 10008, "Unknown Message")
        return msg

    async def _get_channel(self, rec: RecordedRequest, p: dict[str, str]) -> Reply:
        return Reply(200, self.channels[self._channel(p)])

    async def _typing(self, rec: RecordedRequest, p: dict[str, str]) -> Reply:
        self._channel(p)
        return Reply(204)

    async def _get_history(self, rec: RecordedRequest, p: dict[str, str]) -> Reply:
        cid = self._channel(p)
        limit = int(rec.query.get("limit", 50))
        msgs = [
            m
            for m in self.messages.values()
            if int(m["channel_id"]) == cid and not m["flags"] & FLAG_EPHEMERAL
        ]
        msgs.sort(key=lambda m: int(m["id"]), reverse=True)
        return Reply(200, msgs[:limit])

    async def _create_message(self, rec: RecordedRequest, p: dict[str, str]) -> Reply:
        cid = self._channel(p)
        body = rec.json or {}
        self._require_content(body, rec.files)
        return Reply(200, self._new_message(cid, body, rec.files))

    async def _get_message(self, rec: RecordedRequest, p: dict[str, str]) -> Reply:
        return Reply(200, self._message(p))

    async def _edit_message(self, rec: RecordedRequest, p: dict[str, str]) -> Reply:
        return Reply(200, self._edit(self._message(p), rec.json or {}, rec.files))

    async def _delete_message(self, rec: RecordedRequest, p: dict[str, str]) -> Reply:
        return self._delete(self._message(p))
