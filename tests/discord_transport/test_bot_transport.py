"""Promptreel's Discord bot end to end against the loopback fake Discord.

A real `discord.py` client (the bot from `create_bot`) logs into `tests/fakediscord`; renders are
real tiny-model renders on the bot's in-process worker thread, and every assertion about
bookkeeping reads the real journal. Nothing of Promptreel is mocked. Waiting is event-driven:
on the fake's request log (`wait_for_request`) or on the dispatcher's "something was
delivered" signal, always with a timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator, Callable
from itertools import pairwise
from pathlib import Path
from typing import Any

from bot.discord import PromptreelBot, create_bot
from engine.journal import Job, JobState, Journal
from tests.fakediscord import FakeDiscord
from tests.fakediscord.server import RecordedRequest
from tests.helpers import decode_video

CALLBACK = "POST /interactions/{interaction_id}/{token}/callback"
WEBHOOK_EDIT = "PATCH /webhooks/{application_id}/{token}/messages/{message_id}"
CHANNEL_POST = "POST /channels/{channel_id}/messages"
CHANNEL_EDIT = "PATCH /channels/{channel_id}/messages/{message_id}"
HISTORY = "GET /channels/{channel_id}/messages"
GLOBAL_SYNC = "PUT /applications/{application_id}/commands"
GUILD_SYNC = "PUT /applications/{application_id}/guilds/{guild_id}/commands"

START_TIMEOUT = 60.0  # loading the model in setup_hook can be slow on a busy CI box
RENDER_TIMEOUT = 60.0
CANCEL_ID = re.compile(r"promptreel:cancel:(\d+)")


# --- helpers ----------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def running_bot(fake: FakeDiscord, settings: Any) -> AsyncIterator[PromptreelBot]:
    bot = create_bot(settings)
    async with fake.run_client(bot, timeout=START_TIMEOUT):
        yield bot


def with_file(rec: RecordedRequest) -> bool:
    return bool(rec.files)


def job_id_from_components(components: list[dict[str, Any]]) -> int:
    for row in components:
        for child in row.get("components", []):
            match = CANCEL_ID.fullmatch(child.get("custom_id") or "")
            if match:
                return int(match.group(1))
    raise AssertionError(f"no cancel button in {components!r}")


def custom_ids(components: list[dict[str, Any]]) -> list[str]:
    return [child["custom_id"] for row in components for child in row.get("components", [])]


async def wait_job(
    bot: PromptreelBot,
    job_id: int,
    predicate: Callable[[Job], bool],
    timeout: float = 15.0,  # noqa: ASYNC109
) -> Job:
    """Wait on the dispatcher's delivery signal (not a sleep) until the journal shows `predicate`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        job = await bot.core.db.get(job_id)
        assert job is not None
        if predicate(job):
            return job
        if loop.time() > deadline:
            raise TimeoutError(f"job {job_id} never matched; last seen {job.state}/{job.delivery}")
        await bot.core.dispatcher.changed(within=0.2)


async def wait_idle(bot: PromptreelBot, timeout: float = 15.0) -> None:  # noqa: ASYNC109
    await asyncio.wait_for(bot.core.wait_idle(), timeout)


def decode_upload(data: bytes, tmp_path: Path) -> tuple[Any, dict[str, Any]]:
    """An uploaded MP4 decoded with ffmpeg (`decode_video`): proves the file plays."""
    assert data[4:8] == b"ftyp", "not an MP4 container"
    path = tmp_path / "check.mp4"
    path.write_bytes(data)
    return decode_video(path)


def clip_bytes(job: Job) -> bytes:
    assert job.clip_path is not None
    return Path(job.clip_path).read_bytes()


def render_files(job: Job) -> list[str]:
    """The job's rendered clip files (one per render attempt), not the re-encodes beside them."""
    folder = Path(job.clip_path or "").parent
    return sorted(p.name for p in folder.glob(f"job-{job.id}-a*.mp4") if ".fit" not in p.name)


def pings(rec: RecordedRequest) -> dict[str, Any]:
    """The request's allowed_mentions with user ids as ints (discord.py may send either form)."""
    allowed = dict(rec.json["allowed_mentions"])
    if "users" in allowed:
        allowed["users"] = [int(u) for u in allowed["users"]]
    return allowed


