"""Every sentence the shared chat side (core, admission, moderation) says, in one place.

Surfaces add their own framing (Discord's status lines live in `bot.discord.texts`), but what
a member is told about their prompt, their jobs and the moderators' actions is written here,
so the wording can be reviewed and translated together: this is the English, the source every
other language follows (`bot.locales.fr.texts` has the same names; `bot.i18n` picks one).
Validation messages for render options come from `engine.request`, next to the limits they
explain (keyed, so `invalid_request` words them in other languages); the content policy's
refusals from `bot.policy`, next to the categories they name (`policy_refusal` words them in
other languages). This module imports
nothing of the project, so anything may import it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

# --- quoting what a member typed ------------------------------------------------------------------


def quoted(text: str, limit: int = 20) -> str:
    """A member's text as a reply may quote it: cut to `limit` characters, nothing left invisible.

    Every character that is not plainly visible is spelled out as an escape (`\\x1b`, `\\u202e`,
    `\\n`): quoting input back must not let it move a terminal's cursor or recolour it (ESC
    sequences), reorder the reply (bidi controls), start a fake line, or hide part of itself
    (zero-width characters). A cut is marked with an ellipsis.
    """
    cut = text[:limit]
    shown = cut if cut.isprintable() else "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in cut)
    return shown + ("…" if len(text) > limit else "")


# --- options -------------------------------------------------------------------------------------


def unknown_option(name: str, flag_help: str) -> str:
    return f"I don't know the option `--{quoted(name)}`. Options: {flag_help}"


def option_needs_value(name: str, what: str) -> str:
    return f"`--{name}` needs a value ({what})."


def option_not_a(name: str, what: str, raw: str) -> str:
    return f"`--{name}` should be {what}, not `{quoted(raw)}`."


# --- intake ------------------------------------------------------------------------------------

OPTIONS_CLASH = "Some of those options can't be used together."


def invalid_request(exc: Exception) -> str:
    """A render option refused by `engine.request` (`InvalidRequest`), or a picture by
    `engine.image` (`BadImage`): in English, its message; other catalogues word it from its
    `key` and `values`."""
    return str(exc)


def text_too_long(length: int, limit: int) -> str:
    return f"That message is {length:,} characters long; a prompt with its options can be at most {limit:,}."


def model_unavailable(model: str, offered: Iterable[str]) -> str:
    return f"The model `{quoted(model, 30)}` isn't available here. Try: {', '.join(offered)}."


def format_eta(seconds: float) -> str:
    """'about 2 min' rather than '137 s': people want an idea, not a stopwatch."""
    if seconds < 60:
        return "under a minute"
    minutes = round(seconds / 60)
    if minutes < 90:
        return f"about {minutes} min"
    return f"about {round(seconds / 3600, 1):g} h"


# Positions up to this are shown exactly; further back a place changes too often to be worth
# an edit, and people want to know "how long", not "#4,312".
EXACT_POSITIONS = 10


def queue_line(position: int, eta_s: float) -> str:
    """'#3 in queue, about 2 min': what a waiting job's status says (position 0: already starting)."""
    if not position:
        return "starting now"
    if position <= EXACT_POSITIONS:
        return f"#{position} in queue, {format_eta(eta_s)}"
    return f"in queue, {format_eta(eta_s)}"


def queued(job_id: int, where: str) -> str:
    return f"Queued job {job_id}: {where}."


# The bot's own storage fails (a full disk, say): the member did nothing wrong.
CANNOT_TAKE_PROMPTS = (
    "Sorry, the bot can't take prompts right now (a problem on its side). Please try again later."
)
# A rendered video waits for storage to work again: a delay, not a failure.
STORAGE_DELAY = (
    "Taking longer than usual: the bot can't save videos right now. Yours will follow once it can."
)


# --- the content policy's layers and appeals ---------------------------------------------------

# A classifier layer could not answer and the owner chose fail-closed: nobody's fault, try later.
CANNOT_CHECK_PROMPTS = (
    "Sorry, I can't check prompts right now, so I can't take this one. Please try again in a few minutes."
)


def policy_refusal(category: str | None, english: str) -> str:
    """A policy refusal in this language: in English, as `bot.policy` words it next to its
    categories (`english`); other catalogues word each category themselves."""
    return english


