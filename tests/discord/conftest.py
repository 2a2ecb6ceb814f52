"""End-to-end fixtures for the Discord bot: the real bot, the real tiny model, a simulated Discord.

What they give a test:

- `world` (`World`): a started simcord `Env` running our bot (`create_bot(Settings(...))`) with a
  guild, a text channel `#studio`, a `Mods` role (Manage Server) and a plain `Fans` role, a
  moderator `mod` and two plain members `alice` and `bob` (bob has the `Fans` role).
  `world.bot` is always the live bot (it changes on `world.restart()`).
- `@pytest.mark.promptreel(**settings)`: overrides for the bot's `Settings`, e.g.
  `@pytest.mark.promptreel(allow_dms=False)`. `@pytest.mark.simcord(...)` options (e.g.
  `check_errors=False`) are honoured too.
- `make_settings(**overrides)` and `make_bot(**overrides)`: more settings/bots on the same data
  dir (what a restarted process would see); `world.restart()` swaps in a fresh bot.
- Waiting without sleeps: renders happen on the core's worker *thread*, which simcord cannot see,
  so `wait_for_job(env, job_id, states=...)` alternates `env.settle()` with short waits on the
  Dispatcher's `changed()` (woken by every delivery) until the journal says the job got there, or
  fails after `within` seconds. `wait_for_clip(env, job_id, channel)` waits for delivery and returns the
  delivered message, its attachment and the bytes.
- `bot_requests(env, since=..)`: the REST calls the bot made, to check `allowed_mentions`.

The tiny model is built once per session (`tiny_models_dir`) and loaded by every bot from there.
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import discord
import pytest
import pytest_asyncio
import simcord

from bot.config import Settings
from bot.discord import PromptreelBot, components, create_bot
from engine.journal import Job, JobState
from tests.helpers import isolated_settings

JOB_TIMEOUT = 30.0
# Every state a job stops in; a test waiting for "done" waits for one of these.
FINAL = frozenset(
    {JobState.DELIVERED, JobState.FAILED, JobState.DEAD, JobState.CANCELLED, JobState.REFUSED}
    | {JobState.HELD, JobState.REJECTED}  # the output check's: a held job waits for a moderator
)

# Set while test code (not the bot) waits on the Dispatcher, so the hook does not declare it.
_DRIVER: contextvars.ContextVar[bool] = contextvars.ContextVar("promptreel_test_driver", default=False)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "promptreel(**settings): overrides for the bot's Settings in tests/discord"
    )


# --- the model and settings --------------------------------------------------------------------


@pytest.fixture
def make_settings(tmp_path: Path, tiny_models_dir: Path) -> Callable[..., Settings]:
    """`make_settings(**overrides)`: Settings on this test's data dir (shared by restarts)."""

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "data_dir": tmp_path / "data",
            "models_dir": tiny_models_dir,
            # Every progress step becomes a status edit, so tests see them all.
            "status_edit_seconds": 0.0,
        }
        return isolated_settings(Settings, **{**values, **overrides})

    return make


@pytest.fixture
def settings(request: pytest.FixtureRequest, make_settings: Callable[..., Settings]) -> Settings:
    marker = request.node.get_closest_marker("promptreel")
    return make_settings(**(marker.kwargs if marker else {}))


# --- the bot in simcord ------------------------------------------------------------------------


class IdleWait:
    """The core's `idle_wait` hook: tells simcord that the Dispatcher is idle on purpose.

    Awaits issued by test code (inside `wait_for_job`) are passed through undeclared: simcord only
    accepts declarations from bot-owned work.
    """

    def __init__(self) -> None:
        self.env: simcord.Env | None = None

    def __call__(self, awaitable: Awaitable[Any]) -> Awaitable[Any]:
        if self.env is None or _DRIVER.get():
            return awaitable
        return self.env.external_wait(awaitable, reason="promptreel: waiting for jobs to finish")


@pytest.fixture
def idle_wait() -> IdleWait:
    return IdleWait()


@pytest.fixture
def make_bot(settings: Settings, idle_wait: IdleWait) -> Callable[..., PromptreelBot]:
    """`make_bot(**overrides)`: a fresh, unstarted bot wired to this test's simcord env."""

    def make(**overrides: Any) -> PromptreelBot:
        return create_bot(settings.model_copy(update=overrides), idle_wait=idle_wait)

    return make


async def close_core(bot: PromptreelBot) -> None:
    """Stop the bot's worker thread, Dispatcher and journal: what ending the process would do.

    simcord detaches a bot without calling `close()`, and the worker is a plain thread that would
    otherwise outlive the test (and claim jobs meant for the next bot on the same data dir).
    """
    with contextlib.suppress(Exception):  # a test may have broken the journal on purpose
        await bot.core.close()


@pytest_asyncio.fixture
async def simcord_env(
    request: pytest.FixtureRequest, make_bot: Callable[..., PromptreelBot], idle_wait: IdleWait
) -> AsyncIterator[simcord.Env]:
    """A started Env around our bot (overrides the simcord plugin's fixture of the same name).

    Built here rather than by the plugin because the bot's idle hook needs the Env.
    """
    marker = request.node.get_closest_marker("simcord")
    env = simcord.Env(make_bot(), **(marker.kwargs if marker else {}))
    idle_wait.env = env
    await env.start()
    try:
        yield env
    finally:
        await close_core(env.bot)  # type: ignore[arg-type]
        await env.shutdown()
        if env.check_errors:
            # Same as the simcord plugin: errors a test did not acknowledge fail it.
            env._raise_errors_since(env._errors_acknowledged)


