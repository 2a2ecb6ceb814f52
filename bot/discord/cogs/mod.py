"""Moderation: the `/mod` group. The decisions and the answers are `bot.moderation`'s.

No `from __future__ import annotations` here, like every module that declares slash commands:
discord.py reads the option types from the annotations.
"""

from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot import i18n
from bot.discord import texts
from bot.discord.client import PromptreelBot
from bot.moderation import Moderation
from bot.policy import CATEGORIES
from bot.policy.layers import CLASSIFIER_CHOICES


class Mod(commands.Cog):
    """`/mod ...`: hidden from members without Manage Server and outside servers.

    Discord only hides it (server owners can change who sees it): every action is checked
    again when it runs, by `Moderation`, against the `Requester`: a moderator acts on this
    server only, and the bot-wide options (`everywhere`, `/mod dms`) are the bot's owners'.
    """

    mod = app_commands.Group(
        name="mod",
        description="Moderator tools",
        default_permissions=discord.Permissions(manage_guild=True),
        guild_only=True,
    )

    def __init__(self, bot: PromptreelBot) -> None:
        self.bot = bot
        self.moderation = Moderation(bot.core)

    async def _run(
        self, interaction: discord.Interaction[Any], action: str, *args: Any, **kwargs: Any
    ) -> None:
        who = await self.bot.interaction_requester(interaction)
        answer = await getattr(self.moderation, action)(who, *args, **kwargs)
        await self.bot.send_ephemeral(interaction, answer.text)

    @mod.command(description="Stop taking new prompts in this server")
    async def pause(self, interaction: discord.Interaction[Any]) -> None:
        await self._run(interaction, "pause")

    @mod.command(description="Take prompts again")
    async def resume(self, interaction: discord.Interaction[Any]) -> None:
        await self._run(interaction, "resume")

    @mod.command(description="Cancel every waiting job in this server")
    async def clear(self, interaction: discord.Interaction[Any]) -> None:
        await self._run(interaction, "clear")

    @mod.command(description="Cancel any job")
    async def cancel(self, interaction: discord.Interaction[Any], job: app_commands.Range[int, 1]) -> None:  # type: ignore[valid-type]
        await self._run(interaction, "cancel", job)

    @mod.command(description="Ban a member from making videos")
    async def ban(
        self,
        interaction: discord.Interaction[Any],
        user: discord.User,
        reason: str = "",
        everywhere: bool = False,
    ) -> None:
        await self._run(interaction, "ban", str(user.id), reason, everywhere=everywhere)

    @mod.command(description="Lift a ban")
    async def unban(
        self, interaction: discord.Interaction[Any], user: discord.User, everywhere: bool = False
    ) -> None:
        await self._run(interaction, "unban", str(user.id), everywhere=everywhere)

    @mod.command(description="Show or set this server's limits")
    @app_commands.describe(
        rate="Prompts per minute a member regains",
        burst="Prompts a member may send at once",
        per_user="Jobs a member may have waiting",
        per_guild="Jobs this server may have waiting",
    )
    async def limit(
        self,
        interaction: discord.Interaction[Any],
        rate: float | None = None,
        burst: int | None = None,
        per_user: int | None = None,
        per_guild: int | None = None,
    ) -> None:
        values = {"rate": rate, "burst": burst, "per_user": per_user, "per_guild": per_guild}
        await self._run(interaction, "limit", {k: str(v) for k, v in values.items() if v is not None})

    @mod.command(description="Show or set this server's daily quotas and quiet hours")
    @app_commands.describe(
        member="Videos a member may make per day, in every server and DMs (0: no limit)",
        server="Videos this server may make per day (0: no limit)",
        quiet="Hours when no prompts are taken, e.g. 23:00-07:00, or off",
    )
    async def quota(
        self,
        interaction: discord.Interaction[Any],
        member: app_commands.Range[int, 0, 100000] | None = None,  # type: ignore[valid-type]
        server: app_commands.Range[int, 0, 100000] | None = None,  # type: ignore[valid-type]
        quiet: str | None = None,
    ) -> None:
        values = {"member": member, "server": server, "quiet": quiet}
        await self._run(interaction, "quota", {k: str(v) for k, v in values.items() if v is not None})

    @mod.command(description="The review list: reported videos here, with their prompts")
    async def reports(self, interaction: discord.Interaction[Any]) -> None:
        await self._run(interaction, "reports")

    @mod.command(description="Blocked words for this server")
    @app_commands.choices(action=[app_commands.Choice(name=a, value=a) for a in ("add", "remove", "list")])
    async def words(self, interaction: discord.Interaction[Any], action: str, words: str = "") -> None:
        await self._run(interaction, "words", action, [w for w in words.replace(",", " ").split() if w])

    @mod.command(description="Turn a content category filter on or off")
    @app_commands.choices(name=[app_commands.Choice(name=c, value=c) for c in CATEGORIES])
    async def category(self, interaction: discord.Interaction[Any], name: str, enabled: bool) -> None:
        await self._run(interaction, "category", name, enabled)

    @mod.command(description="Allow a phrase the content filter refused by mistake, on this server")
    @app_commands.describe(phrase="The harmless words that were refused, e.g. a bird's or a town's name")
    async def allow(self, interaction: discord.Interaction[Any], phrase: str) -> None:
        await self._run(interaction, "allow", "add", phrase)

    @mod.command(description="List or remove this server's allowed phrases")
    @app_commands.choices(action=[app_commands.Choice(name=a, value=a) for a in ("list", "remove")])
    async def allowed(self, interaction: discord.Interaction[Any], action: str, phrase: str = "") -> None:
        await self._run(interaction, "allow", action, phrase)

    @mod.command(description="Check prompts with a classifier after the word lists, or the lists alone")
    @app_commands.choices(layer=[app_commands.Choice(name=c, value=c) for c in CLASSIFIER_CHOICES])
    async def classifier(self, interaction: discord.Interaction[Any], layer: str | None = None) -> None:
        await self._run(interaction, "classifier", layer or "")

    @mod.command(description="Recent moderator actions and refusals")
    @app_commands.describe(everywhere="Every server's entries (the bot's owners only)")
    async def audit(self, interaction: discord.Interaction[Any], everywhere: bool = False) -> None:
        await self._run(interaction, "audit", everywhere=everywhere)

    @mod.command(description="Allow or refuse prompts sent by DM (bot-wide; the bot's owners only)")
    async def dms(self, interaction: discord.Interaction[Any], allowed: bool) -> None:
        await self._run(interaction, "dms", allowed)

    @mod.command(description="The render farm's workers by preset (the bot's owners only)")
    async def workers(self, interaction: discord.Interaction[Any]) -> None:
        await self._run(interaction, "workers")

    @mod.command(description="The language of mentions, DMs and members the bot can't answer in their own")
    @app_commands.choices(
        language=[app_commands.Choice(name=c, value=c) for c in (*i18n.LANGUAGES, "default")]
    )
    async def language(self, interaction: discord.Interaction[Any], language: str | None = None) -> None:
        await self._run(interaction, "language", language or "")

    @mod.command(description="A role whose members count as moderators here")
    async def role(self, interaction: discord.Interaction[Any], role: discord.Role | None = None) -> None:
        await self._run(interaction, "mod_role", role.id if role else None)

    @mod.command(description="Videos from pictures: allow them, allow faces, label clips, extend length")
    @app_commands.describe(
        pictures="Let members start videos from a picture here",
        faces="Also allow pictures that show a face",
        mark="Burn a small AI-generated label into every clip made here",
        chain_seconds="Longest extended video, in seconds (the bot's owners only)",
    )
    async def media(
        self,
        interaction: discord.Interaction[Any],
        pictures: bool | None = None,
        faces: bool | None = None,
        mark: bool | None = None,
        chain_seconds: app_commands.Range[float, 1, 60] | None = None,  # type: ignore[valid-type]
    ) -> None:
        # One subcommand for the four switches: a command group holds at most 25.
        who = await self.bot.interaction_requester(interaction)
        m = self.moderation
        answers = []
        if pictures is not None:
            answers.append(await m.images(who, pictures))
        if faces is not None:
            answers.append(await m.faces(who, faces))
        if mark is not None:
            answers.append(await m.mark(who, mark))
        if chain_seconds is not None:
            answers.append(await m.chain(who, str(chain_seconds)))
        text = "\n".join(a.text for a in answers) or texts.MEDIA_USAGE
        await self.bot.send_ephemeral(interaction, text)

    @mod.command(description="Videos the output check held for review")
    @app_commands.describe(everywhere="Every server's held videos (the bot's owners only)")
    async def held(self, interaction: discord.Interaction[Any], everywhere: bool = False) -> None:
        await self._run(interaction, "held", everywhere=everywhere)

    @mod.command(description="Post a held video to its requester")
    async def release(self, interaction: discord.Interaction[Any], job: app_commands.Range[int, 1]) -> None:  # type: ignore[valid-type]
        await self._run(interaction, "release", job)

    @mod.command(description="Reject a held video: it is deleted and its requester told")
    async def reject(self, interaction: discord.Interaction[Any], job: app_commands.Range[int, 1]) -> None:  # type: ignore[valid-type]
        await self._run(interaction, "reject", job)

    @mod.command(description="Show or set the output check's threshold here (lower holds more)")
    @app_commands.describe(
        value="0 to 1; clips scoring at or above it are held", default="Use the bot's default"
    )
    async def threshold(
        self,
        interaction: discord.Interaction[Any],
        value: app_commands.Range[float, 0.0, 1.0] | None = None,  # type: ignore[valid-type]
        default: bool = False,
    ) -> None:
        await self._run(
            interaction, "threshold", "default" if default else None if value is None else str(value)
        )