def bot_mention(fake: FakeDiscord) -> str:
    return fake.mention(fake.bot_user)


# --- /video: status callback, then the clip as the interaction's response ----------------------


async def test_video_command_status_then_clip_via_interaction(
    fake_discord: FakeDiscord, make_settings: Callable[..., Any], tmp_path: Path
) -> None:
    fake = fake_discord
    async with running_bot(fake, make_settings()) as bot:
        fi = await fake.dispatch_command("video", {"prompt": "a red fox in the snow", "seed": 11})

        callback = await fake.wait_for_request(CALLBACK)
        assert callback.status == 200
        assert callback.json["type"] == 4  # a public message, not deferred
        status = callback.json["data"]
        assert "a red fox in the snow" in status["content"]
        assert status["allowed_mentions"] == {"parse": []}  # a prompt cannot ping anyone
        job_id = job_id_from_components(status["components"])
        assert custom_ids(status["components"]) == [f"promptreel:cancel:{job_id}"]
        assert fi.original_message_id is not None

        upload = await fake.wait_for_request(WEBHOOK_EDIT, predicate=with_file, timeout=RENDER_TIMEOUT)
        await wait_idle(bot)
        job = await bot.core.db.get(job_id)
        assert job is not None

    # The clip went out as an edit of the interaction's own response, as multipart.
    assert upload.status == 200 and upload.multipart
    assert upload.params["token"] == fi.token
    assert upload.params["message_id"] in ("@original", str(fi.original_message_id))
    assert upload.authorization is None  # interaction webhooks are not bot-authenticated
    assert [f.filename for f in upload.files] == [f"promptreel-{job_id}.mp4"]
    data = upload.files[0].data
    assert upload.json["content"].startswith(f"<@{fake.user.id}> ")
    assert upload.json["allowed_mentions"] == {"parse": []}
    assert custom_ids(upload.json["components"]) == [
        f"promptreel:{action}:{job_id}" for action in ("reroll", "remix", "info", "delete", "report")
    ]

    # The file is the rendered clip, untouched, and it decodes to what /video gives without
    # options: the tiny model's 8 frames at 64x64.
    assert clip_bytes(job) == data
    frames, meta = decode_upload(data, tmp_path)
    assert len(frames) == 8
    assert meta["size"] == (64, 64)

    # The original response now is the clip, buttons swapped.
    original = fake.original_response(fi)
    assert original is not None and len(original["attachments"]) == 1
    assert fake.attachment_bytes(original["attachments"][0]) == data
    assert custom_ids(original["components"])[0] == f"promptreel:reroll:{job_id}"

    # Journal: delivered exactly once, through the interaction.
    assert job.state == JobState.DELIVERED and job.delivery == "sent"
    assert job.attempts == 1 and job.delivery_attempts == 1
    assert job.reply["via"] == "interaction"
    assert job.reply["clip_message_id"] == fi.original_message_id
    assert len(fake.find_requests(WEBHOOK_EDIT, predicate=with_file)) == 1
    assert not fake.find_requests(CHANNEL_POST)  # nothing went to the channel
    assert fake.client_errors == []


# --- a mention: status reply, then the clip as a channel message replying to the request -------