@dataclass
class World:
    env: simcord.Env
    make_bot: Callable[..., PromptreelBot]
    guild: simcord.GuildHandle
    channel: simcord.ChannelHandle
    mods_role: simcord.RoleHandle
    fans_role: simcord.RoleHandle
    mod: simcord.MemberActor
    alice: simcord.MemberActor
    bob: simcord.MemberActor

    @property
    def bot(self) -> PromptreelBot:
        return self.env.bot  # type: ignore[return-value]

    async def restart(self, **overrides: Any) -> PromptreelBot:
        """Replace the bot by a fresh one on the same data dir, as after a process restart."""
        await self.env.settle()
        await close_core(self.bot)
        await self.env.restart_bot(self.make_bot(**overrides))
        return self.bot

    async def wait_for_job(self, job_id: int, **kw: Any) -> Job:
        return await wait_for_job(self.env, job_id, **kw)

    async def wait_for_clip(self, job_id: int, where: simcord.ChannelHandle | None = None, **kw: Any) -> Clip:
        return await wait_for_clip(self.env, job_id, where or self.channel, **kw)


@pytest.fixture
def world(simcord_env: simcord.Env, make_bot: Callable[..., PromptreelBot]) -> World:
    env = simcord_env
    guild = env.create_guild("Promptreel Test Server")
    channel = guild.create_text_channel("studio")
    mods_role = guild.create_role("Mods", permissions=discord.Permissions(manage_guild=True))
    fans_role = guild.create_role("Fans", permissions=discord.Permissions.none(), mentionable=True)
    mod = guild.add_member(env.create_user("mod"), roles=[mods_role])
    alice = guild.add_member(env.create_user("alice"))
    bob = guild.add_member(env.create_user("bob"), roles=[fans_role])
    return World(env, make_bot, guild, channel, mods_role, fans_role, mod, alice, bob)


# --- waiting for the worker thread -------------------------------------------------------------


async def wait_for_job(
    env: simcord.Env,
    job_id: int,
    *,
    states: Iterable[JobState] = FINAL,
    delivered: bool = True,
    within: float = JOB_TIMEOUT,
) -> Job:
    """Return the job once it is in one of `states` and (if `delivered`) no reply is still owed.

    Between looks at the journal the bot's own work is settled and the test waits on the
    Dispatcher's `changed()` (woken by every delivery, else after 0.1 s), never on a blind sleep.
    """
    wanted = {JobState(s) for s in states}
    deadline = time.perf_counter() + within
    while True:
        await env.settle()
        bot: PromptreelBot = env.bot  # type: ignore[assignment]
        job = await bot.core.db.get(job_id)
        if job is None:
            raise AssertionError(f"there is no job {job_id} in the journal")
        owed = job.delivery in ("pending", "sending")
        if job.state in wanted and not (delivered and owed):
            return job
        if job.state in FINAL - wanted or time.perf_counter() > deadline:
            raise AssertionError(
                f"job {job_id} is {job.state} (delivery {job.delivery}, error {job.error!r}); "
                f"waited for {sorted(wanted)} for up to {within:.0f} s"
            )
        token = _DRIVER.set(True)
        try:
            await bot.core.dispatcher.changed(within=0.1)
        finally:
            _DRIVER.reset(token)


@dataclass
class Clip:
    job: Job
    message: discord.Message
    attachment: discord.Attachment
    data: bytes = field(repr=False)

    @property
    def via(self) -> str:
        return str(self.job.reply.get("via"))

    @property
    def button_ids(self) -> list[str]:
        return custom_ids(self.message)


async def wait_for_clip(
    env: simcord.Env,
    job_id: int,
    where: simcord.ChannelHandle,
    *,
    viewer: Any = None,
    within: float = JOB_TIMEOUT,
) -> Clip:
    """Wait until the job's clip was delivered; return the message as `where` shows it."""
    job = await wait_for_job(env, job_id, states={JobState.DELIVERED}, within=within)
    message_id = job.reply.get("clip_message_id")
    found = [m for m in where.history(viewer=viewer) if m.id == message_id]
    assert found, f"job {job_id}: clip message {message_id} is not in #{where.name}"
    message = found[0]
    assert len(message.attachments) == 1, f"expected one attachment, got {message.attachments}"
    attachment = message.attachments[0]
    return Clip(job, message, attachment, await attachment.read())


# --- small readers -----------------------------------------------------------------------------


def custom_ids(message: Any) -> list[str]:
    """Custom ids of a message's buttons (a discord.Message or a simcord ResponseMessage)."""
    if isinstance(message, simcord.ResponseMessage):
        rows = message.components
        return [c["custom_id"] for row in rows for c in row.get("components", []) if "custom_id" in c]
    return [
        child.custom_id
        for row in message.components
        for child in getattr(row, "children", [])
        if getattr(child, "custom_id", None)
    ]


def bot_requests(env: simcord.Env, since: int = 0) -> list[simcord.HttpLogEntry]:
    """The REST calls the bot made, from index `since` (take `len(env.http_requests)` before)."""
    return list(env.http_requests[since:])


def job_id_of(message: Any) -> int:
    """The job behind one of the bot's messages, as the bot itself reads it from the buttons
    (`bot.discord.components.job_id_of`); fails the test where there is none.

    Takes a discord.Message or a simcord ResponseMessage (read as the discord.Message it is).
    """
    if isinstance(message, simcord.ResponseMessage):
        message = message.message
    job_id = components.job_id_of(message)
    if job_id is None:
        raise AssertionError(f"no job button on {message!r}")
    return job_id
