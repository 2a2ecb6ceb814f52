"""The Discord client: startup (setup_hook), command sync, who is asking, answering, and errors.

The bot is a thin layer: every decision (admission, policy, limits, scheduling) is the core's,
and the Discord side only translates between Discord and `Core`. What the bot offers lives in
the cogs (`bot.discord.cogs`), which this module does not import: they are handed to the
client as factories (`bot.discord.app.create_bot` does that) and added in `setup_hook`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import secrets
from collections.abc import Callable, Iterable
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot import i18n
from bot.config import Settings
from bot.core import Answer, Core, IdleWait, Requester
from bot.discord.adapter import DiscordAdapter
from bot.discord.components import JobActions, JobButton, status_view
from bot.discord.language import CommandTranslator, LanguageTree, interaction_locales, texts
from bot.http import attach
from bot.i18n import texts as core_texts
from bot.policy import PromptPolicy

# The name from before the split into a client and cogs, kept so log filters keep matching.
log = logging.getLogger(__name__)

INTENTS = discord.Intents(guilds=True, guild_messages=True, dm_messages=True)

# Builds one cog for the client it is given; a cog class taking the bot is one.
CogFactory = Callable[["PromptreelBot"], commands.Cog]


def with_note(answer: Answer) -> str:
    """The queued answer's extra sentence (a prompt not in English), as small print under the status.

    Only the first status shows it: the edits that follow rewrite the line.
    """
    note = answer.data.get("note")
    return f"\n-# {note}" if note else ""


class PromptreelBot(commands.Bot):
    def __init__(
        self,
        settings: Settings,
        *,
        cogs: Iterable[CogFactory] = (),
        idle_wait: IdleWait | None = None,
        policy: PromptPolicy | None = None,
    ):
        """`cogs` are added in this order in `setup_hook`: the order of the commands synced."""
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=INTENTS,
            # Nobody is pinged unless a message says so explicitly: a prompt with @everyone is inert.
            allowed_mentions=discord.AllowedMentions.none(),
            help_command=None,
            # Each command speaks its member's language from its first line (`LanguageTree`).
            tree_cls=LanguageTree,
        )
        self.settings = settings
        self.adapter = DiscordAdapter(self, settings)
        self.core = Core(settings, self.adapter, policy=policy, idle_wait=idle_wait)
        # The owner's HTTP server (health, metrics, dashboard), when PROMPTREEL_HTTP_PORT is set.
        self.http_server = attach(self.core)
        self.cog_factories = list(cogs)
        # What the job buttons and the remix modal call (see `components.JobActions`): the video cog.
        self.job_actions: JobActions | None = None
        # The bot's owners (user ids); resolved once in setup_hook, see `resolve_owners`.
        self.owners: frozenset[str] = frozenset(settings.owner_ids)
        self.tree.on_error = self.on_tree_error  # type: ignore[method-assign]

    async def setup_hook(self) -> None:
        if self.core.journal is None:  # `python -m bot` starts it before connecting
            await self.core.start()
        await self.resolve_owners()
        for make in self.cog_factories:
            cog = make(self)
            if self.get_cog(cog.qualified_name) is None:  # setup_hook may run again on a restarted client
                await self.add_cog(cog)
        self.add_dynamic_items(JobButton)
        # Command names and descriptions in every language with a catalogue, at sync.
        await self.tree.set_translator(CommandTranslator())
        await self.sync_commands()

    async def close(self) -> None:
        await self.core.close()
        await super().close()

    # --- command sync --------------------------------------------------------------------------

    async def sync_commands(self) -> bool:
        """Sync only when the command set changed: a global sync on every start is rate limited."""
        guild = discord.Object(self.settings.discord_dev_guild) if self.settings.discord_dev_guild else None
        if guild is not None:
            self.tree.copy_global_to(guild=guild)
        # What `tree.sync` will send, translations included: new wording resyncs too.
        translator = self.tree.translator
        payload = [
            await c.get_translated_payload(self.tree, translator) if translator else c.to_dict(self.tree)
            for c in self.tree.get_commands(guild=guild)
        ]
        digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
        key = f"discord:commands:{guild.id if guild else 'global'}"
        if await self.core.db.get_value(key) == digest:
            return False
        await self.tree.sync(guild=guild)
        await self.core.db.set_value(key, digest)
        log.info("synced %d commands to %s", len(payload), guild.id if guild else "all guilds")
        return True

    # --- who is asking -------------------------------------------------------------------------

    async def resolve_owners(self) -> frozenset[str]:
        """`PROMPTREEL_OWNER_IDS`, else the application's owner or its team's members.

        Without any owner the bot still works; only the bot-wide moderator options are refused
        to everyone, which is why it says so in the log.
        """
        if not self.settings.owner_ids:
            try:
                app = await self.application_info()
            except discord.HTTPException as exc:
                log.warning("could not read the application's owner (%s): no bot owners", exc)
            else:
                members = app.team.members if app.team else [app.owner]
                self.owners = frozenset(
                    str(m.id) for m in members if self.user is None or m.id != self.user.id
                )
        return self.owners

    async def requester(
        self,
        user: discord.abc.User,
        guild: discord.Guild | None,
        channel_id: int | None,
        locales: tuple[object, ...] = (),
    ) -> Requester:
        """Who is asking, and the language to answer them in, spoken from here on in this task.

        `locales`: what Discord says of the member's language (interactions only); mentions and
        DMs get their server's `/mod language`, else the bot's.
        """
        language = await self.core.language_of(str(guild.id) if guild else None, *locales)
        i18n.use(language)
        is_mod = False
        if guild is not None and isinstance(user, discord.Member):
            cfg = await self.core.guild_config(str(guild.id))
            is_mod = user.guild_permissions.manage_guild or (
                cfg.mod_role_id is not None and any(r.id == cfg.mod_role_id for r in user.roles)
            )
        return Requester(
            user_id=str(user.id),
            user_name=user.display_name,
            guild_id=str(guild.id) if guild else None,
            channel_id=str(channel_id) if channel_id else None,
            is_mod=is_mod,
            is_owner=str(user.id) in self.owners,
            roles=tuple(str(r.id) for r in getattr(user, "roles", ())),
            language=language,
        )

    async def interaction_requester(self, interaction: discord.Interaction[Any]) -> Requester:
        return await self.requester(
            interaction.user, interaction.guild, interaction.channel_id, interaction_locales(interaction)
        )

    # --- answering -----------------------------------------------------------------------------

    async def answer(self, interaction: discord.Interaction[Any], answer: Answer) -> None:
        """Queued jobs get a public status message; everything else is for the asker's eyes only."""
        if answer.event == "queued" and answer.job_id is not None:
            job = await self.core.db.get(answer.job_id)
            text = texts.status_text(job, core_texts.queue_line(answer.position or 0, answer.eta_s or 0.0))
            text += with_note(answer)
            key = job.reply.get("ack", "")
            try:
                if interaction.response.is_done():
                    # Deferred (a picture was read first): the "thinking" message becomes the status.
                    message = await interaction.edit_original_response(content=text, view=status_view(job.id))
                else:
                    response = await interaction.response.send_message(text, view=status_view(job.id))
                    message = getattr(response, "resource", None)
                if isinstance(message, discord.InteractionMessage):
                    await self.core.db.update_reply(job.id, status_message_id=message.id)
            finally:
                self.adapter.acked(key)
            return
        if interaction.response.is_done():
            # A refusal is for the asker alone: the public "thinking" message goes.
            await interaction.delete_original_response()
        await self.send_ephemeral(interaction, texts.retry_text(answer))

    async def send_ephemeral(self, interaction: discord.Interaction[Any], text: str) -> None:
        if interaction.response.is_done():
            await interaction.followup.send(text[:2000], ephemeral=True)
        else:
            await interaction.response.send_message(text[:2000], ephemeral=True)

    # --- messages ----------------------------------------------------------------------------

    async def on_message(self, message: discord.Message) -> None:
        """No prefix commands: mentions and DMs are the video cog's (`Video.on_message`)."""

    # --- errors --------------------------------------------------------------------------------

    async def on_tree_error(
        self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError
    ) -> None:
        """One place for every command's failure: a polite line for the user, the traceback for the log."""
        if isinstance(error, app_commands.CheckFailure):
            text = texts.MODS_ONLY if "moderator" in str(error) else str(error)
            await self.send_ephemeral(interaction, text)
            return
        ref = secrets.token_hex(4)
        log.error("command error ref=%s", ref, exc_info=error)
        try:
            await self.send_ephemeral(interaction, texts.command_failed(ref))
        except discord.HTTPException:
            log.warning("could not tell the user about error ref=%s", ref)

    async def on_error(self, event_method: str, /, *args: Any, **kwargs: Any) -> None:
        ref = secrets.token_hex(4)
        log.exception("event %s failed ref=%s", event_method, ref)
        message = args[0] if args and isinstance(args[0], discord.Message) else None
        if message is not None:
            with contextlib.suppress(discord.HTTPException):
                await message.reply(texts.event_failed(ref), mention_author=False)
