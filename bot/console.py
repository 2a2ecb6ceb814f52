"""The console adapter: the whole chat workflow on stdin/stdout, without Discord.

Each input line is `USER: TEXT`, where TEXT is a prompt with options or a /command. Every
line gets exactly one answer (`queued`, `refused` or `info`); progress and results follow as
the jobs run. With `--json` each event is one JSON object per line, which is what scripts
and tests read; without it, the same replies as a person would see them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
import sys
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TextIO

from bot import i18n
from bot.core import Answer, Core, Requester, info, refused
from bot.flags import MAX_TEXT
from bot.http import attach
from bot.i18n import console_texts, texts
from bot.moderation import Moderation
from bot.policy import clean
from engine.journal import Job, JobState

log = logging.getLogger(__name__)

CONSOLE_GUILD = "console"
MAX_NAME = 64
# A name, the colon and a command word around the longest text a prompt may have; anything
# longer is refused before it is looked at, so no line costs more than a glance.
MAX_LINE = MAX_TEXT + 100

# What the console says is in `bot.console_texts` (English) and `bot.locales.fr.console`.


def split_line(line: str) -> tuple[str, str] | None:
    """`"alice: a cat"` -> `("alice", "a cat")`, or None when the line names nobody.

    The name is what comes before the first colon, stripped, at most `MAX_NAME` characters and
    on one line; one space after the colon is dropped. Plain string operations, each one pass
    over the line, rather than a regex: a pattern with a whitespace run on each side of an
    optional group backtracks quadratically, and a 32 KB line of spaces took a minute.
    """
    name, colon, text = line.partition(":")
    name = name.strip()
    if not colon or not name or len(name) > MAX_NAME or "\n" in name:
        return None
    if text[:1].isspace():
        text = text[1:]
    return name, text


# Characters a terminal acts on rather than shows: C0 and C1 controls (ESC starts the sequences
# that move the cursor, clear the screen or recolour text; CR rewrites the line), the bidi
# controls that reorder what follows, and the Unicode line and paragraph separators. Newlines
# and tabs of the bot's own multi-line replies stay; whatever a member typed is quoted with
# `bot.texts.quoted` before it gets into a reply, so it brings no newline of its own.
_TERMINAL_CONTROLS = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)
# json.dumps already writes C0 controls as \u00XX escapes; these it would leave raw.
_JSON_UNESCAPED = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _spelled_out(match: re.Match[str]) -> str:
    return repr(match.group())[1:-1]


def _json_escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


class ConsoleAdapter:
    """Prints every event, in order, from a writer thread of its own.

    A slow reader (a full pipe, a paused terminal) then stalls only that thread, never the
    event loop: intake goes on, and the lease on a reply being printed keeps being renewed, so
    another bot process on the same journal does not take it over and print it again.
    """

    name = "console"

    def __init__(self, out: TextIO, *, as_json: bool) -> None:
        self.out = out
        self.as_json = as_json
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="promptreel-console-out")
        # The preview each rendering job was last shown with: a new one is told once.
        self._previews: dict[int, str] = {}

    def emit(self, event: str, user: str, text: str, **fields: Any) -> Future[None]:
        """Write one event; nothing in it can reach the terminal as a control character.

        JSON escapes (`\\u009b`) decode to the very same text, so scripts read what was said; the
        plain form spells the controls out (`\\x1b`) so a person sees that something was there.
        The separators U+2028/2029 and NEL would also split a line for `str.splitlines`.
        """
        if self.as_json:
            line = json.dumps({"event": event, "user": user, "text": text, **fields}, ensure_ascii=False)
            line = _JSON_UNESCAPED.sub(_json_escape, line)
        else:
            line = _TERMINAL_CONTROLS.sub(_spelled_out, f"[{event}] @{user}: {text}")
        return self._writer.submit(self._write, line)

    def _write(self, line: str) -> None:
        self.out.write(line + "\n")
        self.out.flush()

    def flush(self) -> None:
        """Wait until everything emitted so far is written (for hosts that read `out` back)."""
        self._writer.submit(self.out.flush).result()

    def close(self) -> None:
        """Wait until everything emitted is written."""
        self._writer.shutdown(wait=True)

    def answer(self, user: str, answer: Answer) -> None:
        self.emit(answer.event, user, answer.text, **answer.fields())

    async def on_progress(self, job: Job, step: int, total: int) -> None:
        who = job.user_name or job.user_id
        self.emit(
            "progress", who, console_texts.progress(job.id, step, total), job=job.id, step=step, total=total
        )
        path = job.preview_path
        if path is not None and job.state == JobState.RUNNING and self._previews.get(job.id) != path:
            self._previews[job.id] = path
            step_shown = job.preview_step
            self.emit(
                "preview",
                who,
                console_texts.preview_line(job.id, step_shown),
                job=job.id,
                step=step_shown,
                path=path,
            )

    async def on_delay(self, job: Job, text: str) -> None:
        """The bot's storage holds a rendered job up: one `delayed` line, then the clip later."""
        self.emit("delayed", job.user_name or job.user_id, f"job {job.id}: {text}", job=job.id)

    async def deliver(self, job: Job) -> dict[str, Any] | None:
        who = job.user_name or job.user_id
        self._previews.pop(job.id, None)  # the job's end is its last word: no preview after it
        if job.state in (JobState.RENDERED, JobState.DELIVERED):
            written = self.emit(
                "delivered",
                who,
                console_texts.delivered(job.id, str(job.clip_path)),
                job=job.id,
                path=job.clip_path,
            )
        elif job.state == JobState.CANCELLED:
            written = self.emit("cancelled", who, console_texts.cancelled(job.id), job=job.id)
        elif job.state == JobState.HELD:
            written = self.emit("held", who, texts.held_for_review(job.id), job=job.id)
        elif job.state == JobState.REJECTED:
            written = self.emit("rejected", who, texts.rejected_after_review(job.id), job=job.id)
        else:
            reason = job.error or "unknown error"
            written = self.emit(
                "failed", who, console_texts.failed(job.id, reason), job=job.id, reason=reason
            )
        # Recorded as sent only once really written: a crash before that prints it again, after
        # that it does not (stdout cannot be read back to check, as Discord's history can).
        await asyncio.wrap_future(written)
        return None


