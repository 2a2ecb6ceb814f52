"""The central error handlers: a short message with a reference for the user, the traceback in the log."""

from __future__ import annotations

import logging
import re
import sqlite3

import pytest
import simcord

from tests.discord.conftest import World

REF = re.compile(r"ref `([0-9a-f]{8})`")


def ref_in(text: str) -> str:
    match = REF.search(text)
    assert match, f"no reference id in {text!r}"
    return match.group(1)


def logged_with(caplog: pytest.LogCaptureFixture, ref: str) -> logging.LogRecord:
    records = [r for r in caplog.records if r.name == "bot.discord.client" and ref in r.getMessage()]
    assert len(records) == 1, [r.getMessage() for r in caplog.records]
    return records[0]


async def break_the_journal(world: World) -> None:
    """The database connection goes away under the running bot (as after a disk failure)."""
    await world.bot.core.db.run(lambda journal: journal.conn.close())


async def test_failing_command_shows_a_reference_and_logs_the_traceback(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot")
    ok = await world.alice.slash(world.channel, "queue")
    assert ok.response.content == "The queue is empty."

    await break_the_journal(world)
    result = await world.alice.slash(world.channel, "queue")

    assert result.ephemeral
    text = result.response.content
    ref = ref_in(text)
    assert text == f"Sorry, something went wrong (ref `{ref}`). Please try again later."
    assert "sqlite" not in text.lower() and "Traceback" not in text  # nothing internal leaks

    record = logged_with(caplog, ref)
    assert record.levelno == logging.ERROR
    assert record.exc_info is not None
    assert "ProgrammingError" in caplog.text and "Cannot operate on a closed database" in caplog.text
    # simcord saw the same failure; acknowledge it so teardown does not re-raise it.
    simcord.assert_error(world.env, sqlite3.ProgrammingError)


async def test_failing_mention_replies_with_a_reference_and_logs_the_traceback(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    await break_the_journal(world)
    request = await world.alice.send(world.channel, f"{world.bot.user.mention} a corgi")

    reply = world.channel.last_message
    assert reply.reference.message_id == request.id
    ref = ref_in(reply.content)
    record = logged_with(caplog, ref)
    assert record.levelno == logging.ERROR and record.exc_info is not None
    assert "on_message" in record.getMessage()
    simcord.assert_error(world.env, sqlite3.ProgrammingError)