def appeal_hint(category: str | None, in_server: bool) -> str:
    """What a policy refusal adds: how to ask for a mistaken refusal to be allowed.

    It names no word of the prompt (the refusal is public); the moderator asks the member which
    harmless phrase tripped the filter. Minors content can be allowed by the bot's owners alone.
    """
    if category == "minors":
        return "If this is a mistake, a moderator can ask the bot's owners to allow the harmless phrase."
    if not in_server:
        return "If this is a mistake, ask the bot's owners to allow the harmless phrase."
    return "If this is a mistake, ask a moderator to allow the harmless phrase with `/mod allow`."


def refused_by(layer: str, reason: str) -> str:
    """The audit log's note on a policy refusal: which layer, and whether it could answer."""
    return f"{layer} layer" if reason == "policy" else f"{layer} layer could not answer"


ALLOW_USAGE = "Use `allow PHRASE`, `allow list` or `allow remove PHRASE`."
ALLOW_NOTHING = "That phrase has no letters or digits to allow."


def allowed_phrases_now(phrases: list[str], owner_phrases: list[str]) -> str:
    if not phrases:
        return "Allowed phrases: none."
    shown = [f"{p} (owner)" if p in owner_phrases else p for p in phrases]
    return "Allowed phrases: " + ", ".join(shown) + "."


def phrase_allowed(phrase: str, by_owner: bool) -> str:
    also = (
        " It is also exempt from the minors check (an owner allowed it)."
        if by_owner
        else " The minors check still reads it: only the bot's owners can lift that."
    )
    return (
        f"Allowed `{quoted(phrase, 60)}` on this server: prompts with it are no longer refused for it.{also}"
    )


def phrase_removed(phrase: str, was_there: bool) -> str:
    q = quoted(phrase, 60)
    return f"`{q}` is no longer allowed." if was_there else f"`{q}` was not an allowed phrase."


OWNER_PHRASE = "Only the bot's owners can remove a phrase an owner allowed."


def unknown_classifier(name: str, choices: Iterable[str]) -> str:
    return f"Unknown or unconfigured classifier `{quoted(name, 30)}`. Choices here: {', '.join(choices)}."


def classifier_now(name: str, fail_open: bool) -> str:
    if name == "off":
        return "Prompts on this server are checked by the word lists alone."
    when = "admitted as the lists decide" if fail_open else "refused until it answers again"
    return (
        f"Prompts on this server are checked by the word lists, then the {name} classifier "
        f"(if it can't answer, prompts are {when})."
    )


# --- admission ---------------------------------------------------------------------------------

BANNED = "Sorry, you can't make videos here: a moderator has banned you."
PAUSED = "Video making is paused by the moderators right now. Please try later."
GUILD_BUSY = "This server's queue is full right now. Please try again soon."


def busy(wait_s: float) -> str:
    return f"The bot is busy right now. Please try again in {format_eta(wait_s)}."


def too_many_waiting(waiting: int, limit: int) -> str:
    return f"You already have {waiting} videos waiting (the limit is {limit}). Please wait for one to finish."


def rate_limited(per_minute: float, wait_s: int) -> str:
    return f"You're sending prompts faster than {per_minute:g} a minute. Try again in {wait_s} s."


# --- a member's commands -----------------------------------------------------------------------


def no_such_job(job_id: int) -> str:
    return f"There is no job {job_id}."


def not_your_job(job_id: int) -> str:
    return f"You have no job {job_id}."


def not_here(job_id: int) -> str:
    return f"There is no job {job_id} here."


def already(job_id: int, state: str) -> str:
    return f"Job {job_id} is already {state}."


def cancelling(job_id: int) -> str:
    return f"Cancelling job {job_id}."


QUEUE_EMPTY = "The queue is empty."
NO_HISTORY = "You haven't made any videos yet."


def queue_entry(number: int, job_id: int, mine: bool, rendering: tuple[int, int] | None) -> str:
    state = f"rendering {rendering[0]}/{rendering[1]}" if rendering else "waiting"
    return f"{number}. job {job_id}{' (yours)' if mine else ''}: {state}"


def queue_more(count: int) -> str:
    return f"\n…and {count} more"


def history_entry(job_id: int, state: str, prompt: str, seed: int) -> str:
    return f"job {job_id} [{state}] {prompt[:60]} (seed {seed})"


def chain_line(job: Any) -> str:
    """How a job relates to the one before it, for /show."""
    r = job.request
    if r.extend and job.parent_id:
        return f"\nExtends #{job.parent_id}."
    parts = []
    if r.image:
        parts.append("started from a picture (private to you)")
    if r.loop:
        parts.append("loops")
    return ("\n" + "; ".join(parts).capitalize() + ".") if parts else ""