class Console:
    def __init__(
        self,
        core: Core,
        adapter: ConsoleAdapter,
        mods: set[str],
        owners: frozenset[str] = frozenset(),
        language: str | None = None,
    ) -> None:
        """`language`: `--lang`, before the console server's `/mod language` and the setting."""
        self.core = core
        self.adapter = adapter
        self.mods = mods
        self.owners = owners
        self.language = language
        self.moderation = Moderation(core)

    async def handle(self, line: str) -> None:
        # `--lang`, else the console server's `/mod language`, else the setting: for every answer.
        language = await self.core.language_of(CONSOLE_GUILD, self.language)
        i18n.use(language)
        parts = split_line(line)
        user = clean(parts[0]) if parts else ""
        if parts is None or not user:
            self.adapter.answer(user or "?", info(console_texts.USAGE))
            return
        if len(line) > MAX_LINE:
            self.adapter.answer(user, refused("invalid", console_texts.line_too_long(len(line), MAX_LINE)))
            return
        text = parts[1]
        try:
            who = Requester(
                user, user, CONSOLE_GUILD, CONSOLE_GUILD, is_mod=user in self.mods,
                is_owner=user in self.owners, language=language,
            )  # fmt: skip
            answer = await (
                self.command(who, text.strip())
                if text.strip().startswith("/")
                else self.core.submit_text(who, text, local_files=True)
            )
        except Exception as exc:  # one bad line must never end the session
            ref = secrets.token_hex(4)
            log.exception("console: handling a line from %s failed ref=%s", user, ref)
            answer = refused("error", console_texts.line_failed(type(exc).__name__, ref))
        self.adapter.answer(user, answer)

    async def command(self, who: Requester, text: str) -> Answer:
        words = text[1:].split()
        if not words:
            return refused("invalid", console_texts.USAGE)
        name, args = words[0].lower(), words[1:]
        core = self.core
        if name == "queue":
            return await core.queue(who)
        if name == "history":
            return await core.history(who)
        if name == "stats":
            return await core.stats()
        if name == "help":
            return info(core.help_text())
        if name in ("cancel", "show", "reroll", "remix", "extend", "report") and args:
            job_id = _job_id(args[0])
            if job_id is None:
                return refused("invalid", console_texts.not_a_job_number(args[0]))
            if name == "cancel":
                return await core.cancel(who, job_id)
            if name == "show":
                return await core.show(who, job_id)
            if name == "report":
                return await core.report(who, job_id)
            if name == "reroll":
                return await core.reroll(who, job_id)
            if name == "extend":
                return await core.extend(who, job_id, " ".join(args[1:]))
            return await core.remix(who, job_id, " ".join(args[1:]))
        if name == "forget":
            if [a.lower() for a in args[:1]] != ["me"]:
                return refused("invalid", texts.FORGET_USAGE)
            return await core.forget(who, confirm=[a.lower() for a in args[1:]] == ["confirm"])
        if name == "mod":
            return await self.mod(who, args)
        return refused("invalid", console_texts.unknown_command(name))

    async def mod(self, who: Requester, args: list[str]) -> Answer:
        m = self.moderation
        if not (who.is_mod or who.is_owner):
            return refused("not_moderator", console_texts.MOD_ONLY)
        action, rest = (args[0].lower(), args[1:]) if args else ("", [])
        # `--everywhere` (ban, unban) and `everywhere` (audit) reach every server: owners only.
        everywhere = any(word.lower() in ("--everywhere", "everywhere") for word in rest)
        rest = [word for word in rest if word.lower() not in ("--everywhere", "everywhere")]
        if action in ("ban", "unban") and rest:
            if action == "ban":
                return await m.ban(who, rest[0], " ".join(rest[1:]), everywhere=everywhere)
            return await m.unban(who, rest[0], everywhere=everywhere)
        if action == "pause":
            return await m.pause(who)
        if action == "resume":
            return await m.resume(who)
        if action == "clear":
            return await m.clear(who)
        if action == "cancel" and rest and _job_id(rest[0]) is not None:
            return await m.cancel(who, _job_id(rest[0]) or 0)
        if action == "limit":
            pairs = dict(item.partition("=")[::2] for item in rest)
            return await m.limit(who, pairs)
        if action == "purge" and len(rest) == 2 and rest[0].lower() in ("member", "server"):
            return await m.purge(who, rest[0].lower(), rest[1])
        if action == "reports":
            return await m.reports(who)
        if action == "quota":
            return await m.quota(who, dict(item.partition("=")[::2] for item in rest))
        if action == "words" and rest:
            return await m.words(who, rest[0].lower(), rest[1:])
        if action == "category" and len(rest) == 2 and rest[1].lower() in ("on", "off"):
            return await m.category(who, rest[0].lower(), rest[1].lower() == "on")
        if action == "allow" and rest:
            op = rest[0].lower()
            if op in ("list", "remove"):
                return await m.allow(who, op, " ".join(rest[1:]))
            return await m.allow(who, "add", " ".join(rest))
        if action == "classifier" and len(rest) <= 1:
            return await m.classifier(who, rest[0].lower() if rest else "")
        if action == "audit":
            return await m.audit(who, everywhere=everywhere)
        if action in ("images", "faces", "mark") and len(rest) == 1 and rest[0].lower() in ("on", "off"):
            switch = {"images": m.images, "faces": m.faces, "mark": m.mark}[action]
            return await switch(who, rest[0].lower() == "on")
        if action == "language" and len(rest) <= 1:
            return await m.language(who, rest[0] if rest else "")
        if action == "chain" and len(rest) == 1:
            return await m.chain(who, rest[0])
        if action == "held":
            return await m.held(who, everywhere=everywhere)
        if action in ("release", "reject") and rest and (job_id := _job_id(rest[0])) is not None:
            return await (m.release if action == "release" else m.reject)(who, job_id)
        if action == "threshold" and len(rest) <= 1:
            return await m.threshold(who, rest[0] if rest else None)
        if action == "workers":
            return await m.workers(who)
        if action == "dms" and len(rest) == 1 and rest[0].lower() in ("on", "off"):
            return await m.dms(who, rest[0].lower() == "on")
        return refused("invalid", console_texts.MOD_USAGE)