async def test_mention_status_reply_then_clip_pings_only_the_requester(
    fake_discord: FakeDiscord, make_settings: Callable[..., Any], tmp_path: Path
) -> None:
    fake = fake_discord
    bob = fake.add_user("bob")
    carol = fake.add_user("carol")
    async with running_bot(fake, make_settings()) as bot:
        request = await fake.dispatch_message(
            f"{bot_mention(fake)} a lighthouse for {fake.mention(carol)} @everyone --seed 5",
            author=bob,
            mentions=[fake.bot_user, carol],
        )
        request_id = int(request["id"])

        status_rec = await fake.wait_for_request(CHANNEL_POST)
        clip_rec = await fake.wait_for_request(CHANNEL_POST, predicate=with_file, timeout=RENDER_TIMEOUT)
        await wait_idle(bot)
        status_id = int(status_rec.response["id"])
        job_id = job_id_from_components(status_rec.json["components"])
        job = await bot.core.db.get(job_id)
        assert job is not None

    # Status: a reply to the request that pings nobody (not even the replied-to author).
    assert status_rec.status == 200 and not status_rec.files
    assert int(status_rec.json["message_reference"]["message_id"]) == request_id
    assert status_rec.json["allowed_mentions"] == {"parse": [], "replied_user": False}
    assert custom_ids(status_rec.json["components"]) == [f"promptreel:cancel:{job_id}"]

    # Clip: a reply to the request, pinging the requester and nobody else; nonce for dedupe.
    assert clip_rec.status == 200 and clip_rec.multipart
    assert int(clip_rec.params["channel_id"]) == fake.channel_id
    assert int(clip_rec.json["message_reference"]["message_id"]) == request_id
    assert pings(clip_rec) == {"parse": [], "users": [bob.id], "replied_user": True}
    assert clip_rec.json["content"].startswith(f"<@{bob.id}> ")
    assert f"<@{carol.id}>" not in clip_rec.json["content"]  # the prompt's mention is escaped
    assert clip_rec.json["nonce"] == f"promptreel-{job_id}"
    assert clip_rec.json["enforce_nonce"] is True
    assert [f.filename for f in clip_rec.files] == [f"promptreel-{job_id}.mp4"]
    frames, meta = decode_upload(clip_rec.files[0].data, tmp_path)
    assert (len(frames), meta["size"]) == (8, (64, 64))  # only a seed was asked for: the defaults

    # The status message was finished ("Done") and lost its cancel button.
    status_now = fake.messages[status_id]
    assert "Done" in status_now["content"] and status_now["components"] == []

    assert job.state == JobState.DELIVERED and job.delivery == "sent" and job.delivery_attempts == 1
    assert job.reply["via"] == "channel"
    assert job.reply["clip_message_id"] == int(clip_rec.response["id"])
    assert len(fake.find_requests(CHANNEL_POST, predicate=with_file)) == 1
    assert fake.client_errors == []


# --- 429 on the upload: discord.py waits and retries; one delivery -----------------------------


async def test_rate_limited_upload_is_retried_once(
    fake_discord: FakeDiscord, make_settings: Callable[..., Any]
) -> None:
    fake = fake_discord
    async with running_bot(fake, make_settings()) as bot:
        await fake.dispatch_message(f"{bot_mention(fake)} a paper boat", mentions=[fake.bot_user])
        status_rec = await fake.wait_for_request(CHANNEL_POST)
        # The status reply is on the same route; the 429 is for the next post, the clip. The clip
        # cannot be sent before the bot has read this reply's response (it waits for the ack).
        fault = fake.rate_limit(CHANNEL_POST, retry_after=0.2)
        ok = await fake.wait_for_request(CHANNEL_POST, predicate=with_file, ok=True, timeout=RENDER_TIMEOUT)
        await wait_idle(bot)
        job_id = job_id_from_components(status_rec.json["components"])
        job = await bot.core.db.get(job_id)
        assert job is not None

    uploads = fake.find_requests(CHANNEL_POST, predicate=with_file)
    assert [r.status for r in uploads] == [429, 200]
    assert fault.hits == [uploads[0]] and fault.remaining == 0
    assert uploads[0].files[0].data == uploads[1].files[0].data == ok.files[0].data
    assert uploads[0].json["nonce"] == uploads[1].json["nonce"] == f"promptreel-{job_id}"
    # discord.py handled the 429 inside one send: one delivery attempt, one clip message.
    assert job.state == JobState.DELIVERED and job.delivery == "sent"
    assert job.delivery_attempts == 1
    assert job.reply["clip_message_id"] == int(ok.response["id"])
    assert len([m for m in fake.channel_messages(fake.channel_id) if m["attachments"]]) == 1
    assert fake.client_errors == []


# --- 413: a smaller re-encode of the same render is accepted -----------------------------------


