"""What the console surface itself says (the shared sentences are in `bot.texts`), in English.

`bot.locales.fr.console` has the same names in French; `bot.i18n.console_texts` picks one.
"""

from __future__ import annotations

from bot.texts import quoted

USAGE = "Lines look like `name: a prompt --seed 3` or `name: /queue`. Try `name: /help`."
MOD_ONLY = "Only moderators can use /mod."
MOD_USAGE = (
    "Moderator commands: ban USER [reason] [--everywhere], unban USER [--everywhere], pause, "
    "resume, clear, cancel JOB, limit rate=N burst=N per_user=N per_guild=N, "
    "quota member=N server=N quiet=HH:MM-HH:MM, reports, purge member|server ID, "
    "words add|remove|list ..., category NAME on|off, allow PHRASE, allow list, allow remove PHRASE, "
    "classifier [off|hosted|local], audit [everywhere], dms on|off, "
    "images on|off, faces on|off, mark on|off, language [en|fr|default], chain SECONDS (owners), "
    "held [everywhere], release JOB, reject JOB, threshold [VALUE|default], workers (owners)."
)


def line_too_long(length: int, limit: int) -> str:
    return f"That line is {length:,} characters long; lines can be at most {limit:,}."


def not_a_job_number(text: str) -> str:
    return f"`{quoted(text)}` is not a job number."


def unknown_command(name: str) -> str:
    return f"Unknown command `/{quoted(name)}`. Try /help, /queue, /cancel JOB, /history."


def line_failed(error: str, ref: str) -> str:
    """A line could not be handled; `ref` finds the traceback in the log."""
    return f"Something went wrong handling that line ({error}, ref {ref})."


def progress(job_id: int, step: int, total: int) -> str:
    return f"job {job_id}: step {step}/{total}"


def delivered(job_id: int, path: str) -> str:
    return f"job {job_id} is ready: {path}"


def cancelled(job_id: int) -> str:
    return f"job {job_id} was cancelled."


def failed(job_id: int, reason: str) -> str:
    return f"job {job_id} failed: {reason}"


def preview_line(job_id: int, step: int | None) -> str:
    """A live preview of a rendering job was written (its path is in the event)."""
    return f"job {job_id}: preview of step {step}"
