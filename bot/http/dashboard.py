"""The owner's dashboard: one server-rendered page, readable on a phone, that refreshes itself.

Everything that comes from the journal (prompts, names, audit details: all typed by someone)
goes through `e()` (HTML escaping, quotes included) before it reaches the page; there is no
other way onto it. The page's one script and style carry a per-response nonce, and the
server's Content-Security-Policy allows nothing else, so even a mistake here could not run a
member's script. The script re-fetches the page every few seconds and swaps in the sections
that changed, leaving a clip that is playing alone.

Sections, in page order, are `SECTIONS`; the clips the output check holds come right after the
queue, each with release and reject buttons (the only forms on the page).
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

from bot.http import texts
from bot.http.views import REFUSAL_BUCKETS, REFUSALS_WINDOW_S, DashboardData
from engine.journal import JobState

REFRESH_S = 10
# Colours of the chart's categories, in order of first appearance (readable on light and dark).
PALETTE = ("#d1495b", "#edae49", "#00798c", "#30638e", "#7b2cbf", "#6a994e", "#bc6c25", "#495057")
CHART_W, CHART_H, BAR_GAP = 240, 80, 1


def e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _table(headings: tuple[str, ...], rows: list[str], cls: str) -> str:
    head = "".join(f"<th>{e(h)}</th>" for h in headings)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def render_queue(d: DashboardData) -> str:
    if not d.queue:
        return f'<p class="empty">{e(texts.QUEUE_EMPTY)}</p>'
    rows = []
    for job, where in d.queue:
        if job.state == JobState.RUNNING or where is None:
            place, when = "▶", texts.step_of(job.progress_step, job.progress_total)
        else:
            place, when = str(where.position), texts.eta(where.eta_s)
        rows.append(
            f'<tr class="job" data-job="{job.id}" data-state="{e(job.state)}">'
            f"<td>{e(place)}</td><td>{job.id}</td><td>{e(job.user_name or job.user_id)}</td>"
            f'<td>{e(job.model)}</td><td class="prompt">{e(job.request.prompt)}</td>'
            f'<td class="when">{e(when)}</td></tr>'
        )
    total = f'<p class="note">{e(texts.waiting_total(len(d.queue), d.waiting))}</p>'
    return total + _table(texts.QUEUE_HEADINGS, rows, "queue")


def render_held(d: DashboardData) -> str:
    """Clips the output check holds, each with its player and the moderators' two decisions.

    The buttons post to `/held/N/release|reject`, which go through `Moderation` like `/mod
    release` (the owner's tier, audited); the session cookie is SameSite=Strict, so another
    site cannot post them on the owner's behalf.
    """
    if not d.held:
        return f'<p class="empty">{e(texts.NO_HELD)}</p>'
    rows = []
    for job in d.held:
        forms = "".join(
            f'<form method="post" action="/held/{job.id}/{action}"><button type="submit"'
            f' class="{action}">{e(label)}</button></form>'
            for action, label in (("release", texts.RELEASE), ("reject", texts.REJECT))
        )
        rows.append(
            f'<tr class="held" data-job="{job.id}"><td>{job.id}</td>'
            f"<td>{e(job.user_name or job.user_id)}</td>"
            f'<td class="prompt">{e(job.request.prompt)}</td>'
            f"<td>{e(texts.held_score(job.check_score, job.check_threshold))}</td>"
            f'<td><video src="/clips/{job.id}.mp4" controls muted playsinline preload="none"></video></td>'
            f'<td class="decide">{forms}</td></tr>'
        )
    return _table(texts.HELD_HEADINGS, rows, "held")


def render_workers(d: DashboardData) -> str:
    if not d.workers:
        return f'<p class="empty">{e(texts.NO_WORKERS)}</p>'
    rows = []
    for w in d.workers:
        alive = d.now - w.last_seen <= d.window_s
        badge = texts.ALIVE_BADGE if alive else texts.GONE_BADGE
        rows.append(
            f'<tr class="worker" data-alive="{str(alive).lower()}"><td>{e(w.name)}</td><td>{e(w.preset)}</td>'
            f'<td>{e(texts.ago(d.now - w.last_seen))}</td><td class="badge {badge}">{e(badge)}</td></tr>'
        )
    return _table(texts.WORKER_HEADINGS, rows, "workers")


def render_clips(d: DashboardData) -> str:
    if not d.clips:
        return f'<p class="empty">{e(texts.NO_CLIPS)}</p>'
    items = []
    for job in d.clips:
        caption = texts.clip_caption(job.id, job.user_name or job.user_id, job.model)
        items.append(
            f'<figure class="clip" data-job="{job.id}">'
            f'<video src="/clips/{job.id}.mp4" controls loop muted playsinline preload="metadata"></video>'
            f'<figcaption><span class="prompt">{e(job.request.prompt or texts.NO_PROMPT)}</span>'
            f"<small>{e(caption)}</small></figcaption></figure>"
        )
    return f'<div class="clips">{"".join(items)}</div>'


def refusal_chart(refusals: list[tuple[float, str]], now: float) -> str:
    """Stacked bars, one per hour of the last day, one colour per category, and a legend."""
    if not refusals:
        return f'<p class="empty">{e(texts.NO_REFUSALS)}</p>'
    width = REFUSALS_WINDOW_S / REFUSAL_BUCKETS
    start = now - REFUSALS_WINDOW_S
    counts: dict[tuple[int, str], int] = {}
    categories: list[str] = []
    for at, category in refusals:
        bucket = min(REFUSAL_BUCKETS - 1, max(0, int((at - start) // width)))
        counts[bucket, category] = counts.get((bucket, category), 0) + 1
        if category not in categories:
            categories.append(category)
    colour = {c: PALETTE[i % len(PALETTE)] for i, c in enumerate(categories)}
    totals = [sum(n for (b, _), n in counts.items() if b == bucket) for bucket in range(REFUSAL_BUCKETS)]
    scale = CHART_H / max(totals)
    bar_w = CHART_W / REFUSAL_BUCKETS
    bars = []
    for bucket in range(REFUSAL_BUCKETS):
        y = float(CHART_H)
        until = texts.clock(start + (bucket + 1) * width)[:5]
        for category in categories:
            n = counts.get((bucket, category), 0)
            if not n:
                continue
            h = n * scale
            y -= h
            tip = texts.refusals_in_hour(n, category, until)
            bars.append(
                f'<rect class="bar" data-category="{e(category)}" data-count="{n}" x="{bucket * bar_w:.1f}"'
                f' y="{y:.1f}" width="{bar_w - BAR_GAP:.1f}" height="{h:.1f}" fill="{colour[category]}">'
                f"<title>{e(tip)}</title></rect>"
            )
    legend = "".join(
        f'<li><span class="swatch" data-colour="{colour[c]}"><svg viewBox="0 0 10 10" width="10" height="10">'
        f'<rect width="10" height="10" fill="{colour[c]}"/></svg></span>{e(c)}'
        f" ({sum(n for (_, cat), n in counts.items() if cat == c)})</li>"
        for c in categories
    )
    return (
        f'<svg id="refusals-chart" viewBox="0 0 {CHART_W} {CHART_H}" preserveAspectRatio="none"'
        f' role="img" aria-label="{e(texts.CHART_LABEL)}">{"".join(bars)}</svg>'
        f'<ul class="legend">{legend}</ul>'
    )


def render_refusals(d: DashboardData) -> str:
    return refusal_chart(d.refusals, d.now)


def render_audit(d: DashboardData) -> str:
    if not d.audit:
        return f'<p class="empty">{e(texts.NO_AUDIT)}</p>'
    rows = []
    for row in d.audit:
        cells = (texts.when(row["at"]), row["action"], row["guild_id"], row["actor_id"], row["user_id"],
                 row["category"], row["detail"])  # fmt: skip
        rows.append('<tr class="audit">' + "".join(f"<td>{e(c or '')}</td>" for c in cells) + "</tr>")
    return _table(texts.AUDIT_HEADINGS, rows, "audit")


Section = tuple[str, str, Callable[[DashboardData], str]]
SECTIONS: list[Section] = [
    ("queue", texts.QUEUE, render_queue),
    ("held", texts.HELD, render_held),
    ("workers", texts.WORKERS, render_workers),
    ("clips", texts.CLIPS, render_clips),
    ("refusals", texts.REFUSALS, render_refusals),
    ("audit", texts.AUDIT, render_audit),
]

STYLE = """
:root{color-scheme:light dark;--fg:#1d1d1f;--bg:#fafafa;--line:#ddd;--muted:#666}
@media (prefers-color-scheme:dark){:root{--fg:#eee;--bg:#141414;--line:#333;--muted:#aaa}}
*{box-sizing:border-box}body{margin:0;font:15px/1.4 system-ui,sans-serif;color:var(--fg);background:var(--bg)}
header{display:flex;flex-wrap:wrap;gap:.5rem;align-items:baseline;padding:.75rem 1rem;
  border-bottom:1px solid var(--line)}
header h1{font-size:1.2rem;margin:0}header p{margin:0;color:var(--muted);font-size:.85rem}
main{max-width:60rem;margin:auto;padding:0 .75rem 2rem}section{margin-top:1.25rem}
h2{font-size:1rem;margin:0 0 .5rem}
.ready,.not-ready{padding:.1rem .5rem;border-radius:1rem;font-size:.8rem;color:#fff}.ready{background:#2b8a3e}
.not-ready{background:#c92a2a}ul.failing{margin:.25rem 0 0;color:#c92a2a}
.scroll{overflow-x:auto}table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{text-align:left;padding:.3rem .4rem;border-bottom:1px solid var(--line);vertical-align:top}
td.prompt,.clip .prompt{overflow-wrap:anywhere}.empty,.note{color:var(--muted)}
.badge.alive{color:#2b8a3e}.badge.gone{color:var(--muted)}
.clips{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:.75rem}
.clip{margin:0}.clip video{width:100%;aspect-ratio:1;object-fit:contain;background:#000;border-radius:.4rem}
.clip figcaption{font-size:.85rem}.clip small{display:block;color:var(--muted)}
#refusals-chart{width:100%;height:8rem;border-bottom:1px solid var(--line)}
.legend{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:.25rem 1rem;font-size:.85rem}
.swatch{margin-right:.3rem}td.when{min-width:6.5rem}
@media (max-width:480px){.queue th:nth-child(4),.queue td:nth-child(4){display:none}}
"""

SCRIPT = """
(function(){
  function playing(section){
    return Array.prototype.some.call(section.querySelectorAll('video'), function(v){return !v.paused;});
  }
  function refresh(){
    fetch(location.pathname, {credentials: 'same-origin', cache: 'no-store'}).then(function(r){
      if (!r.ok) throw new Error(r.status);
      return r.text();
    }).then(function(text){
      var fresh = new DOMParser().parseFromString(text, 'text/html');
      fresh.querySelectorAll('[data-live]').forEach(function(next){
        var now = document.getElementById(next.id);
        if (!now) return;
        if (now.innerHTML === next.innerHTML || playing(now)) return;
        now.innerHTML = next.innerHTML;
      });
      document.body.dataset.refreshed = String(Date.now());
    }).catch(function(){ document.body.dataset.refreshFailed = String(Date.now()); });
  }
  setInterval(refresh, REFRESH_MS);
})();
"""


def render_status(d: DashboardData) -> str:
    if not d.not_ready:
        return f'<span class="ready">{e(texts.READY_BADGE)}</span>'
    items = "".join(f"<li>{e(line)}</li>" for line in d.not_ready)
    return f'<span class="not-ready">{e(texts.NOT_READY_BADGE)}</span><ul class="failing">{items}</ul>'


def render_page(d: DashboardData, nonce: str) -> str:
    sections = []
    for key, title, render in SECTIONS:
        body = render(d)
        if not body:
            continue
        heading = f"<h2>{e(title)}</h2>" if title else ""
        sections.append(f'<section id="{key}" data-live>{heading}<div class="scroll">{body}</div></section>')
    script = SCRIPT.replace("REFRESH_MS", str(REFRESH_S * 1000))
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f'<title>{e(texts.TITLE)}</title><style nonce="{nonce}">{STYLE}</style></head><body>'
        f'<header><h1>{e(texts.TITLE)}</h1><div id="status" data-live>{render_status(d)}</div>'
        f'<p id="updated" data-live>{e(texts.updated(d.now))}</p></header>'
        f"<main>{''.join(sections)}</main>"
        f'<script nonce="{nonce}">{script}</script></body></html>'
    )
