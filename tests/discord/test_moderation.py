"""Moderator tools: hidden from members, refused at run time, and bans that hold everywhere."""

from __future__ import annotations

import pytest
import simcord

from bot.texts import BANNED as BANNED_TEXT
from bot.texts import NO_FARM, OWNER_ONLY
from engine.journal import JobState
from tests.discord.conftest import World, job_id_of

NOT_MOD = "Only moderators can do that."


def mod_calls(world: World) -> dict[str, dict]:
    """Every /mod subcommand with valid options (the target of user options is alice)."""
    return {
        "mod pause": {},
        "mod resume": {},
        "mod clear": {},
        "mod cancel": {"job": 1},
        "mod ban": {"user": world.alice, "reason": "spam", "everywhere": True},
        "mod unban": {"user": world.alice},
        "mod limit": {"rate": 50.0, "burst": 9, "per_user": 9, "per_guild": 99},
        "mod words": {"action": "add", "words": "corgi"},
        "mod category": {"name": "violence", "enabled": False},
        "mod allow": {"phrase": "corgi"},
        "mod allowed": {"action": "list"},
        "mod classifier": {"layer": "off"},
        "mod audit": {},
        "mod dms": {"allowed": False},
        "mod role": {"role": world.fans_role},
    }


async def test_mod_commands_are_hidden_from_members(world: World) -> None:
    calls = mod_calls(world)
    assert set(calls) <= set(world.mod.available_commands(world.channel))
    for member in (world.alice, world.bob):
        visible = member.available_commands(world.channel)
        assert "video" in visible
        assert not [name for name in visible if name.startswith("mod")], visible
        # A member cannot even pick it: simcord refuses before the bot is asked.
        with pytest.raises(simcord.SetupError):
            await member.slash(world.channel, "mod pause")


async def test_mod_commands_refuse_non_moderators_at_run_time(world: World) -> None:
    # A server admin lets the Fans role (no Manage Server) see /mod: Discord then lets bob run it.
    commands = {c.name: c for c in await world.bot.tree.fetch_commands()}
    world.guild.set_command_permissions(commands["mod"], {world.fans_role: True})
    calls = mod_calls(world)
    assert set(calls) <= set(world.bob.available_commands(world.channel))

    for name, options in calls.items():
        result = await world.bob.slash(world.channel, name, **options)
        assert result.ephemeral, name
        assert result.response is not None and result.response.content == NOT_MOD, (name, result)

    # Nothing changed: no audit entry, alice is not banned, prompts are not paused, no words blocked.
    db = world.bot.core.db
    assert await db.audit_log(None) == []
    queued = await world.alice.slash(world.channel, "video", prompt="a corgi", frames=2)
    job = await world.wait_for_job(job_id_of(queued.response), states={JobState.DELIVERED})
    assert job.request.prompt == "a corgi"

    # The same commands work for the moderator.
    result = await world.mod.slash(world.channel, "mod pause")
    assert result.ephemeral and result.response.content.startswith("Paused")


async def test_banned_user_is_refused_on_slash_mention_dm_and_buttons(world: World) -> None:
    await world.restart(owner_ids=[str(world.mod.id)])  # a ban everywhere is the owners'
    first = await world.alice.slash(world.channel, "video", prompt="a corgi", frames=2, seed=1)
    clip = await world.wait_for_clip(job_id_of(first.response))

    banned = await world.mod.slash(world.channel, "mod ban", user=world.alice, reason="spam", everywhere=True)
    assert banned.ephemeral and banned.response.content.startswith(f"Banned {world.alice.id}")

    slash = await world.alice.slash(world.channel, "video", prompt="a corgi again")
    assert slash.ephemeral and slash.response.content == BANNED_TEXT

    request = await world.alice.send(world.channel, f"{world.bot.user.mention} a corgi again")
    reply = world.channel.last_message
    assert reply.reference.message_id == request.id and reply.content == BANNED_TEXT
    assert not reply.components

    await world.alice.send_dm("a corgi again")
    assert world.alice.user.dm_channel.last_message.content == BANNED_TEXT

    clip_message = next(m for m in world.channel.history() if m.id == clip.message.id)
    for label in ("Re-roll", "Remix", "Info", "Delete"):
        result = await world.alice.click(clip_message, label=label)
        assert result.modal is None, label
        assert result.ephemeral and result.response.content == BANNED_TEXT, label
    assert next(m for m in world.channel.history() if m.id == clip.message.id).attachments

    # Only the first job was ever admitted; the prompts since were recorded as refused (banned).
    rows = await world.bot.core.db.run(
        lambda j: j.conn.execute(
            "SELECT id, state, error FROM jobs WHERE user_id = ? ORDER BY id", (str(world.alice.id),)
        ).fetchall()
    )
    assert [tuple(r) for r in rows] == [
        (clip.job.id, "delivered", None),
        *[(r["id"], "refused", "banned") for r in rows[1:]],
    ]
    assert len(rows) == 1 + 3  # slash, mention, DM; buttons queue nothing

    # Others are not affected.
    other = await world.bob.slash(world.channel, "video", prompt="a corgi", frames=2)
    assert not other.ephemeral and job_id_of(other.response)


async def test_mod_dms_off_refuses_dm_prompts(world: World) -> None:
    await world.restart(owner_ids=[str(world.mod.id)])  # the DM switch is bot-wide: the owners'
    result = await world.mod.slash(world.channel, "mod dms", allowed=False)
    assert result.ephemeral and "refused" in result.response.content

    await world.alice.send_dm("a paper boat --frames 2")
    assert "turned off" in world.alice.user.dm_channel.last_message.content


async def test_bot_wide_options_are_refused_privately_to_moderators_who_are_not_owners(world: World) -> None:
    bot_wide = {
        "mod ban": {"user": world.alice, "reason": "spam", "everywhere": True},
        "mod unban": {"user": world.alice, "everywhere": True},
        "mod dms": {"allowed": False},
        "mod audit": {"everywhere": True},
        "mod workers": {},  # every server's capacity
    }
    for name, options in bot_wide.items():
        result = await world.mod.slash(world.channel, name, **options)
        assert result.ephemeral, name
        assert result.response.content == OWNER_ONLY, (name, result.response.content)
    assert await world.bot.core.db.ban_reason(str(world.alice.id), None) is None
    assert await world.bot.core.dms_allowed()

    # The same moderator, made an owner (PROMPTREEL_OWNER_IDS), may.
    await world.restart(owner_ids=[str(world.mod.id)])
    result = await world.mod.slash(world.channel, "mod dms", allowed=False)
    assert result.ephemeral and "refused" in result.response.content
    assert not await world.bot.core.dms_allowed()
    result = await world.mod.slash(world.channel, "mod workers")
    assert result.ephemeral and result.response.content == NO_FARM  # the local backend