async def test_upload_too_large_is_reencoded_smaller_without_rerender(
    fake_discord: FakeDiscord, make_settings: Callable[..., Any], tmp_path: Path
) -> None:
    fake = fake_discord
    options = {"prompt": "static on an old television", "frames": 24, "aspect": "16:9", "seed": 42}
    async with running_bot(fake, make_settings()) as bot:
        # 1. Learn the size of this exact render (same prompt, seed and options render the same).
        await fake.dispatch_command("video", options)
        first = await fake.wait_for_request(
            WEBHOOK_EDIT, predicate=with_file, ok=True, timeout=RENDER_TIMEOUT
        )
        await wait_idle(bot)
        full_size = first.files[0].size
        renders_before = (await bot.core.db.stats())["renders"]

        # 2. The same request again; the interaction carried the 10 MiB limit, and only then
        #    does the real limit drop below the clip (a guild that lost its boost, say).
        mark = fake.mark()
        fi = await fake.dispatch_command("video", options)
        limit = int(full_size * 0.8)
        fake.upload_limit = limit
        callback = await fake.wait_for_request(CALLBACK, since=mark)
        job_id = job_id_from_components(callback.json["data"]["components"])
        # Sent, or given up on: either way the journal says so, and the assertions tell which.
        job = await wait_job(bot, job_id, lambda j: j.delivery in ("sent", "failed"), RENDER_TIMEOUT)
        await wait_idle(bot)
        stats = await bot.core.db.stats()

    assert fi.original_message_id is not None
    uploads = fake.find_requests(WEBHOOK_EDIT, since=mark, predicate=with_file)
    seen = [(r.status, r.files[0].size) for r in uploads]
    # Refused as rendered, then accepted after a re-encode (normally the first, at 0.7x).
    assert [status for status, _ in seen] == [413] * (len(seen) - 1) + [200] and len(seen) >= 2, (seen, limit)
    assert all(a > b for (_, a), (_, b) in pairwise(seen)), seen  # each try smaller
    accepted = uploads[-1]
    rendered = clip_bytes(job)
    assert len(rendered) > limit  # the precondition: this clip really did not fit...
    assert job.reply["upload_limit"] > len(rendered)  # ...though the limit the bot was told said it did
    assert uploads[0].files[0].data == rendered  # first try: the clip as rendered
    small = accepted.files[0].data
    assert len(small) <= limit
    frames, _ = decode_upload(small, tmp_path)
    assert len(frames) == 24  # a smaller file, still every frame that was asked for
    original = fake.original_response(fi)
    assert original is not None and fake.attachment_bytes(original["attachments"][0]) == small

    # No second render: one attempt, one more render in total, one clip file for this job.
    assert job.attempts == 1
    assert stats["renders"] == renders_before + 1
    assert render_files(job) == [Path(job.clip_path or "").name]
    assert job.state == JobState.DELIVERED and job.delivery == "sent" and job.delivery_attempts == 1
    assert fake.client_errors == []


# --- expired interaction token: fall back to a channel reply ----------------------------------


async def test_expired_interaction_token_falls_back_to_channel_reply(
    fake_discord: FakeDiscord, make_settings: Callable[..., Any], tmp_path: Path
) -> None:
    fake = fake_discord
    async with running_bot(fake, make_settings()) as bot:
        fi = await fake.dispatch_command("video", {"prompt": "a slow sunrise", "frames": 16, "steps": 4})
        callback = await fake.wait_for_request(CALLBACK)
        # Expire at once: the clip cannot have gone out yet, since the bot only delivers after
        # it has read this callback's response (the ack) and the render has finished.
        assert not fake.find_requests(WEBHOOK_EDIT, predicate=with_file)
        fake.expire_interaction(fi)
        job_id = job_id_from_components(callback.json["data"]["components"])

        clip_rec = await fake.wait_for_request(
            CHANNEL_POST, predicate=with_file, ok=True, timeout=RENDER_TIMEOUT
        )
        await wait_idle(bot)
        job = await bot.core.db.get(job_id)
        assert job is not None

    # The bot tried the interaction first and got Discord's expired-token answer.
    tried = fake.find_requests(WEBHOOK_EDIT, predicate=with_file)
    assert [r.status for r in tried] == [401]
    assert tried[0].response["code"] == 50027

    status_id = fi.original_message_id
    assert status_id is not None
    assert int(clip_rec.json["message_reference"]["message_id"]) == status_id
    assert pings(clip_rec) == {"parse": [], "users": [fake.user.id], "replied_user": True}
    assert clip_rec.json["content"].startswith(f"<@{fake.user.id}> ")
    frames, _ = decode_upload(clip_rec.files[0].data, tmp_path)
    assert len(frames) == 16
    clip_message = fake.messages[int(clip_rec.response["id"])]
    assert clip_message["message_reference"]["message_id"] == str(status_id)
    assert custom_ids(clip_message["components"])[0] == f"promptreel:reroll:{job_id}"

    assert job.state == JobState.DELIVERED and job.delivery == "sent" and job.delivery_attempts == 1
    assert job.reply["via"] == "channel"
    assert job.reply["clip_message_id"] == int(clip_rec.response["id"])
    assert len(fake.find_requests(CHANNEL_POST, predicate=with_file)) == 1
    assert fake.client_errors == []


