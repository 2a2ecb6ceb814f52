"""Buttons and the remix modal. Custom ids carry the job id, so buttons work after a restart.

One `DynamicItem` class serves every action: discord.py matches the custom id of any click
on any old message against its template and rebuilds the button, with no state in memory.

What a click or a submitted modal does is not decided here: the client exposes a `JobActions`
(the video cog) as `job_actions`, and the callbacks hand over to it. So this module knows
nothing of the client or the cogs.
"""

from __future__ import annotations

import re
from typing import Any, Protocol, cast

import discord

from bot.discord.language import texts

CUSTOM_ID = re.compile(
    r"promptreel:(?P<action>reroll|remix|info|delete|cancel|report|extend):(?P<job>[0-9]{1,18})"
)

# The labels are in `texts.BUTTON_LABELS`.
_LOOK: dict[str, tuple[str, discord.ButtonStyle]] = {
    "reroll": ("🎲", discord.ButtonStyle.primary),
    "remix": ("✏️", discord.ButtonStyle.secondary),
    "info": ("ℹ️", discord.ButtonStyle.secondary),
    "delete": ("🗑️", discord.ButtonStyle.danger),
    "cancel": ("✖️", discord.ButtonStyle.danger),
    "report": ("🚩", discord.ButtonStyle.secondary),
    "extend": ("⏩", discord.ButtonStyle.primary),
}


class JobActions(Protocol):
    """What the job buttons and the remix modal hand a click or a submission to."""

    async def on_job_button(
        self, interaction: discord.Interaction[Any], action: str, job_id: int
    ) -> None: ...

    async def on_remix_submit(
        self, interaction: discord.Interaction[Any], job_id: int, prompt: str
    ) -> None: ...


class HasJobActions(Protocol):
    """A client that handles job buttons: `job_actions` is set while the video cog is loaded."""

    job_actions: JobActions | None


def job_actions(interaction: discord.Interaction[Any]) -> JobActions:
    actions = cast(HasJobActions, interaction.client).job_actions
    if actions is None:
        raise RuntimeError("nothing handles job buttons: the video cog is not loaded")
    return actions


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

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await job_actions(interaction).on_job_button(interaction, self.action, self.job_id)


def clip_view(job_id: int, *, extendable: bool = False) -> discord.ui.View:
    """The clip's buttons; Extend, where the preset can continue a clip, on a second row (a row
    holds five)."""
    view = discord.ui.View(timeout=None)
    for action in ("reroll", "remix", "info", "delete", "report"):
        view.add_item(JobButton(action, job_id))
    if extendable:
        button = JobButton("extend", job_id)
        button.item.row = 1
        view.add_item(button)
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


class RemixModal(discord.ui.Modal):
    def __init__(self, job_id: int, prompt: str, max_chars: int) -> None:
        # The title is the member's language's, so it is given per modal rather than per class.
        super().__init__(title=texts.REMIX_TITLE, timeout=600, custom_id=f"promptreel:remixmodal:{job_id}")
        self.job_id = job_id
        self.prompt: discord.ui.TextInput[RemixModal] = discord.ui.TextInput(
            label=texts.REMIX_PROMPT_LABEL,
            style=discord.TextStyle.paragraph,
            default=prompt[:max_chars],
            max_length=min(4000, max_chars),
            custom_id="prompt",
        )
        self.add_item(self.prompt)

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        await job_actions(interaction).on_remix_submit(interaction, self.job_id, self.prompt.value)
