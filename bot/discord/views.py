"""Buttons and the remix modal. Custom ids carry the job id, so buttons work after a restart.

One `DynamicItem` class serves every action: discord.py matches the custom id of any click
on any old message against its template and rebuilds the button, with no state in memory.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import discord

from bot.discord import texts

if TYPE_CHECKING:
    from bot.discord.bot import PromptreelBot

CUSTOM_ID = re.compile(r"promptreel:(?P<action>reroll|remix|info|delete|cancel):(?P<job>[0-9]{1,18})")

# The labels are in `texts.BUTTON_LABELS`.
_LOOK: dict[str, tuple[str, discord.ButtonStyle]] = {
    "reroll": ("🎲", discord.ButtonStyle.primary),
    "remix": ("✏️", discord.ButtonStyle.secondary),
    "info": ("ℹ️", discord.ButtonStyle.secondary),
    "delete": ("🗑️", discord.ButtonStyle.danger),
    "cancel": ("✖️", discord.ButtonStyle.danger),
}


class JobButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=CUSTOM_ID):
    def __init__(self, action: str, job_id: int) -> None:
        emoji, style = _LOOK[action]
        super().__init__(
            discord.ui.Button(
                label=texts.BUTTON_LABELS[action],
                emoji=emoji,
                style=style,
                custom_id=f"promptreel:{action}:{job_id}",
            )
        )
        self.action = action
        self.job_id = job_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Button[Any], match: re.Match[str]
    ) -> JobButton:
        return cls(match["action"], int(match["job"]))

    async def callback(self, interaction: discord.Interaction[PromptreelBot]) -> None:  # type: ignore[override]
        await interaction.client.on_job_button(interaction, self.action, self.job_id)


def clip_view(job_id: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for action in ("reroll", "remix", "info", "delete"):
        view.add_item(JobButton(action, job_id))
    return view


def status_view(job_id: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(JobButton("cancel", job_id))
    return view


def job_id_of(message: discord.Message | None) -> int | None:
    """The job behind one of our clip messages, read from its buttons."""
    if message is None:
        return None
    for row in message.components:
        for child in getattr(row, "children", []):
            match = CUSTOM_ID.fullmatch(getattr(child, "custom_id", None) or "")
            if match:
                return int(match["job"])
    return None


class RemixModal(discord.ui.Modal, title=texts.REMIX_TITLE):
    def __init__(self, job_id: int, prompt: str, max_chars: int) -> None:
        super().__init__(timeout=600, custom_id=f"promptreel:remixmodal:{job_id}")
        self.job_id = job_id
        self.prompt: discord.ui.TextInput[RemixModal] = discord.ui.TextInput(
            label=texts.REMIX_PROMPT_LABEL,
            style=discord.TextStyle.paragraph,
            default=prompt[:max_chars],
            max_length=min(4000, max_chars),
            custom_id="prompt",
        )
        self.add_item(self.prompt)

    async def on_submit(self, interaction: discord.Interaction[PromptreelBot]) -> None:  # type: ignore[override]
        await interaction.client.on_remix_submit(interaction, self.job_id, self.prompt.value)
