"""What does the render farm cost per job, how fast does it go, how fast does it recover?

    python bench/farm.py [--rounds 15] [--jobs 16]

Needs Debian's `redis-server` (`apt-get install redis-server`); one is started on a free loopback
port for the run and stopped at the end. Everything else is written to a temporary directory.

1. Per-job round trip, from a job queued in the journal to its clip recorded there: the local
   worker (a `Worker` thread in this process, woken as the bot wakes it) against the farm
   (`FarmRuntime` in this process, one `python -m engine worker --redis` process), interleaved
   round by round, same tiny request. Printed as medians, their ratio and their difference.
   Goal: farm <= 1.10 x local + 50 ms.
2. Throughput: `--jobs` jobs queued at once, with one farm worker and then two; jobs per second.
3. Recovery: a long render, its worker SIGKILLed mid-render; seconds until another worker renders
   the job again (its next attempt's run key appears). Goal: < 10 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from engine.journal import AsyncJournal, JobState
from engine.presets import get_preset
from engine.request import build_request
from engine.settings import EngineSettings

ROOT = Path(__file__).resolve().parents[1]
DONE = {JobState.RENDERED, JobState.DELIVERED}


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=15, help="interleaved local/farm round trips")
    p.add_argument("--jobs", type=int, default=16, help="jobs queued at once for the throughput figure")
    return p.parse_args()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_redis(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not Path(binary).exists():
        sys.exit("bench/farm.py needs redis-server: apt-get install redis-server")
    port = free_port()
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    proc = subprocess.Popen(
        [*args, "--dir", str(folder)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    import redis

    deadline = time.monotonic() + 30
    while True:
        try:
            if redis.Redis(port=port).ping():
                return proc, f"redis://127.0.0.1:{port}/0"
        except redis.RedisError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def start_worker(url: str, name: str, models: Path, data: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROMPTREEL_")}
    env.update(
        PYTHONPATH=os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])]),
        PROMPTREEL_MODELS_DIR=str(models),
        PROMPTREEL_DATA_DIR=str(data / name),
        PROMPTREEL_OFFLINE="true",
        PROMPTREEL_DEVICE="cpu",
        PROMPTREEL_TORCH_THREADS="1",
        OMP_NUM_THREADS="1",
    )
    cmd = [sys.executable, "-m", "engine", "worker", "--redis", url, "--model", "tiny", "--name", name]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_for(check: Any, within: float, what: str) -> Any:
    deadline = time.monotonic() + within
    while not (value := check()):
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.005)
    return value


def request(i: int, *, long: bool = False) -> Any:
    size = (
        dict(frames=16, width=128, height=128, steps=10)
        if long
        else dict(frames=2, width=32, height=32, steps=2)
    )
    return build_request("a paper boat", model=get_preset("tiny"), seed=i, **size)


async def round_trip(db: AsyncJournal, wake: Any, i: int) -> float:
    began = time.perf_counter()
    job = await db.enqueue(request(i), user_id=f"u{i}", adapter="bench")
    wake()
    # Both paths are timed by the same look at the journal, which is what the bot reads.
    while (await db.get(job.id)).state not in DONE:  # noqa: ASYNC110
        await asyncio.sleep(0.002)
    return time.perf_counter() - began


async def drain(db: AsyncJournal, wake: Any, n: int, base: int) -> float:
    began = time.perf_counter()
    ids = [(await db.enqueue(request(base + i), user_id=f"u{i % 4}", adapter="bench")).id for i in range(n)]
    wake()
    pending = set(ids)
    while pending:  # the same look at the journal as the round trips
        pending = {j for j in pending if (await db.get(j)).state not in DONE}
        await asyncio.sleep(0.01)
    return n / (time.perf_counter() - began)


async def main() -> None:
    args = parse_args()
    import torch

    from engine.farm.dispatch import FarmRuntime
    from engine.render import Renderer
    from engine.tiny import ensure_tiny_model
    from engine.worker import Worker

    torch.set_num_threads(1)
    tmp = Path(tempfile.mkdtemp(prefix="promptreel-bench-farm-"))
    redis_proc, url = start_redis(tmp)
    workers: list[subprocess.Popen[bytes]] = []
    try:
        models = tmp / "models"
        ensure_tiny_model(models / "tiny")
        base = dict(models_dir=models, offline=True, device="cpu", model="tiny", lease_seconds=30.0)
        local_s = EngineSettings(_env_file=None, data_dir=tmp / "local", **base)  # type: ignore[arg-type]
        farm_s = EngineSettings(
            _env_file=None, data_dir=tmp / "farm", render_backend="redis", redis_url=url, **base
        )  # type: ignore[arg-type]
        local_db = await AsyncJournal.open(local_s.resolved_db_path)
        farm_db = await AsyncJournal.open(farm_s.resolved_db_path)
        worker = Worker(local_s, renderer=Renderer(local_s, "tiny"), name="local", idle_poll=0.05)
        thread = threading.Thread(target=worker.run, daemon=True)
        thread.start()
        import redis

        client = redis.Redis.from_url(url)
        workers.append(start_worker(url, "w1", models, tmp))
        wait_for(lambda: client.exists("promptreel:worker:w1"), 120, "worker w1")
        runtime = FarmRuntime(farm_s, lambda *a: None)
        await runtime.start()

        for i in range(3):  # warm both paths
            await round_trip(local_db, worker.wake.set, 10_000 + i)
            await round_trip(farm_db, runtime.wake, 10_000 + i)
        local, farm = [], []
        for i in range(args.rounds):
            local.append(await round_trip(local_db, worker.wake.set, i))
            farm.append(await round_trip(farm_db, runtime.wake, i))
        lm, fm = statistics.median(local), statistics.median(farm)
        goal = 1.10 * lm + 0.050
        print(
            f"round trip, median of {args.rounds} interleaved: "
            f"local {lm * 1000:.0f} ms, farm {fm * 1000:.0f} ms"
        )
        print(
            f"  farm / local = {fm / lm:.2f}, farm - local = {(fm - lm) * 1000:+.0f} ms; "
            f"goal farm <= 1.10 x local + 50 ms = {goal * 1000:.0f} ms: {'met' if fm <= goal else 'NOT met'}"
        )

        one = await drain(farm_db, runtime.wake, args.jobs, 20_000)
        workers.append(start_worker(url, "w2", models, tmp))
        wait_for(lambda: client.exists("promptreel:worker:w2"), 120, "worker w2")
        two = await drain(farm_db, runtime.wake, args.jobs, 30_000)
        print(
            f"throughput, {args.jobs} jobs queued at once: "
            f"1 worker {one:.1f} jobs/s, 2 workers {two:.1f} jobs/s"
        )

        job = await farm_db.enqueue(request(40_000, long=True), user_id="k", adapter="bench")
        runtime.wake()
        run1 = f"promptreel:run:{job.id}:1"
        info = await asyncio.to_thread(
            wait_for,
            lambda: (r := client.get(run1)) and json.loads(r)["step"] and json.loads(r),
            120,
            "render",
        )
        victim = workers[0] if info["name"] == "w1" else workers[1]
        victim.send_signal(signal.SIGKILL)
        killed = time.perf_counter()
        await asyncio.to_thread(wait_for, lambda: client.exists(f"promptreel:run:{job.id}:2"), 60, "rerun")
        again = time.perf_counter() - killed
        liveness = farm_s.farm_liveness_seconds
        print(
            f"SIGKILL mid-render -> running again on the other worker: {again:.1f} s "
            f"(liveness window {liveness:g} s; goal < 10 s: {'met' if again < 10 else 'NOT met'})"
        )
        await runtime.stop()
        worker.stop.set()
        thread.join(timeout=30)
        await local_db.close()
        await farm_db.close()
    finally:
        for proc in workers:
            if proc.poll() is None:
                proc.terminate()
        for proc in workers:
            proc.wait(timeout=30)
        redis_proc.terminate()
        redis_proc.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
