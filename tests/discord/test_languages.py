"""Discord in French: the synced commands carry French names and descriptions, a French server's
mentions are answered in French from the status line to the clip, and the translator itself.

simcord sends every interaction with `locale` and `guild_locale` "en-US" (it has no setting for
them), so a French member's own slash command is tested over the wire with `tests/fakediscord`
instead (`tests/discord_transport/test_languages.py`).
"""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands

from bot.discord.language import CommandTranslator
from tests.discord.conftest import World, job_id_of


def _synced(world: World, name: str) -> dict[str, Any]:
    command = world.env.backend.find_command(name, world.guild.id)
    assert command is not None, f"/{name} was not synced"
    return command


async def test_synced_commands_carry_french_names_and_descriptions(world: World) -> None:
    video = _synced(world, "video")
    assert video["name_localizations"]["fr"] == "vidéo"
    assert video["description_localizations"]["fr"] == "Transformer un prompt en courte vidéo"
    prompt = next(o for o in video["options"] if o["name"] == "prompt")
    assert prompt["description_localizations"]["fr"] == "Que doit-il se passer dans la vidéo ?"
    assert "name_localizations" not in prompt or not prompt["name_localizations"]  # typed: stays English
    assert _synced(world, "history")["name_localizations"]["fr"] == "historique"
    mod = _synced(world, "mod")
    assert mod["description_localizations"]["fr"] == "Outils de modération"
    pause = next(o for o in mod["options"] if o["name"] == "pause")
    assert pause["description_localizations"]["fr"] == "Ne plus prendre de nouveaux prompts sur ce serveur"


def _descriptions(command: dict[str, Any]) -> list[tuple[str, dict[str, str]]]:
    """Every description in a synced command, with its localizations, options and subcommands too."""
    out = [(command.get("description", ""), command.get("description_localizations") or {})]
    for option in command.get("options") or []:
        out += _descriptions(option)
    return out


async def test_every_described_command_and_option_has_its_french(world: World) -> None:
    commands = world.env.backend.visible_commands(user_id=world.mod.id, channel_id=world.channel.id)
    assert {c["name"] for c in commands} >= {"video", "queue", "history", "mod", "verify"}
    untranslated = [
        (c["name"], text)
        for c in commands
        for text, localized in _descriptions(c)
        if text not in ("", "…") and "fr" not in localized
    ]
    assert untranslated == []


async def test_a_french_server_gets_its_mentions_answered_in_french(world: World) -> None:
    result = await world.mod.slash(world.channel, "mod language", language="fr")
    # The moderator's own app is in English (simcord's "en-US"): they are told in English.
    assert result.ephemeral and "This server's language: French" in result.response.content
    await world.alice.send(world.channel, f"{world.bot.user.mention} a paper boat --frames 2 --seed 3")
    status = world.channel.last_message
    assert status.author.id == world.bot.user.id
    # Whichever step it shows by now (the tiny model is quick), the status line is French.
    line = status.content.split("\n", 1)[1]
    assert line.startswith(("n° ", "dans la file", "démarrage immédiat", "Rendu ", "Terminé")), line
    job_id = job_id_of(status)
    clip = await world.wait_for_clip(job_id)
    # The clip is sent by the dispatcher, in another task: it read the job's language.
    assert clip.job.reply.get("lang") == "fr"
    assert "graine 3" in clip.message.content, clip.message.content
    labels = [c.label for row in clip.message.components for c in getattr(row, "children", [])]
    assert "Relancer" in labels and "Re-roll" not in labels, labels

    # Back to the bot's default: the next mention is answered in English again.
    await world.mod.slash(world.channel, "mod language", language="default")
    await world.bob.send(world.channel, f"{world.bot.user.mention} a kite --frames 2 --nope 1")
    assert world.channel.last_message.content.startswith("I don't know the option `--nope`")


async def test_the_translator_speaks_french_and_leaves_english_and_unknown_text_alone() -> None:
    translator = CommandTranslator()

    @app_commands.command(name="queue", description="What is waiting and rendering right now")
    async def queue(interaction: discord.Interaction[Any]) -> None: ...

    name = app_commands.TranslationContext(app_commands.TranslationContextLocation.command_name, queue)
    about = app_commands.TranslationContext(
        app_commands.TranslationContextLocation.command_description, queue
    )
    s = app_commands.locale_str
    assert await translator.translate(s("queue"), discord.Locale.french, name) == "file"
    assert await translator.translate(s(queue.description), discord.Locale.french, about) == (
        "Ce qui attend et ce qui est en cours de rendu"
    )
    assert await translator.translate(s("queue"), discord.Locale.american_english, name) is None
    assert await translator.translate(s("queue"), discord.Locale.german, name) is None
    assert await translator.translate(s("Not a known sentence"), discord.Locale.french, about) is None