def job_details(job: Any) -> str:
    """What /show and a clip's Info button say: enough to reproduce the clip."""
    r = job.request
    took = f", rendered in {job.render_seconds:.1f} s" if job.render_seconds else ""
    negative = f"\nNegative: {r.negative_prompt}" if r.negative_prompt else ""
    return (
        f"Job {job.id} [{job.state}]\nPrompt: {r.prompt}{negative}\n"
        f"Model {r.model}, seed {r.seed}, {r.steps} steps, guidance {r.guidance:g}, "
        f"{r.frames} frames at {r.fps} fps, {r.width}x{r.height}{took}{chain_line(job)}"
    )


def stats(renders: int, median_s: float | None, waiting: int) -> str:
    median = f"{median_s:.1f} s" if median_s is not None else "n/a"
    return f"{renders} renders, median render time {median}, {waiting} in queue."


NO_FARM = "This bot renders on its own machine (no render farm configured)."
NO_WORKERS = "No farm worker has reported yet."


def worker_line(info: dict[str, Any], seen_ago_s: float) -> str:
    """One farm worker for /stats and /mod workers."""
    doing = (
        f"rendering job {info['job']} (step {info['step'] or 0}/{info['total'] or '?'})"
        if info.get("job")
        else "idle"
    )
    state = doing if info.get("alive") else f"gone, last seen {seen_ago_s:.0f} s ago"
    return f"{info['preset']}: {info['name']}, {info['jobs_done']} done, {state}"


def workers_summary(pool: list[dict[str, Any]]) -> str:
    """The farm in one line for /stats: live workers by preset."""
    by: dict[str, list[int]] = {}
    for info in pool:
        if info.get("alive"):
            counts = by.setdefault(str(info["preset"]), [0, 0])
            counts[0] += 1
            counts[1] += bool(info.get("job"))
    if not by:
        return "Workers: none live."
    return (
        "Workers: "
        + ", ".join(f"{preset} {n} ({busy} rendering)" for preset, (n, busy) in sorted(by.items()))
        + "."
    )


def help_intro(flag_help: str) -> str:
    return "Send a prompt to get a short video. Options: " + flag_help


HELP_RULES = (
    "Re-roll and remix work on your own videos, whichever way you ask (buttons, replies, commands). "
    "A server's videos can be looked up by anyone in that server; a video made by DM only by you."
)


def help_model(name: str, preset: Any) -> str:
    p = preset
    return (
        f"• {name}: up to {p.max_frames} frames "
        f"({p.max_frames / p.default_fps:.1f} s at {p.default_fps} fps), sides up to {p.max_side}px, "
        f"steps up to {p.max_steps}, prompts up to {p.max_prompt_chars} characters; "
        f"weights: {p.licence.name if p.licence else 'licence unknown'}"
    )


def help_not_for_paid_use(name: str, licence: str) -> str:
    """Said in /help when the owner charges members and a model's licence forbids or limits that."""
    return (
        f"⚠ This bot charges its members, but the licence of `{name}` ({licence}) does not allow "
        "commercial use as it stands: the owner should switch models or check the licence's terms."
    )


# --- the output check ------------------------------------------------------------------------


def held_for_review(job_id: int) -> str:
    """What the requester of a clip the output check held is told, once."""
    return (
        f"Your video (job {job_id}) is waiting for a moderator to look at it before it's posted. "
        "Sorry for the wait: if it's approved, it will be posted here."
    )


def rejected_after_review(job_id: int) -> str:
    return f"A moderator looked at your video (job {job_id}) and decided not to post it. Sorry!"


NO_HELD = "No videos are held for review."
HELD_BUSY = "The requester is being told about that video right now; please try again in a moment."
THRESHOLD_USAGE = "Use `threshold VALUE` (0 to 1; lower holds more), or `threshold default`."


def held_entry(job: Any) -> str:
    score = "?" if job.check_score is None else f"{job.check_score:.2f}"
    limit = "?" if job.check_threshold is None else f"{job.check_threshold:.2f}"
    return (
        f"job {job.id} by {quoted(job.user_name or job.user_id, 32)}: score {score} (held at {limit}), "
        + (f"prompt: {quoted(job.request.prompt, 60)}")
    )


def not_held(job_id: int, state: str) -> str:
    return f"Job {job_id} is not held for review (it is {state})."


def released(job_id: int) -> str:
    return f"Released job {job_id}: it will be posted to its requester now."


def rejected(job_id: int) -> str:
    return f"Rejected job {job_id}: its video is deleted and its requester told."


