"""Application commands: the REST routes the bot syncs them through, and turning a command name +
``{option: value}`` into interaction ``data`` typed from what was synced."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .payloads import EVERYONE_PERMISSIONS, FakeUser, snowflake
from .records import Abort, RecordedRequest, Reply
from .state import FakeState


class CommandsMixin(FakeState):
    # ---------------------------------------------------------------- interaction data for commands

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

    # ----------------------------------------------------------------------------- REST routes

    def _command_list(self, p: dict[str, str]) -> list[dict[str, Any]]:
        """The global or guild command list the route names (404 10002 for another application)."""
        if int(p["application_id"]) != self.application_id:
            raise Abort(404, 10002, "Unknown Application")
        if "guild_id" in p:
            return self.guild_commands.setdefault(int(p["guild_id"]), [])
        return self.global_commands

    def _command_by_id(self, p: dict[str, str]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """(its list, the command) for ``{command_id}``; 404 10063 when either is unknown."""
        if int(p["application_id"]) == self.application_id:
            cmds = self._command_list(p)
            cmd = next((c for c in cmds if c["id"] == p["command_id"]), None)
            if cmd is not None:
                return cmds, cmd
        raise Abort(404, 10063, "Unknown application command")

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

    async def _get_commands(self, rec: RecordedRequest, p: dict[str, str]) -> Reply:
        return Reply(200, self._command_list(p))

    async def _put_commands(self, rec: RecordedRequest, p: dict[str, str]) -> Reply:
        cmds = self._command_list(p)
        new = [self._make_command(body, p, cmds) for body in (rec.json or [])]
        cmds[:] = new
        return Reply(200, new)

    async def _post_command(self, rec: RecordedRequest, p: dict[str, str]) -> Reply:
        cmds = self._command_list(p)
        cmd = self._make_command(rec.json, p, cmds)
        cmds[:] = [c for c in cmds if c["id"] != cmd["id"]] + [cmd]
        return Reply(201, cmd)

    async def _get_command(self, rec: RecordedRequest, p: dict[str, str]) -> Reply:
        _cmds, cmd = self._command_by_id(p)
        return Reply(200, cmd)

    async def _patch_command(self, rec: RecordedRequest, p: dict[str, str]) -> Reply:
        _cmds, cmd = self._command_by_id(p)
        cmd.update(rec.json or {})
        cmd["version"] = str(snowflake())
        return Reply(200, cmd)

    async def _delete_command(self, rec: RecordedRequest, p: dict[str, str]) -> Reply:
        cmds, cmd = self._command_by_id(p)
        cmds.remove(cmd)
        return Reply(204)
