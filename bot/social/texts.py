"""Every sentence Promptreel posts on a social network (Bluesky, Mastodon).

Short, plain and without links: a reply is public, read by people who never used the bot,
and on some networks a link makes a post cost more. The core's own sentences are in `bot.texts`.
"""

from __future__ import annotations

from bot.texts import format_eta, queue_line

# Bluesky counts 300 graphemes, Mastodon 500 characters, X 280: every reply stays under the least.
MAX_REPLY = 280
MAX_ALT = 1000


def _cut(text: str, limit: int = MAX_REPLY) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def clip_reply(prompt: str) -> str:
    return _cut(f"Here is your clip: “{_cut(prompt, 200)}”")


def alt_text(prompt: str) -> str:
    """What a screen reader says for the clip: it shows the prompt, made by a model."""
    return _cut(f"AI-generated video of: {prompt}", MAX_ALT)


def queued(position: int, eta_s: float) -> str:
    return f"Queued: {queue_line(position, eta_s)}. I'll reply here with the clip."


def refused(reason: str, category: str | None, retry_after_s: float | None) -> str | None:
    """The short reply to a refused mention; None where silence is the answer (a ban)."""
    if reason == "policy":
        return _cut(f"Sorry, I can't make that one: it falls under “{category or 'not allowed'}”.")
    if reason == "banned":
        return None
    if reason in ("rate_limited", "too_many_waiting", "busy", "guild_busy", "paused", "unavailable"):
        later = f" in {format_eta(retry_after_s)}" if retry_after_s else " later"
        return f"I'm too busy for that right now. Please try again{later}."
    return None


def invalid(detail: str) -> str:
    return _cut(f"I couldn't read that prompt: {detail}")


NO_PROMPT = "Mention me with what you'd like to see, e.g. “a paper boat in the rain --frames 16”."
FAILED = "Sorry, that clip failed to render."
CANNOT_UPLOAD = "Sorry, I've posted all the videos I'm allowed to today. Please ask again tomorrow."
CANCELLED = "That clip was cancelled."


def undeliverable(reason: str) -> str:
    return _cut(f"Sorry, I made your clip but couldn't post it ({reason}).")
