"""How fast the Discord bot acknowledges /video while it renders: `python bench/discord_intake.py`.

500 `/video` prompts from 100 members go through the real bot (`create_bot`) inside simcord, an
offline simulation of Discord, while the in-process worker renders the tiny model on its thread
and the Dispatcher edits status messages and delivers finished clips on the same event loop.

What is measured, per prompt (wall clock, `time.perf_counter`):

- ack: from just before the member issues the slash command (`member.slash(...)`, which injects
  INTERACTION_CREATE) to the moment the bot's interaction response (`POST .../callback`) reaches
  simcord's REST layer. That is what Discord's 3-second deadline applies to. The bot's REST log
  has no timestamps, so the log list is swapped for one that stamps each entry as it is appended
  (an observation only: nothing the bot does changes).
- round trip: until `member.slash` returns, i.e. until simcord has settled *all* the bot's work,
  which includes status edits and clip deliveries that happened meanwhile. An upper bound.

Then the journal is asked how many jobs it recorded as admitted; that must equal the number of
prompts the bot answered as queued. Admission limits are raised so that all are admitted; any
refusal is counted separately by reason.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PROMPTS = 500
MEMBERS = 100


class StampedLog(list):  # type: ignore[type-arg]
    """simcord's REST log, with the wall-clock time each request arrived."""

    def __init__(self, entries: list[Any]) -> None:
        super().__init__(entries)
        self.times: list[float] = [0.0] * len(entries)

    def append(self, entry: Any) -> None:
        self.times.append(time.perf_counter())
        super().append(entry)


class IdleWait:
    """The core's idle hook: tells simcord the Dispatcher waits for work on purpose."""

    env: Any = None

    def __call__(self, awaitable: Any) -> Any:
        return self.env.external_wait(awaitable, reason="promptreel: waiting for jobs")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


async def run(models_dir: Path, data_dir: Path, prompts: int, members: int) -> int:
    import simcord

    from bot.config import Settings
    from bot.discord import create_bot

    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        data_dir=data_dir,
        models_dir=models_dir,
        model="tiny",
        offline=True,
        device="cpu",
        discord_dev_guild=None,
        extra_models=[],
        in_process_worker=True,
        allow_dms=True,
        # Let (nearly) everything in: this measures intake, not admission.
        rate_burst=prompts,
        rate_per_minute=600.0,
        max_waiting_per_user=prompts,
        max_waiting_per_guild=prompts * 2,
        max_queue=prompts * 2,
        status_edit_seconds=3.0,
    )
    hook = IdleWait()
    bot = create_bot(settings, idle_wait=hook)
    env = simcord.Env(bot, settle_timeout=30.0)
    hook.env = env
    started = time.perf_counter()
    await env.start()
    print(f"bot started in {time.perf_counter() - started:.1f} s (model load included)")
    log = StampedLog(env.backend.http_requests)
    env.backend.http_requests = log

    with env.time_context():
        guild = env.create_guild("Bench")
        channel = guild.create_text_channel("videos")
        people = [guild.add_member(env.create_user(f"member{i:03d}")) for i in range(members)]
        await env.settle()

        acks: list[float] = []
        trips: list[float] = []
        admitted = 0
        refused: dict[str, int] = {}
        t_begin = time.perf_counter()
        for n in range(prompts):
            member = people[n % members]
            start = len(log)
            t0 = time.perf_counter()
            result = await member.slash(
                channel, "video", prompt=f"a corgi surfing, take {n}", frames=2, steps=1, seed=n
            )
            t1 = time.perf_counter()
            callbacks = [
                i
                for i in range(start, len(log))
                if log[i].method == "POST" and log[i].path.endswith("/callback")
            ]
            if not callbacks:
                raise SystemExit(f"prompt {n}: the bot never answered the interaction")
            acks.append(log.times[callbacks[0]] - t0)
            trips.append(t1 - t0)
            if result.ephemeral:
                text = result.response.content if result.response else "?"
                refused[text.split(".")[0]] = refused.get(text.split(".")[0], 0) + 1
            else:
                admitted += 1
        intake_s = time.perf_counter() - t_begin

        core = bot.core
        states: dict[str, int] = (await core.db.stats())["states"]
        recorded = sum(count for state, count in states.items() if state != "refused")
        await core.close()  # the worker finishes the clip it is on, then stops
        await env.shutdown()
    errors = env.errors

    ms = [a * 1000 for a in acks]
    trip_ms = [t * 1000 for t in trips]
    print(f"{prompts} /video prompts from {members} members in {intake_s:.1f} s")
    print(
        f"time to acknowledge (slash issued -> interaction response sent): "
        f"p50 {percentile(ms, 50):.1f} ms, p99 {percentile(ms, 99):.1f} ms, max {max(ms):.1f} ms "
        f"(mean {statistics.fmean(ms):.1f} ms; goal p99 < 100 ms)"
    )
    print(
        f"round trip until simcord settled (includes concurrent deliveries): "
        f"p50 {percentile(trip_ms, 50):.1f} ms, p99 {percentile(trip_ms, 99):.1f} ms"
    )
    print(f"jobs recorded {recorded} vs admitted {admitted}" + ("" if recorded == admitted else "  MISMATCH"))
    if refused:
        print("refused: " + ", ".join(f"{n} x {why!r}" for why, n in sorted(refused.items())))
    print(f"journal states at the end of intake: {dict(sorted(states.items()))}")
    print(f"clips rendered and delivered meanwhile: {states.get('delivered', 0)}")
    if errors:
        print(f"bot errors: {errors!r}")
    ok = recorded == admitted and not errors and percentile(ms, 99) < 100
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=PROMPTS)
    parser.add_argument("--members", type=int, default=MEMBERS)
    parser.add_argument("--models-dir", type=Path, help="reuse a models dir holding the tiny model")
    args = parser.parse_args()

    import torch

    from engine.tiny import ensure_tiny_model

    torch.set_num_threads(1)  # the tiny model gains nothing from threads; keep the loop's core free
    with tempfile.TemporaryDirectory(prefix="promptreel-bench-") as tmp:
        models_dir = args.models_dir or Path(tmp) / "models"
        t = time.perf_counter()
        ensure_tiny_model(models_dir / "tiny")
        print(f"tiny model ready in {time.perf_counter() - t:.1f} s")
        return asyncio.run(run(models_dir, Path(tmp) / "data", args.prompts, args.members))


if __name__ == "__main__":
    sys.exit(main())
