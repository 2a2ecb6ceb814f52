"""How fast is the job journal, and does an in-process worker stall the bot's event loop?

    python bench/queue_throughput.py [--jobs 3000] [--backlog 500] [--window 6] [--threads 0 1]
        [--models-dir DIR]

1. Queue throughput: worker *processes* (1, then 4), each with its own `Journal` on one SQLite
   file, each looping enqueue -> claim -> complete (with a dummy clip path; nothing renders).
   Claims are fair-ordered and leased exactly as in production; a process may claim a job
   another one enqueued. Printed as jobs/s over the wall time of all processes. Goal: >= 2000
   jobs/s with 4. A second figure drains a backlog queued up front (`bench/queue_scale.py`
   measures claims and answers at depths up to 50,000).
2. Event-loop stall: an asyncio loop ticking every 5 ms records how late each tick wakes while
   the tiny model loads (off the loop, as the bot does it) and then while a `Worker` thread
   renders for a fixed window; meanwhile the loop enqueues jobs and asks their positions
   through `AsyncJournal`, as the bot does. Printed as the largest stall in ms, once with
   torch's default thread count (what the bot uses today) and once with one thread. Goal:
   < 50 ms. A baseline with no worker shows how much of the stall is the machine.

Runs in well under a minute; everything is written to a temporary directory.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from engine.journal import AsyncJournal, JobState, Journal
from engine.request import build_request
from engine.settings import EngineSettings

STALL_GOAL_MS = 50.0
THROUGHPUT_GOAL = 2000.0
TICK_S = 0.005


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--jobs", type=int, default=3000, help="jobs per throughput run (split across processes)")
    p.add_argument("--backlog", type=int, default=500, help="jobs queued up front for the drain figure")
    p.add_argument("--window", type=float, default=6.0, help="seconds of rendering per stall measurement")
    p.add_argument(
        "--threads", type=int, nargs="*", default=[0, 1],
        help="torch thread counts to measure the stall with (0: torch's default)",
    )  # fmt: skip
    p.add_argument("--models-dir", type=Path, default=None, help="reuse a saved tiny model (default: temp)")
    return p.parse_args()


# --- 1. queue throughput --------------------------------------------------------------------------


def _cycle_process(db: str, name: str, jobs: int, start: Any, results: Any) -> None:
    """enqueue -> claim -> complete, `jobs` times, then drain whatever is left."""
    journal = Journal(db, lease_seconds=60)
    req = build_request("a corgi surfing a wave at sunset", model="tiny", seed=1)
    done = 0
    start.wait()
    began = time.perf_counter()
    for i in range(jobs):
        journal.enqueue(req, user_id=f"user{i % 10}", adapter="bench")
        for job in journal.claim(name):
            done += journal.complete(job.id, name, job.attempts, f"/clips/job-{job.id}.mp4", 0.0)
    while claimed := journal.claim(name):
        for job in claimed:
            done += journal.complete(job.id, name, job.attempts, f"/clips/job-{job.id}.mp4", 0.0)
    results.put((began, time.perf_counter(), done))
    journal.close()


def _drain_process(db: str, name: str, _jobs: int, start: Any, results: Any) -> None:
    """claim -> complete until the queue is empty."""
    journal = Journal(db, lease_seconds=60)
    done = 0
    start.wait()
    began = time.perf_counter()
    while claimed := journal.claim(name):
        for job in claimed:
            done += journal.complete(job.id, name, job.attempts, f"/clips/job-{job.id}.mp4", 0.0)
    results.put((began, time.perf_counter(), done))
    journal.close()


def run_processes(target: Any, db: Path, processes: int, jobs_each: int) -> tuple[float, int]:
    ctx = mp.get_context("spawn")
    start = ctx.Barrier(processes + 1)
    results = ctx.Queue()
    procs = [
        ctx.Process(target=target, args=(str(db), f"bench-{n}", jobs_each, start, results))
        for n in range(processes)
    ]
    for p in procs:
        p.start()
    start.wait(timeout=120)  # every process has opened the journal; timing starts now
    reports = [results.get(timeout=300) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        if p.exitcode != 0:
            raise RuntimeError(f"a benchmark process failed (exit code {p.exitcode})")
    wall = max(end for _, end, _ in reports) - min(began for began, _, _ in reports)
    return wall, sum(done for _, _, done in reports)


def check_all_rendered(db: Path, expected: int) -> None:
    journal = Journal(db)
    states = journal.stats()["states"]
    journal.close()
    if states != {"rendered": expected}:
        raise RuntimeError(f"jobs lost or duplicated: expected {expected} rendered, found {states}")


def bench_throughput(tmp: Path, total_jobs: int, backlog: int) -> None:
    for processes in (1, 4):
        db = tmp / f"throughput-{processes}.db"
        Journal(db).close()  # create and migrate before timing
        wall, done = run_processes(_cycle_process, db, processes, total_jobs // processes)
        check_all_rendered(db, done)
        rate = done / wall
        goal = f" (goal >= {THROUGHPUT_GOAL:.0f})" if processes == 4 else ""
        print(
            f"queue throughput, {processes} process{'es' if processes > 1 else ''}: {rate:.0f} jobs/s"
            f"{goal}  [{done} jobs enqueued+claimed+completed in {wall:.2f}s]",
            flush=True,
        )

    db = tmp / "backlog.db"
    journal = Journal(db)
    req = build_request("a corgi surfing a wave at sunset", model="tiny", seed=1)
    for i in range(backlog):
        journal.enqueue(req, user_id=f"user{i % 50}", adapter="bench")
    journal.close()
    wall, done = run_processes(_drain_process, db, 4, 0)
    check_all_rendered(db, backlog)
    print(
        f"queue drain, 4 processes, {backlog} jobs queued up front: {done / wall:.0f} jobs/s"
        f"  [claim+complete, {wall:.2f}s]",
        flush=True,
    )


# --- 2. event-loop stall --------------------------------------------------------------------------


class Ticker:
    """Wakes every 5 ms and records how late each wake-up was, per named phase."""

    def __init__(self) -> None:
        self.phase = "idle"
        self.late: dict[str, list[float]] = {}
        self.stop = asyncio.Event()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while not self.stop.is_set():
            due = loop.time() + TICK_S
            await asyncio.sleep(TICK_S)
            self.late.setdefault(self.phase, []).append(max(0.0, loop.time() - due))

    def summary(self, phase: str) -> tuple[float, float, int]:
        late = sorted(self.late.get(phase, [0.0]))
        p99 = late[min(len(late) - 1, int(len(late) * 0.99))]
        return max(late) * 1000, p99 * 1000, len(late)


def _on_event_counter(loop: asyncio.AbstractEventLoop, counts: dict[str, int]) -> Any:
    def on_event(kind: str, job_id: int, **data: Any) -> None:
        # As the bot does: the worker thread only schedules work on the loop.
        loop.call_soon_threadsafe(lambda: counts.__setitem__(kind, counts.get(kind, 0) + 1))

    return on_event


async def render_phase(
    label: str,
    threads: int,
    renderer: Any,
    settings: EngineSettings,
    journal: AsyncJournal,
    ticker: Ticker,
    window: float,
) -> tuple[int, int, int]:
    """A worker thread renders for `window` seconds while the loop queues jobs and asks positions.

    Jobs still waiting at the end are cancelled (a running one stops at its next step), so a
    slow machine shortens the phase's output rather than lengthening the bench.
    """
    import torch

    from engine.worker import Worker

    torch.set_num_threads(threads)
    loop = asyncio.get_running_loop()
    counts: dict[str, int] = {}
    worker = Worker(
        settings, renderer=renderer, name=f"bench-{threads}", on_event=_on_event_counter(loop, counts),
        idle_poll=0.05,
    )  # fmt: skip
    ticker.phase = label
    thread = threading.Thread(target=worker.run, name="promptreel-worker", daemon=True)
    thread.start()
    ids = []
    for n in range(40):
        req = build_request(f"bench clip {n}", model="tiny", frames=8, steps=4, seed=n)
        ids.append((await journal.enqueue(req, user_id=f"user{n % 3}", adapter="bench")).id)
    worker.wake.set()
    deadline = loop.time() + window
    positions = 0
    while loop.time() < deadline:
        for job in await journal.waiting():
            if job.state is JobState.QUEUED:
                await journal.position(job.id)  # what the bot's status updates ask
                positions += 1
        await asyncio.sleep(0.5)  # a bot refreshes status messages every few seconds at most
    await journal.clear(guild_id=None, by="bench")  # a running render stops at its next step
    worker.stop.set()
    worker.wake.set()
    await asyncio.to_thread(thread.join, 60)
    worker.journal.close()
    rendered = sum([(await journal.get(i)).state is JobState.RENDERED for i in ids])
    return rendered, counts.get("progress", 0), positions


async def bench_stall(tmp: Path, window: float, threads: list[int], models_dir: Path | None) -> None:
    import torch

    from engine.render import Renderer

    settings = EngineSettings(
        _env_file=None,
        data_dir=tmp / "stall",
        models_dir=models_dir,
        model="tiny",
        device="cpu",
        progress_interval_seconds=0.0,
    )
    if models_dir is None:  # build the tiny model before measuring: a first run only
        from engine.tiny import ensure_tiny_model

        await asyncio.to_thread(ensure_tiny_model, settings.resolved_models_dir / "tiny")

    default_threads = torch.get_num_threads()
    ticker = Ticker()
    tick_task = asyncio.create_task(ticker.run())
    loop = asyncio.get_running_loop()
    journal = await AsyncJournal.open(settings.resolved_db_path, lease_seconds=settings.lease_seconds)
    results = []
    try:
        ticker.phase = "baseline"
        baseline_until = loop.time() + 2.0
        while loop.time() < baseline_until:
            await journal.count_waiting()  # the loop's usual DB traffic, without a worker
            await asyncio.sleep(0.02)

        ticker.phase = "load"
        load_started = time.perf_counter()
        renderer = await asyncio.to_thread(Renderer, settings, "tiny")  # off the loop, like the bot
        load_s = time.perf_counter() - load_started

        for n in threads or [default_threads]:
            n = n or default_threads
            label = f"render-{n}"
            done = await render_phase(label, n, renderer, settings, journal, ticker, window)
            results.append((label, n, *done))
    finally:
        ticker.stop.set()
        await tick_task
        await journal.close()
        torch.set_num_threads(default_threads)

    for label, n, rendered, steps, positions in results:
        worst, p99, ticks = ticker.summary(label)
        default = " (torch default)" if n == default_threads else ""
        print(
            f"event loop max stall while an in-process worker renders, {n} torch thread{'s' * (n > 1)}"
            f"{default}: {worst:.1f} ms (goal < {STALL_GOAL_MS:.0f})  [p99 {p99:.1f} ms over {ticks} ticks;"
            f" {rendered} renders of 8 frames x 4 steps ({steps} steps) in {window:.0f}s;"
            f" {positions} position queries]",
            flush=True,
        )
    worst, p99, _ = ticker.summary("load")
    print(
        f"event loop max stall while the model loads off the loop: {worst:.1f} ms  [load took {load_s:.1f}s]"
    )
    worst, p99, _ = ticker.summary("baseline")
    print(f"event loop max stall, baseline without a worker: {worst:.1f} ms  [p99 {p99:.1f} ms]")


def main() -> int:
    args = parse_args()
    started = time.perf_counter()
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}", flush=True)
    with tempfile.TemporaryDirectory(prefix="promptreel-queue-bench-") as tmp_name:
        tmp = Path(tmp_name)
        bench_throughput(tmp, args.jobs, args.backlog)
        asyncio.run(bench_stall(tmp, args.window, args.threads, args.models_dir))
    print(
        f"total bench time: {time.perf_counter() - started:.1f}s  (load average now {os.getloadavg()[0]:.1f})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
