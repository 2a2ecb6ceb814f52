"""`python -m engine worker --redis URL`: a GPU worker on any machine that reaches the bot's Redis.

It never opens the journal. It loads its preset once, takes one job at a time from its
preset's arq queue, and renders it the way the local worker does (`Renderer.render`, then
`encode_clip`), so a check added to one render path fits the other. About every second it
writes its liveness and progress under short-TTL keys; the bot keeps the journal's lease alive
only while they are fresh. Between two denoising steps it reads the job's cancel flag, and it
gives up an attempt the bot no longer wants (the attempt key moved on). Redis going away ends
nothing: the worker reconnects with growing pauses and carries on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from engine.farm import protocol as p
from engine.farm.shared import SharedPlace
from engine.farm.tasks import stop_tasks
from engine.settings import EngineSettings
from engine.storage import Episodes

log = logging.getLogger(__name__)


def _connection_errors() -> tuple[type[BaseException], ...]:
    from redis.exceptions import ConnectionError, TimeoutError

    return (ConnectionError, TimeoutError, OSError)


class Abandoned(Exception):
    """The bot moved on from this attempt (or the worker is stopping): drop it, report nothing."""


class RemoteWorker:
    """One preset, one job at a time, for a bot somewhere else."""

    def __init__(
        self,
        settings: EngineSettings,
        url: str,
        *,
        model: str | None = None,
        name: str | None = None,
        renderer: Any = None,
    ) -> None:
        from engine.presets import get_preset
        from engine.worker import default_name

        self.settings = settings
        self.url = p.check_redis_url(url)
        self.preset = get_preset(model or settings.model)
        self.name = name or default_name()
        self.shared = SharedPlace(settings)  # FarmConfigError: refuse to start
        self.report_every = max(0.05, settings.farm_liveness_seconds / 3)
        self.faults = Episodes(longest_wait=5.0, logger=log, then="reconnecting with growing pauses")
        self.jobs_done = 0
        self.current: dict[str, Any] | None = None  # job, attempt, step, total, since
        self.abandon = threading.Event()
        self.stopping = asyncio.Event()
        self._renderer = renderer

    @property
    def renderer(self) -> Any:
        if self._renderer is None:
            from engine.render import Renderer

            self._renderer = Renderer(self.settings, self.preset)
        return self._renderer

    # --- liveness -----------------------------------------------------------------------------

    def _status(self) -> dict[str, Any]:
        cur = self.current
        return {
            "name": self.name,
            "preset": self.preset.name,
            "jobs_done": self.jobs_done,
            "job": cur and cur["job"],
            "attempt": cur and cur["attempt"],
            "step": cur and cur["step"],
            "total": cur and cur["total"],
            "seen": time.time(),
        }

    async def report(self) -> None:
        """Say this worker is alive, and how far its job is, for `farm_liveness_seconds`."""
        ttl = max(1, round(self.settings.farm_liveness_seconds * 1000))
        status = self._status()
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.set(p.worker_key(self.name), p.dumps(status), px=ttl)
            pipe.hset(p.SEEN_KEY, self.name, p.dumps(status))
            cur = self.current
            if cur is not None:
                pipe.set(p.run_key(cur["job"], cur["attempt"]), p.dumps(status), px=ttl)
                pipe.get(p.attempt_key(cur["job"]))
            replies = await pipe.execute()
        wanted = replies[-1] if cur is not None else None
        if cur is not None and self.current is cur and wanted not in (None, str(cur["attempt"]).encode()):
            # Failed by the bot (it lost sight of us, say): another attempt owns the job now, or
            # none. No key at all means Redis restarted empty: the bot puts the key back.
            log.warning(
                "job %s attempt %s: no longer wanted by the bot; dropping it", cur["job"], cur["attempt"]
            )
            self.abandon.set()

    async def _report_loop(self) -> None:
        while not self.stopping.is_set():
            try:
                await self.report()
            except _connection_errors() as exc:
                self.faults.failed("report", f"cannot report to Redis at {p.safe_url(self.url)} ({exc})")
            else:
                self.faults.worked("report", "reporting to Redis works")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), self.report_every)

    # --- one job --------------------------------------------------------------------------------

    async def render_job(self, ctx: dict[str, Any], payload: dict[str, Any]) -> None:
        """arq's job function: render one attempt and push its result; arq keeps nothing."""
        job_id, attempt = int(payload["job"]), int(payload["attempt"])
        if await self.redis.get(p.attempt_key(job_id)) != str(attempt).encode():
            log.info("job %s attempt %s: no longer current; skipped", job_id, attempt)
            return
        result: dict[str, Any] = {"job": job_id, "attempt": attempt, "worker": self.name}
        self.abandon.clear()
        self.current = {"job": job_id, "attempt": attempt, "step": 0, "total": None, "since": time.time()}
        try:
            # The bot sees the start at once, not a second later; Redis going away just then is
            # no fault of the job's (the report loop says it again once Redis is back).
            with contextlib.suppress(*_connection_errors()):
                await self.report()
            result.update(await asyncio.to_thread(self._render, payload))
        except Abandoned:
            if not self.stopping.is_set():
                return
            # Stopped by its machine, not by the job: the bot gives it back without counting it.
            result["status"] = "released"
        except Exception as exc:  # the job's fault: the bot counts the attempt and retries
            log.exception("job %s: render failed", job_id)
            result.update(status="failed", error=f"{type(exc).__name__}: {exc}"[:300])
        finally:
            self.current = None
        await self._push(result)
        if result["status"] == "done":
            self.jobs_done += 1
        with contextlib.suppress(*_connection_errors()):
            await self.report()

    async def _push(self, result: dict[str, Any]) -> None:
        """Hand the result over, waiting out a Redis outage unless the bot moved on meanwhile."""
        while True:
            try:
                await self.redis.rpush(p.RESULTS_KEY, p.dumps(result))
            except _connection_errors() as exc:
                wait = self.faults.failed("result", f"cannot hand a result to Redis ({exc})")
                await asyncio.sleep(wait)
                continue
            self.faults.worked("result", "handing results to Redis works")
            return

    def _render(self, payload: dict[str, Any]) -> dict[str, Any]:
        """The local worker's render path (`Worker.process` then `Worker._store`), on this thread."""
        from engine.request import RenderRequest

        job_id = int(payload["job"])
        request = RenderRequest.from_dict(payload["request"])
        with tempfile.TemporaryDirectory(prefix="promptreel-farm-in-") as inputs:
            return self._render_in(payload, job_id, _with_inputs(request, payload, Path(inputs)))

    def _render_in(self, payload: dict[str, Any], job_id: int, request: Any) -> dict[str, Any]:
        from engine.finish import write_clip
        from engine.outputcheck import clip_score, load_detector
        from engine.render import Cancelled

        cancel = p.cancel_key(job_id)
        sync = self.sync_redis

        def should_cancel() -> bool:
            if self.abandon.is_set():
                raise Abandoned()
            try:
                return bool(sync.exists(cancel))
            except _connection_errors():
                return False  # an outage is not a cancel; the flag is read again next step

        def on_progress(step: int, total: int) -> None:
            if self.current is not None:
                self.current.update(step=step, total=total)

        try:
            [result] = self.renderer.render(request, on_progress=on_progress, should_cancel=should_cancel)
        except Cancelled:
            return {"status": "cancelled"}
        # The output check on the frames in memory, as the local worker does; the bot's journal
        # judges the score against the job's server threshold when it records the clip.
        detector = load_detector() if self.settings.output_check else None
        score = clip_score(detector, result.frames, self.settings.output_check_frames, job_id)
        out = {
            "status": "done",
            "seconds": result.seconds,
            "seconds_per_frame_step": result.seconds_per_frame_step,
            "check_score": score,
        }
        mark, private = bool(payload.get("mark")), bool(payload.get("private"))
        with tempfile.TemporaryDirectory(prefix="promptreel-farm-") as tmp:
            path = Path(tmp) / f"job-{job_id}-a{payload['attempt']}.mp4"
            write_clip(result.frames, path, request, mark=mark, private=private)
            if self.shared.fits_inline(path):
                out["clip"] = p.encode_clip_bytes(path.read_bytes())
            else:  # big clips skip Redis' memory
                out.update(self.shared.put(path, self.name))
        return out

    # --- the loop -------------------------------------------------------------------------------

    def _arq_worker(self, pool: Any) -> Any:
        from arq.worker import Worker, func

        return Worker(
            functions=[func(self.render_job, name=p.RENDER_FUNCTION, max_tries=1)],
            queue_name=p.queue_name(self.preset.name),
            redis_pool=pool,
            max_jobs=1,  # one job at a time: the bot counts one slot per worker
            job_timeout=24 * 3600,  # liveness is ours (seconds), not arq's timeout (minutes)
            keep_result=0,
            poll_delay=0.05,
            max_tries=1,
            handle_signals=False,
            job_serializer=p.dumps,
            job_deserializer=p.loads,
            log_results=False,
        )

    async def run(self) -> None:
        """Render until `stopping` is set; Redis outages are waited out, however long."""
        import redis
        import redis.asyncio as aioredis
        from arq.connections import create_pool

        await asyncio.to_thread(lambda: self.renderer)  # load once, before the first job
        self.redis = aioredis.Redis.from_url(self.url, socket_timeout=5, socket_connect_timeout=2)
        self.sync_redis = redis.Redis.from_url(self.url, socket_timeout=1, socket_connect_timeout=1)
        reporter = asyncio.create_task(self._report_loop(), name="promptreel-farm-report")
        settings = p.redis_settings(self.url)
        try:
            while not self.stopping.is_set():
                arq_worker = None
                try:
                    pool = await create_pool(settings, job_serializer=p.dumps, job_deserializer=p.loads)
                    arq_worker = self._arq_worker(pool)
                    self.faults.worked("queue", f"taking {self.preset.name} jobs from Redis")
                    main = asyncio.create_task(arq_worker.main())
                    stop = asyncio.create_task(self.stopping.wait())
                    await asyncio.wait({main, stop}, return_when=asyncio.FIRST_COMPLETED)
                    stop.cancel()
                    if main.done():
                        main.result()
                    await stop_tasks([main])  # arq polls Redis without pause: one cancel may be lost
                except _connection_errors() as exc:
                    wait = self.faults.failed("queue", f"Redis at {p.safe_url(self.url)} unreachable ({exc})")
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.stopping.wait(), wait)
                finally:
                    if arq_worker is not None:
                        await self._drop(arq_worker)
        finally:
            await stop_tasks([reporter])
            with contextlib.suppress(*_connection_errors()):
                await self.redis.delete(p.worker_key(self.name))
            await self.redis.aclose()
            self.sync_redis.close()

    async def _drop(self, arq_worker: Any) -> None:
        """Let a job still running finish (or be abandoned) before another arq worker takes jobs."""
        tasks = list(arq_worker.tasks.values())
        if self.stopping.is_set():
            self.abandon.set()  # a stop interrupts the render; the bot hands the job out again
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await arq_worker.pool.aclose()


