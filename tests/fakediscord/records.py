"""What the fake records and answers: requests and their uploaded files, replies and error replies,
scripted faults, route patterns, multipart parsing, and the record of one injected interaction."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import BodyPartReader, web
from multidict import CIMultiDict

from .payloads import FakeUser

# One logger for the whole server side of the fake, under the name it has always had.
log = logging.getLogger("tests.fakediscord.server")

API_PREFIX = "/api/v10"


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
class Reply:
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


def error_reply(status: int, code: int, message: str) -> Reply:
    """A Discord JSON error: ``{"message": ..., "code": ...}``."""
    return Reply(status, {"message": message, "code": code})


class Abort(Exception):
    """Raised by a route handler (or a lookup it calls) to answer with a Discord JSON error."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(f"{status} {code} {message}")
        self.reply = error_reply(status, code, message)


RouteHandler = Callable[[RecordedRequest, dict[str, str]], Awaitable[Reply]]


def compile_pattern(pattern: str) -> tuple[str | None, re.Pattern[str]]:
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


def pattern_matches(compiled: tuple[str | None, re.Pattern[str]], method: str, path: str) -> bool:
    want_method, regex = compiled
    return (want_method is None or want_method == method) and regex.match(path) is not None


@dataclass
class Fault:
    """A scripted failure for the next ``remaining`` requests matching ``pattern``."""

    pattern: str
    remaining: int
    reply: Reply
    hits: list[RecordedRequest] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._compiled = compile_pattern(self.pattern)

    def matches(self, method: str, path: str) -> bool:
        return self.remaining > 0 and pattern_matches(self._compiled, method, path)


async def read_request(request: web.Request, path: str) -> RecordedRequest:
    """Record an incoming REST request: JSON body, or multipart ``payload_json`` + ``files[n]``."""
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
