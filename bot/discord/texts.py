"""Every sentence the Discord bot itself writes to a user, in one place so the wording is reviewed together.

The core's answers (refusals, /queue, /history, /show, /stats, /help, moderation) are worded in
`bot.core` and its helpers and are passed through as they are. Command and option descriptions
stay next to the commands they describe (`bot.discord.cogs`): they are part of the command
payload Discord shows in its picker (their French is in `bot.locales.fr.commands`). This is the
English; `bot.locales.fr.discord` has the same names in French.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import discord

from bot.translation import member_prompt

if TYPE_CHECKING:
    from bot.core import Answer
    from engine.credentials import Verdict
    from engine.journal import Job

# --- replies to a request --------------------------------------------------------------------

DMS_OFF = "Prompts by DM are turned off; use /video in a server."
JOB_GONE = "That video is no longer in the journal."
NOT_YOURS = "That's not yours: only the person who asked for it can do that."
DELETED = "Deleted."
MODS_ONLY = "Only moderators can use that command."


def retry_text(answer: Answer) -> str:
    """The answer's text, saying when to try again unless it already does (the rate limit does)."""
    if not answer.retry_after_s or "try again in" in answer.text.lower():
        return answer.text
    return f"{answer.text} (try again in {math.ceil(answer.retry_after_s)} s)"


def command_failed(ref: str) -> str:
    """A slash command failed; `ref` finds the traceback in the log."""
    return f"Sorry, something went wrong (ref `{ref}`). Please try again later."


def event_failed(ref: str) -> str:
    """Handling a mention or DM failed; `ref` finds the traceback in the log."""
    return f"Sorry, something went wrong (ref `{ref}`)."


# --- a job's status message ------------------------------------------------------------------


def short(prompt: str, limit: int = 120) -> str:
    text = discord.utils.escape_mentions(discord.utils.escape_markdown(prompt))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def status_text(job: Job, line: str) -> str:
    return f"🎬 **{short(member_prompt(job))}**\n{line}"


def rendering_line(step: int, total: int) -> str:
    bar = "▰" * round(10 * step / max(1, total)) + "▱" * (10 - round(10 * step / max(1, total)))
    return f"Rendering {bar} {step}/{total}"


DONE = "Done ↓"
CANCELLED = "Cancelled."
RENDER_FAILED = "Sorry, this one failed to render. Try again, or with other options."


def undeliverable_line(reason: str, job_id: int) -> str:
    return f"Your video is ready, but I couldn't post it here ({reason}). Moderators: see job {job_id}."


# Why a clip could not be posted: the `reason` in `undeliverable_line`.
CLIP_TOO_LARGE = "the clip stays too large for this channel's upload limit"
NO_PERMISSION = "missing permissions to post in that channel"


def discord_error(status: int) -> str:
    return f"Discord error {status}"


# --- the clip --------------------------------------------------------------------------------


def caption(job: Job) -> str:
    """The clip message's text: the requester's mention, the prompt, seed, model and render time."""
    r = job.request
    took = f" in {job.render_seconds:.0f} s" if job.render_seconds else ""
    return f"<@{job.user_id}> **{short(member_prompt(job))}**\nseed {r.seed} · {r.model}{took}"


# --- buttons and the remix modal -------------------------------------------------------------

BUTTON_LABELS = {
    "reroll": "Re-roll",
    "remix": "Remix",
    "info": "Info",
    "delete": "Delete",
    "cancel": "Cancel",
    "report": "Report",
    "extend": "Extend",
}
MEDIA_USAGE = "Give at least one of pictures, faces, mark or chain_seconds."
IMAGE_TOO_BIG = "That picture is too large to start a video from; please send one under 20 MB."
REMIX_TITLE = "Remix this video"
REMIX_PROMPT_LABEL = "New prompt (same seed and options)"


# --- /verify ---------------------------------------------------------------------------------


def verify_too_large(limit: int) -> str:
    size = f"{limit / 1_000_000:.0f} MB" if limit >= 1_000_000 else f"{limit / 1000:.0f} KB"
    return f"That file is too large to check here (the limit is {size})."


VERIFY_UNREADABLE = "I couldn't download that file from Discord; please try again."


def verify_answer(verdict: Verdict, job_id: int | None) -> str:
    """/verify's answer: what the content credentials say, then whether this bot made the clip."""
    facts = verdict.facts
    made = ", ".join(f"{k} {facts[k]}" for k in ("preset", "seed", "steps") if k in facts)
    # Everything read from the file is the file's author's text, not ours: escaped like a prompt.
    how = f" Made with {short(verdict.generator or 'an unnamed generator')}"
    how += f" ({short(made)})." if made else "."
    signer = short(verdict.signer or "an unnamed signer")
    if verdict.kind == "trusted":
        line = f"✅ **Trusted**: content credentials intact, signed by {signer}"
        line += f" under an authority this bot trusts.{how}"
    elif verdict.kind == "valid":
        line = f"☑️ **Valid**: content credentials intact, signed by {signer},"
        line += f" whose authority this bot does not trust.{how}"
    elif verdict.kind == "changed":
        line = "⚠️ **Changed**: this file has content credentials,"
        line += f" but it was altered after signing ({verdict.part})."
    else:
        line = "**No content credentials** in this file."
    if job_id is not None:
        return f"{line}\nIt matches a video this bot made: job {job_id}."
    return f"{line}\nIt doesn't match any video this bot made."


# The name a status message's live preview is attached under (the picture forming, replaced each edit).
PREVIEW_FILENAME = "preview.jpg"