def _job_id(text: str) -> int | None:
    """`12`, `#12`, `١٢` or `１２` -> 12; anything else (`²`, `12a`, 5000 digits) -> None.

    isdecimal, not isdigit: superscripts are digits to isdigit but not to int(). The length
    cap keeps int() away from numbers no journal could hold.
    """
    text = text.lstrip("#")
    return int(text) if text.isdecimal() and len(text) < 12 else None


async def _read_lines(stream: TextIO, queue: asyncio.Queue[str | None]) -> None:
    """Read stdin on a thread: a pipe, a file or a terminal all work, and the loop never blocks."""
    loop = asyncio.get_running_loop()

    def pump() -> None:
        try:
            for line in stream:
                loop.call_soon_threadsafe(queue.put_nowait, line.rstrip("\r\n"))
        finally:
            # Even if reading fails, the session must end (and finish its jobs) rather than hang.
            loop.call_soon_threadsafe(queue.put_nowait, None)

    threading.Thread(target=pump, name="promptreel-stdin", daemon=True).start()


async def run_console(
    core: Core,
    adapter: ConsoleAdapter,
    mods: set[str],
    stream: TextIO = sys.stdin,
    *,
    owners: frozenset[str] = frozenset(),
    language: str | None = None,
) -> int:
    console = Console(core, adapter, mods, owners, language)
    attach(core)  # the owner's HTTP server, when PROMPTREEL_HTTP_PORT is set
    await core.start()
    try:
        lines: asyncio.Queue[str | None] = asyncio.Queue()
        await _read_lines(stream, lines)
        while (line := await lines.get()) is not None:
            await console.handle(line)
        await core.wait_idle()
    finally:
        await core.close()
        await asyncio.to_thread(adapter.close)
    return 0