# --- persistent 5xx: recorded as failed-with-retry, delivered once the fault is gone -----------


async def test_server_error_on_upload_is_retried_later_exactly_once(
    fake_discord: FakeDiscord, make_settings: Callable[..., Any]
) -> None:
    fake = fake_discord
    async with running_bot(fake, make_settings()) as bot:
        await fake.dispatch_message(f"{bot_mention(fake)} a windmill at night", mentions=[fake.bot_user])
        status_rec = await fake.wait_for_request(CHANNEL_POST)
        job_id = job_id_from_components(status_rec.json["components"])
        # 503 is raised by discord.py at once (500/502/504 would be retried for 25 s first).
        fault = fake.server_error(CHANNEL_POST, status=503, times=1000)

        await fake.wait_for_request(CHANNEL_POST, predicate=with_file, status=503, timeout=RENDER_TIMEOUT)
        failed = await wait_job(bot, job_id, lambda j: j.delivery == "pending" and j.delivery_attempts == 1)
        after = await bot.core.db.run(
            lambda j: j.conn.execute("SELECT delivery_after FROM jobs WHERE id = ?", (job_id,)).fetchone()[0]
        )
        now = time.time()
        # Not owed yet: the dispatcher's own query leaves it alone until the backoff passes.
        assert job_id not in [j.id for j in await bot.core.db.deliverable("discord")]
        assert len(fake.find_requests(CHANNEL_POST, predicate=with_file)) == 1

        # The fault is gone; rather than sit out the 2 s backoff, make the retry due now.
        fake.clear_faults()

        def due_now(journal: Journal) -> None:
            with journal.atomic():
                journal.conn.execute("UPDATE jobs SET delivery_after = ? WHERE id = ?", (time.time(), job_id))

        await bot.core.db.run(due_now)
        ok = await fake.wait_for_request(CHANNEL_POST, predicate=with_file, ok=True, timeout=15.0)
        await wait_idle(bot)
        job = await bot.core.db.get(job_id)
        assert job is not None

    assert failed.state == JobState.RENDERED
    assert "503" in (failed.error or "")
    assert after > now and after - now < 5  # backoff(1) == 2 s from the failure
    kept = clip_bytes(failed)  # the clip was kept for the retry
    assert fault.hits and all(r.status == 503 for r in fault.hits)

    uploads = fake.find_requests(CHANNEL_POST, predicate=with_file)
    assert [r.status for r in uploads] == [503, 200]
    assert ok.files[0].data == kept  # the same render, not a new one
    assert job.attempts == 1
    assert job.state == JobState.DELIVERED and job.delivery == "sent" and job.delivery_attempts == 2
    assert job.reply["clip_message_id"] == int(ok.response["id"])
    assert len([m for m in fake.channel_messages(fake.channel_id) if m["attachments"]]) == 1
    assert fake.client_errors == []


# --- restart mid-delivery: the clip already in the channel is found, not posted again ----------