def threshold_now(value: float, own: bool, checking: bool) -> str:
    where = "this server's" if own else "the default"
    off = "" if checking else " (the output check is switched off on this bot, so nothing is held)"
    return f"Output check threshold: {value:g} ({where}); clips scoring at or above it are held.{off}"


# --- moderators --------------------------------------------------------------------------------

# Why a finished clip could not be posted, when the surface's own error says nothing useful.
DELIVERY_BROKE = "something went wrong on our side"

NOT_MOD = "Only moderators can do that."
OWNER_ONLY = "Only the bot's owners can do that: it acts on every server, not just this one."
NOT_YOUR_CLIP = "Only the person who asked for that video can re-roll or remix it."
PAUSED_NOW = "Paused: new prompts are refused until a moderator resumes. Queued jobs still finish."
RESUMED = "Resumed: prompts are welcome again."
NO_SELF_BAN = "You can't ban yourself."
AUDIT_EMPTY = "The audit log is empty."
WORDS_USAGE = "Use `words add`, `words remove` or `words list`."


def cleared(count: int) -> str:
    return f"Cleared the queue: {count} jobs cancelled."


def banned(user_id: str, reason: str, cancelled: int) -> str:
    because = f" ({reason})" if reason else ""
    return f"Banned {quoted(user_id, 64)}{because}; {cancelled} waiting jobs cancelled."


def unbanned(user_id: str, was_banned: bool) -> str:
    who = quoted(user_id, 64)
    return f"Unbanned {who}." if was_banned else f"{who} was not banned."


def unknown_limit(name: str, names: Iterable[str]) -> str:
    return f"Unknown limit `{quoted(name, 30)}`. Limits: {', '.join(names)}."


def limit_not_a_number(name: str, low: float, high: float) -> str:
    return f"`{name}` needs a number between {low:g} and {high:g}."


def limit_out_of_range(name: str, low: float, high: float) -> str:
    return f"`{name}` must be between {low:g} and {high:g}."


def limits_now(limits: Any) -> str:
    return (
        f"Limits: burst {limits.rate_burst}, {limits.rate_per_minute:g} per minute, "
        f"{limits.max_waiting_per_user} waiting per user, {limits.max_waiting_per_guild} per server."
    )


def blocked_words_list(words: list[str]) -> str:
    return "Blocked words: " + (", ".join(words) if words else "none.")


def blocked_words_now(words: list[str]) -> str:
    return f"Blocked words now: {', '.join(words) if words else 'none'}."


def unknown_category(name: str, categories: Iterable[str]) -> str:
    return f"Unknown category `{quoted(name, 30)}`. Categories: {', '.join(categories)}."


def category_always_on(label: str) -> str:
    return f"The {label} filter is always on and can't be turned off."


def category_now(label: str, enabled: bool) -> str:
    return f"The {label} filter is now {'on' if enabled else 'off'}."


def dms_now(allowed: bool) -> str:
    return f"Prompts by DM are now {'allowed' if allowed else 'refused'} (for the whole bot)."


def mod_role_now(role_id: int | None) -> str:
    return "Moderator role set." if role_id else "Moderator role removed."


def audit_entry(row: Mapping[str, Any]) -> str:
    when = dt.datetime.fromtimestamp(row["at"], dt.UTC).strftime("%Y-%m-%d %H:%M")
    return (
        f"{when} {row['action']}"
        + (f" by {row['actor_id']}" if row["actor_id"] else "")
        + (f" user {row['user_id']}" if row["user_id"] else "")
        + (f" [{row['category']}]" if row["category"] else "")
        + (f": {row['detail']}" if row["detail"] else "")
    )


# --- pictures, extensions, loops ----------------------------------------------------------------

IMAGES_OFF = "Starting a video from a picture is off here. A moderator can turn it on with `/mod images on`."
FACE_IN_PICTURE = (
    "That picture seems to show a face, and this server doesn't animate pictures of people "
    "(a moderator can allow it with `/mod faces on`)."
)
FACE_CHECK_MISSING = "This bot can't check pictures for faces right now, so it can't start videos from them."


def cannot_read_file(path: str, why: str) -> str:
    return f"I couldn't read {quoted(path, 60)}: {why}."


PICTURE_FLAGGED = (
    "Sorry, that picture can't start a video here: the safety check flagged it. If you think "
    "that's a mistake, ask a moderator."
)
IMAGE_PATHS_CONSOLE_ONLY = "Attach the picture to your message instead of giving a path."
EXTEND_NOT_READY = "That video isn't finished yet; you can extend it once it has arrived."