def run_remote_worker(*, url: str | None, model: str | None, name: str | None, device: str | None) -> int:
    """`python -m engine worker --redis URL`: render jobs for a bot on another machine."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("arq").setLevel(logging.WARNING)
    settings = EngineSettings()
    if device is not None:
        settings = settings.model_copy(update={"device": device})
    worker = RemoteWorker(settings, url or settings.redis_url or "", model=model, name=name)
    log.info(
        "farm worker %s rendering %s for %s (pid %d)",
        worker.name, worker.preset.name, p.safe_url(worker.url), os.getpid(),
    )  # fmt: skip

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, worker.stopping.set)
        await worker.run()

    asyncio.run(main())
    log.info("farm worker %s stopped", worker.name)
    return 0


def _with_inputs(request: Any, payload: dict[str, Any], folder: Path) -> Any:
    """The request with its picture and the clip it extends written here, where this worker can
    read them (the paths in the request are the bot machine's)."""
    from dataclasses import replace

    changes = {}
    for field in ("image", "extend"):
        data = payload.get(f"{field}_bytes")
        if getattr(request, field) and data is not None:
            local = folder / f"{field}{Path(getattr(request, field)).suffix}"
            local.write_bytes(p.decode_clip_bytes(data))
            changes[field] = str(local)
    return replace(request, **changes) if changes else request
