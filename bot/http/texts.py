"""Every sentence the owner's HTTP server says: readiness lines, refusals, the dashboard's words.

Kept apart from the markup (`bot.http.dashboard`) so the wording can be reviewed, and later
translated, in one place. Nothing here is HTML-escaped: the dashboard escapes everything it
puts on the page, these sentences included.
"""

from __future__ import annotations

import datetime as dt

from bot.texts import format_eta

# --- health ---------------------------------------------------------------------------------------

ALIVE = "alive"
READY = "ready"
NOT_STARTED = "journal: the bot has not opened it yet"


def journal_slow(seconds: float) -> str:
    return f"journal: a test write got no answer within {seconds:.0f} s (locked by another process?)"


def journal_unwritable(exc: BaseException) -> str:
    return f"journal: cannot be written ({type(exc).__name__}: {exc})"


def workers_unknown(exc: BaseException) -> str:
    return f"workers: cannot be listed ({type(exc).__name__}: {exc})"


def no_worker(preset: str, window_s: float) -> str:
    return f"worker: none for preset {preset} seen in the last {window_s:.0f} s"


def surface_down(name: str) -> str:
    return f"surface: {name} is not connected"


# --- access ---------------------------------------------------------------------------------------

TOKEN_NEEDED = "This dashboard needs its token: open it as /?token=… (PROMPTREEL_DASHBOARD_TOKEN)."
TOKEN_WRONG = "That token is not this dashboard's. Check PROMPTREEL_DASHBOARD_TOKEN."
LOOPBACK_ONLY = (
    "Without PROMPTREEL_DASHBOARD_TOKEN this dashboard is only shown to this machine (loopback). "
    "Set a token to open it from elsewhere."
)
NO_SUCH_CLIP = "No such clip."

# --- the dashboard ----------------------------------------------------------------------------------

TITLE = "Promptreel"
READY_BADGE = "Ready"
NOT_READY_BADGE = "Not ready"
QUEUE = "Queue"
WORKERS = "Workers"
CLIPS = "Latest clips"
REFUSALS = "Refusals, last 24 hours"
AUDIT = "Audit log"
QUEUE_EMPTY = "Nothing is waiting."
NO_WORKERS = "No worker has been seen in the last 24 hours."
NO_CLIPS = "No clips yet."
NO_REFUSALS = "No refusals in the last 24 hours."
NO_AUDIT = "Nothing in the audit log yet."
RENDERING = "rendering"
ALIVE_BADGE = "alive"
GONE_BADGE = "gone"
NO_PROMPT = "(no prompt)"
CHART_LABEL = "Refusals per hour over the last 24 hours, by category"

QUEUE_HEADINGS = ("#", "Job", "Member", "Preset", "Prompt", "When")
HELD = "Held for review"
NO_HELD = "No clips are held for review."
HELD_HEADINGS = ("Job", "Member", "Prompt", "Score", "Clip", "")
RELEASE = "Release"
REJECT = "Reject"


def held_score(score: float | None, threshold: float | None) -> str:
    if score is None:
        return "?"
    return f"{score:.2f} (holds at {threshold:.2f})" if threshold is not None else f"{score:.2f}"


def decided(job_id: int, what: str) -> str:
    return f"job {job_id}: {what}"


WORKER_HEADINGS = ("Worker", "Preset", "Last seen", "")
AUDIT_HEADINGS = ("When", "Action", "Server", "By", "Member", "Category", "Detail")


def updated(now: float) -> str:
    return f"Updated {clock(now)} UTC; refreshes by itself."


def waiting_total(shown: int, total: int) -> str:
    return f"{total} waiting" + (f", the first {shown} shown" if total > shown else "")


def eta(seconds: float) -> str:
    return f"ready in {format_eta(seconds)}"


def step_of(step: int | None, total: int | None) -> str:
    return f"{RENDERING} {step or 0}/{total}" if total else RENDERING


def ago(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 120:
        return f"{seconds} s ago"
    if seconds < 7200:
        return f"{seconds // 60} min ago"
    return f"{seconds // 3600} h ago"


def clip_caption(job_id: int, who: str, preset: str) -> str:
    return f"Job {job_id} by {who} ({preset})"


def refusals_in_hour(count: int, category: str, until: str) -> str:
    return f"{count} × {category} in the hour to {until} UTC"


def clock(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).strftime("%H:%M:%S")


def when(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y-%m-%d %H:%M")