def chain_too_long(total_s: float, limit_s: float) -> str:
    return (
        f"That would make the video {total_s:.1f} s long; videos here can be extended up to "
        f"{limit_s:.0f} s in all."
    )


def images_now(on: bool) -> str:
    return "Videos can start from a picture here now." if on else "Videos can't start from pictures here now."


def faces_now(on: bool) -> str:
    return "Pictures showing faces are allowed now." if on else "Pictures showing faces are refused now."


def mark_now(on: bool) -> str:
    if on:
        return "New clips here carry a small visible “AI-generated” label in the corner."
    return "New clips here carry no visible label (their content credentials still say how they were made)."


def chain_limit_now(seconds: float) -> str:
    return f"Extended videos here can now reach {seconds:.0f} s in all."


def chain_limit_out_of_range(high: float) -> str:
    return f"Give the longest extended video in seconds, from 1 to {high:.0f}."


# --- daily quotas and quiet hours ---------------------------------------------------------------


def _in(seconds: float) -> str:
    minutes = max(1, round(seconds / 60))
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


def quiet_hours(seconds_left: float) -> str:
    return f"Quiet hours: I'm not taking prompts right now. Back in {_in(seconds_left)}."


def member_quota_spent(quota: int, reset_s: float) -> str:
    return f"You've made your {quota} videos for today. Your quota renews in {_in(reset_s)}."


def server_quota_spent(quota: int, reset_s: float) -> str:
    return f"This server has made its {quota} videos for today. The quota renews in {_in(reset_s)}."


def quota_left(left: int, quota: int, reset_s: float) -> str:
    return f"Today: {left} of your {quota} videos left (renews in {_in(reset_s)})."


def quota_now(member: int | None, server: int | None, quiet: str) -> str:
    def daily(n: int | None) -> str:
        return "no limit" if not n else f"{n} a day"

    quiet = quiet or "off"
    return f"Quotas here: each member {daily(member)}, this server {daily(server)}; quiet hours {quiet}."


QUOTA_USAGE = (
    "Use `quota member=N server=N quiet=23:00-07:00` (0 or `off`: no limit), or `quota` to see them."
)


# --- privacy -------------------------------------------------------------------------------------


def forget_confirm(jobs: int) -> str:
    return (
        f"This deletes everything I keep of yours, in every server and DM: {jobs} prompts with their "
        "videos and history. It cannot be undone. To go ahead, send `/forget me confirm` (on Discord: "
        "`/forget confirm:True`)."
    )


def forgotten(jobs: int, clips: int) -> str:
    return f"Done: {jobs} prompts and {clips} videos of yours are deleted, everywhere."


def purged(what: str, jobs: int, clips: int) -> str:
    return f"Purged {what}: {jobs} prompts and {clips} videos deleted."


FORGET_USAGE = "Use `/forget me` to delete everything I keep of yours."
PURGE_USAGE = "Use `purge member USER` or `purge server SERVER` (the bot's owners only)."


# --- reports -------------------------------------------------------------------------------------

REPORTED = "Thanks: the moderators will look at this video."
ALREADY_REPORTED = "You have reported this video already; the moderators have it in their list."


def reports_list(entries: list[dict[str, Any]]) -> str:
    if not entries:
        return "No reported videos here."
    lines = []
    for e in entries:
        prompt = quoted(e["prompt"], 200) if e["prompt"] is not None else "(deleted since)"
        lines.append(
            f"Job {e['job_id']} by {quoted(str(e['user_id']), 64)}, reported {e['reports']}x: {prompt}"
        )
    return "\n".join(lines)


# --- languages -------------------------------------------------------------------------------------

LANGUAGE_NAMES = {"en": "English", "fr": "French"}


def unknown_language(code: str, choices: Iterable[str]) -> str:
    return f"I don't speak `{quoted(code, 20)}` yet. Languages: {', '.join(choices)}, or `default`."


def language_now(code: str | None, default: str) -> str:
    """`/mod language`'s answer: which language members whose own the bot doesn't speak get here."""
    name = LANGUAGE_NAMES.get(code or default, code or default)
    own = "" if code else " (the bot's default)"
    return (
        f"This server's language: {name}{own}. Members still get their own app language where "
        "the bot speaks it; mentions and DMs get this one."
    )


# Said after "Queued job N" when a prompt looks written in another language than English.
NOT_ENGLISH = "Tip: the video models read English best, so a prompt in English usually gives a closer clip."
# Said instead when the owner's translation step turned it into English for the model.
TRANSLATED = "Your prompt was translated into English for the video model."