async def test_restart_finds_clip_posted_before_the_crash(
    fake_discord: FakeDiscord, make_settings: Callable[..., Any]
) -> None:
    """Exercises the channel-history path: the fake does not implement Discord's nonce dedupe,
    so a second POST would show up as a second clip message."""
    fake = fake_discord
    settings = make_settings()
    async with running_bot(fake, settings) as bot:
        request = await fake.dispatch_message(f"{bot_mention(fake)} a koi pond", mentions=[fake.bot_user])
        status_rec = await fake.wait_for_request(CHANNEL_POST)
        job_id = job_id_from_components(status_rec.json["components"])
        clip_rec = await fake.wait_for_request(
            CHANNEL_POST, predicate=with_file, ok=True, timeout=RENDER_TIMEOUT
        )
        await wait_idle(bot)
    clip_message_id = int(clip_rec.response["id"])

    # The crash: the clip was posted but finish_delivery never ran. Put the journal back into
    # exactly the state begin_delivery + a successful POST would leave behind.
    journal = Journal(settings.resolved_db_path)
    try:
        with journal.atomic():
            row = journal.conn.execute(
                "SELECT state, delivery, delivery_attempts, reply FROM jobs WHERE id = ?", (job_id,)
            ).fetchone()
            assert (row["state"], row["delivery"], row["delivery_attempts"]) == ("delivered", "sent", 1)
            journal.conn.execute(
                "UPDATE jobs SET state = 'rendered', delivery = 'sending', delivered_at = NULL,"
                " reply = json_remove(reply, '$.clip_message_id', '$.via') WHERE id = ?",
                (job_id,),
            )
        assert journal.get(job_id).reply.get("clip_message_id") is None  # type: ignore[union-attr]
    finally:
        journal.close()

    mark = fake.mark()
    async with running_bot(fake, settings) as bot:
        job = await wait_job(bot, job_id, lambda j: j.delivery == "sent")
        await wait_idle(bot)

    assert fake.find_requests(HISTORY, since=mark), "the new bot never looked for its earlier message"
    assert not fake.find_requests(CHANNEL_POST, since=mark, predicate=with_file), "clip posted twice"
    clips = [m for m in fake.channel_messages(fake.channel_id) if m["attachments"]]
    assert [int(m["id"]) for m in clips] == [clip_message_id]
    assert clips[0]["message_reference"]["message_id"] == request["id"]
    assert job.state == JobState.DELIVERED and job.delivery_attempts == 2
    assert job.reply["clip_message_id"] == clip_message_id
    assert fake.client_errors == []


# --- command sync: only when the command set changed ------------------------------------------


async def test_commands_sync_once_then_only_on_change_and_to_the_dev_guild(
    fake_discord: FakeDiscord, make_settings: Callable[..., Any]
) -> None:
    fake = fake_discord
    settings = make_settings(in_process_worker=False)  # no model needed to register commands

    async with running_bot(fake, settings):
        pass
    first = fake.find_requests(GLOBAL_SYNC)
    assert [r.status for r in first] == [200]
    names = sorted(c["name"] for c in first[0].json)
    assert names == ["forget", "help", "history", "mod", "queue", "show", "stats", "verify", "video"]
    assert sorted(c["name"] for c in fake.global_commands) == names

    mark = fake.mark()
    async with running_bot(fake, settings):
        pass
    assert fake.find_requests("GET /users/@me", since=mark)  # it did log in again
    assert not fake.find_requests(GLOBAL_SYNC, since=mark)
    assert not fake.find_requests(GUILD_SYNC, since=mark)

    mark = fake.mark()
    dev = make_settings(in_process_worker=False, discord_dev_guild=fake.guild_id)
    async with running_bot(fake, dev):
        pass
    guild_sync = fake.find_requests(GUILD_SYNC, since=mark)
    assert [(r.status, int(r.params["guild_id"])) for r in guild_sync] == [(200, fake.guild_id)]
    assert sorted(c["name"] for c in fake.guild_commands[fake.guild_id]) == names
    assert not fake.find_requests(GLOBAL_SYNC, since=mark)

    mark = fake.mark()
    async with running_bot(fake, dev):
        pass
    assert not fake.find_requests(GUILD_SYNC, since=mark)
    assert fake.client_errors == []
