"""The bot's side of the farm: the journal decides, Redis only carries.

`FarmRuntime` takes the place of the in-process worker when `render_backend=redis`. Each
round it looks at the live workers (their short-TTL keys) and, for each preset, claims the
next jobs in the journal's fair order only while that preset has a free slot: at most one job
outstanding per live worker, so Redis never holds a queue whose order could differ from the
journal's. A claimed attempt is enqueued in arq under the id `job-<id>-a<attempt>`, and the
journal's lease is renewed on the remote worker's behalf only while the attempt is visibly
alive (waiting in its arq queue, or its worker's run key fresh). An attempt out of sight for
`farm_liveness_seconds` is failed in the journal, and the job goes back to the fair queue; a
result that comes later is refused by the journal's fence and its clip deleted.

Nothing here imports torch: this module runs in the bot.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.farm import protocol as p
from engine.farm.shared import SharedPlace
from engine.farm.tasks import stop_tasks
from engine.journal import AsyncJournal, Job
from engine.settings import EngineSettings
from engine.storage import Episodes

log = logging.getLogger(__name__)

# The journal owner of every attempt the farm renders; the fence also checks the attempt.
FARM_OWNER = "farm"
EventFn = Callable[[str, int, dict[str, Any]], None]
IdleWait = Callable[[Awaitable[Any]], Awaitable[Any]]
# The workers table (for ETAs: how many workers serve a preset) is refreshed this often.
WORKERS_TABLE_EVERY_S = 5.0
# A live attempt's lease is renewed at least this often (and at every new step).
RENEW_EVERY_S = 1.0
# An attempt key outlives any render; the bot withdraws it when the attempt ends.
ATTEMPT_KEY_S = 7 * 24 * 3600
# A withdrawn attempt's key stays this long: longer than any worker takes to notice.
WITHDRAWN_KEY_S = 3600


def _connection_errors() -> tuple[type[BaseException], ...]:
    from redis.exceptions import ConnectionError, TimeoutError

    return (ConnectionError, TimeoutError, OSError)


@dataclass
class Outstanding:
    """An attempt the farm holds, as this process has seen it."""

    job_id: int
    attempt: int
    preset: str
    alive_at: float  # monotonic: when it was last seen queued or rendering (or first met)
    cancel_sent: bool = False
    resend: bool = False  # Redis forgot it: out of sight, it is sent again rather than failed
    step: int = -1
    renewed_at: float = float("-inf")  # monotonic: the journal's lease was last renewed


class FarmRuntime:
    """Dispatches the journal's jobs to farm workers and records what they send back."""

    def __init__(
        self,
        settings: EngineSettings,
        on_event: EventFn,
        *,
        idle_wait: IdleWait | None = None,
        tick: float = 0.1,
    ) -> None:
        self.settings = settings
        self.url = p.check_redis_url(settings.redis_url)  # FarmConfigError: refuse to start
        self.shared = SharedPlace(settings)
        self.on_event = on_event
        self.idle_wait: IdleWait = idle_wait or (lambda aw: aw)
        self.tick = tick
        # Past its run key's TTL, how long an attempt may be out of sight (a worker between
        # arq's start and its first report, a result on its way) before it counts as lost.
        self.grace = settings.farm_liveness_seconds / 2
        self.restarts = 0  # the in-process worker's counter; a farm has no thread to restart
        self.faults = Episodes(longest_wait=5.0, logger=log, then="retrying with growing pauses")
        self.held: dict[int, Outstanding] = {}
        self.workers: dict[str, dict[str, Any]] = {}  # live ones, from their keys
        self._receiving: set[tuple[int, int]] = set()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self._table_at = float("-inf")
        self.signing: Any = None

    async def start(self) -> None:
        """Open the farm's own journal connection and start dispatching; Redis may be down."""
        from arq.connections import ArqRedis
        from redis.asyncio import ConnectionPool

        s = self.settings
        self.db = await AsyncJournal.open(
            s.resolved_db_path,
            checkpoint=False,
            lease_seconds=s.lease_seconds,
            max_attempts=s.max_attempts,
            busy_timeout=s.busy_timeout_seconds,
        )
        from engine.credentials import load_signing

        # Clips are signed here, where the keys are: rented workers never hold them.
        self.signing = await asyncio.to_thread(load_signing, s)
        pool = ConnectionPool.from_url(self.url, socket_timeout=5, socket_connect_timeout=2)
        self.redis = ArqRedis(pool, job_serializer=p.dumps, job_deserializer=p.loads)
        self._tasks = [
            asyncio.create_task(self._loop(self._round, "dispatch"), name="promptreel-farm-dispatch"),
            asyncio.create_task(self._loop(self._receive, "results"), name="promptreel-farm-results"),
        ]

    def wake(self) -> None:
        """A job was queued: dispatch now rather than at the next round."""
        self._wake.set()

    async def stop(self) -> None:
        """Stop dispatching. Attempts in Redis stay there: a restarted bot picks them up."""
        self._stopping = True  # a loop whose cancel was lost (see engine.farm.tasks) ends anyway
        self._wake.set()
        await stop_tasks(self._tasks)
        self._tasks = []
        with contextlib.suppress(Exception):
            await self.redis.aclose()
        await self.db.close()

    async def _loop(self, step: Callable[[], Awaitable[None]], what: str) -> None:
        while not self._stopping:
            try:
                await step()
            except _connection_errors() as exc:
                wait = self.faults.failed(
                    what, f"farm {what}: Redis at {p.safe_url(self.url)} unreachable ({exc})"
                )
                await self.idle_wait(asyncio.sleep(wait))
                continue
            except Exception as exc:  # a bug, or the journal failing: once per episode, then again
                wait = self.faults.failed(f"{what}-bug", f"farm {what} failed ({exc!r})", exc_info=exc)
                await self.idle_wait(asyncio.sleep(wait))
                continue
            self.faults.worked(what, f"farm {what}: Redis reachable")
            self.faults.worked(f"{what}-bug", f"farm {what} works")

    # --- one round: see, renew, cancel, fail the lost, fill free slots -----------------------

    async def _round(self) -> None:
        await self._see_workers()
        await self._follow()
        await self._dispatch()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.tick):
                await self.idle_wait(self._wake.wait())
        self._wake.clear()

    async def _see_workers(self) -> None:
        keys = [k async for k in self.redis.scan_iter(match=p.WORKER_PATTERN, count=200)]
        values = await self.redis.mget(keys) if keys else []
        self.workers = {}
        for raw in values:
            if raw:
                info = p.loads(raw)
                self.workers[str(info["name"])] = info
        now = time.monotonic()
        if now - self._table_at >= WORKERS_TABLE_EVERY_S and self.workers:
            self._table_at = now
            for info in self.workers.values():
                await self.db.heartbeat(str(info["name"]), str(info["preset"]))

    async def _follow(self) -> None:
        """Renew the attempts that are alive, pass on cancels, fail those out of sight."""
        running = [j for j in await self.db.running() if j.owner == FARM_OWNER]
        now = time.monotonic()
        current = {j.id: j for j in running}
        self.held = {
            j.id: (
                self.held[j.id]
                if j.id in self.held and self.held[j.id].attempt == j.attempts
                else Outstanding(j.id, j.attempts, j.model, alive_at=now)
            )
            for j in running
        }
        if not running:
            return  # nothing Redis could have lost (the epoch is set with every attempt sent)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.set(p.EPOCH_KEY, b"1", nx=True)
            for j in running:
                arq_id = p.arq_job_id(j.id, j.attempts)
                pipe.get(p.run_key(j.id, j.attempts))
                pipe.zscore(p.queue_name(j.model), arq_id)
                pipe.exists(p.ARQ_IN_PROGRESS_PREFIX + arq_id)
            emptied, *replies = await pipe.execute()
        if emptied:
            await self._forgotten(running)
        for i, job in enumerate(running):
            run, queued, in_progress = replies[3 * i : 3 * i + 3]
            held = self.held[job.id]
            if (job.id, held.attempt) in self._receiving:
                continue
            if job.cancel_requested and not held.cancel_sent:
                await self.redis.set(p.cancel_key(job.id), b"1", ex=3600)
                held.cancel_sent = True
            if run is not None:
                held.alive_at = now
                held.resend = False  # back in Redis' sight: from now on, losing it counts
                info = p.loads(run)
                await self._progress(job, held, info.get("step"), info.get("total"))
            elif queued is not None and not in_progress:
                held.alive_at = now  # waiting in Redis for its preset's next free worker
                held.resend = False
                await self._progress(job, held, 0, job.request.steps)
            elif now - held.alive_at > self.grace and held.resend:
                await self._resend(current[job.id], held)
            elif now - held.alive_at > self.grace:
                # The run key (TTL: the liveness window) is gone: the worker stopped reporting.
                await self._lost(current[job.id], held)

    async def _forgotten(self, running: list[Job]) -> None:
        """Redis came back empty (or this bot meets it for the first time): the attempts it held
        are nobody's fault. Their attempt keys are put back at once, so a worker still rendering
        one carries on; one that is out of sight past the grace is sent again under the same
        attempt, so the journal's count and its fence stay as they were."""
        log.warning("Redis holds none of the farm's %d attempts; sending them again", len(running))
        async with self.redis.pipeline(transaction=False) as pipe:
            for job in running:
                pipe.set(p.attempt_key(job.id), str(job.attempts), ex=ATTEMPT_KEY_S)
                self.held[job.id].resend = True
            await pipe.execute()

    async def _resend(self, job: Job, held: Outstanding) -> None:
        await self._send(job, held.attempt)  # Redis down again: tried again next round
        held.resend = False
        held.alive_at = time.monotonic()
        log.info("job %s attempt %s: sent to the farm again", job.id, held.attempt)

    async def _progress(self, job: Job, held: Outstanding, step: Any, total: Any) -> None:
        step = int(step or 0)
        total = int(total or job.request.steps)
        now = time.monotonic()
        if step <= held.step and now - held.renewed_at < RENEW_EVERY_S:
            return
        # Also the lease's renewal: the journal keeps it only while the worker keeps reporting.
        if not await self.db.progress(job.id, FARM_OWNER, held.attempt, step, total):
            return
        held.renewed_at = now
        if step > held.step:
            held.step = step
            self.on_event("progress", job.id, {"step": step, "total": total})

    async def _lost(self, job: Job, held: Outstanding) -> None:
        """The attempt vanished (worker killed, network gone, Redis emptied): fail it, free the job."""
        state = await self.db.fail(
            job.id, FARM_OWNER, held.attempt, "farm worker lost (stopped reporting)", retry=True
        )
        await self._forget(job.id, held.attempt, job.model)
        self.held.pop(job.id, None)
        if state is not None:
            log.warning(
                "job %s attempt %s: its farm worker stopped reporting; now %s", job.id, held.attempt, state
            )
            self.on_event("requeued", job.id, {"state": str(state)})

    async def _forget(self, job_id: int, attempt: int, preset: str) -> None:
        """Take an attempt out of Redis: its queue entry, arq's job, its keys."""
        arq_id = p.arq_job_id(job_id, attempt)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zrem(p.queue_name(preset), arq_id)
            pipe.delete(
                p.ARQ_JOB_PREFIX + arq_id, p.ARQ_IN_PROGRESS_PREFIX + arq_id, p.run_key(job_id, attempt)
            )
            await pipe.execute()
        with contextlib.suppress(*_connection_errors()):
            # Only the attempt the bot still wants may be withdrawn; a newer one keeps its key.
            # Withdrawn, not deleted: a worker still on it sees "no attempt" and stops, while a
            # key that is missing means Redis forgot, and a worker carries on (see _forgotten).
            if await self.redis.get(p.attempt_key(job_id)) == str(attempt).encode():
                async with self.redis.pipeline(transaction=False) as pipe:
                    pipe.set(p.attempt_key(job_id), p.NO_ATTEMPT, ex=WITHDRAWN_KEY_S)
                    pipe.delete(p.cancel_key(job_id))
                    await pipe.execute()

    async def _dispatch(self) -> None:
        """Claim the next jobs in fair order for each preset that has a free worker slot."""
        slots: dict[str, int] = {}
        for info in self.workers.values():
            slots[str(info["preset"])] = slots.get(str(info["preset"]), 0) + 1
        for held in self.held.values():
            if held.preset in slots:
                slots[held.preset] -= 1
        for preset, free in sorted(slots.items()):
            for _ in range(max(0, free)):
                jobs = await self.db.claim(FARM_OWNER, models=[preset], max_batch=1)
                if not jobs:
                    break
                await self._enqueue(jobs[0])

    async def _enqueue(self, job: Job) -> None:
        attempt = job.attempts
        self.held[job.id] = Outstanding(job.id, attempt, job.model, alive_at=time.monotonic())
        self.on_event("claimed", job.id, {})
        try:
            await self._send(job, attempt)
        except _connection_errors():
            # No worker can have it: give it back uncounted, for the next round to hand out again.
            await self.db.release(job.id, FARM_OWNER, attempt)
            self.held.pop(job.id, None)
            raise

    async def _send(self, job: Job, attempt: int) -> None:
        """Put the attempt in its preset's arq queue (arq refuses the id a second time)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.set(p.attempt_key(job.id), str(attempt), ex=ATTEMPT_KEY_S)
            pipe.set(p.EPOCH_KEY, b"1", nx=True)  # what this Redis is given, it is to remember
            await pipe.execute()
        mark = bool((await self.db.server_settings(job.guild_id)).get("visible_mark"))
        payload = await asyncio.to_thread(_payload, job, attempt, mark)
        await self.redis.enqueue_job(
            p.RENDER_FUNCTION,
            payload,
            _job_id=p.arq_job_id(job.id, attempt),
            _queue_name=p.queue_name(job.model),
        )

    def _clip_is_ours(self, result: dict[str, Any]) -> bool:
        """A clip comes inline, or directly in the shared place this bot configured: never from
        any other path or URL a worker names (a rented machine must not make the bot move or
        read its own files)."""
        return "clip" in result or self.shared.owns(result)

    async def pool(self) -> list[dict[str, Any]]:
        """Every worker ever seen, live or not: preset, jobs done, last seen, what it renders."""
        seen = await self.redis.hgetall(p.SEEN_KEY)
        live = {k.decode().rsplit(":", 1)[-1] async for k in self.redis.scan_iter(match=p.WORKER_PATTERN)}
        pool = []
        for name, raw in seen.items():
            info = p.loads(raw)
            info["alive"] = name.decode() in live
            if not info["alive"]:
                info["job"] = None  # what a lost worker was doing is not what it does
            pool.append(info)
        return sorted(pool, key=lambda i: (str(i["preset"]), str(i["name"])))

    # --- results -----------------------------------------------------------------------------

    async def _receive(self) -> None:
        from redis.exceptions import TimeoutError as ReadTimeout

        try:
            popped = await self.redis.blpop([p.RESULTS_KEY], timeout=1)
        except ReadTimeout:  # a busy machine answered late: not an outage, just ask again
            return
        if popped is None:
            return
        result = p.loads(popped[1])
        job_id, attempt = int(result["job"]), int(result["attempt"])
        self._receiving.add((job_id, attempt))
        try:
            await self._record(job_id, attempt, result)
        finally:
            self._receiving.discard((job_id, attempt))
        self._wake.set()  # a slot is free: dispatch the next job now

    async def _record(self, job_id: int, attempt: int, result: dict[str, Any]) -> None:
        """Record one attempt's outcome in the journal, fenced: a stale attempt changes nothing."""
        status = result.get("status")
        job = await self.db.get(job_id)
        preset = job.model if job is not None else ""
        if status == "done" and not self._clip_is_ours(result):
            status, result = "failed", {"error": "the worker named a clip outside the shared folder"}
        if status == "done" and (job is None or job.attempts != attempt or job.owner != FARM_OWNER):
            # A stale attempt: refused before any file work, like the journal's fence would.
            await asyncio.to_thread(self.shared.discard, result)
            log.warning("job %s: late result of attempt %s refused; clip discarded", job_id, attempt)
            await self._forget(job_id, attempt, preset)
            return
        if status == "done":
            clips = self.settings.resolved_clips_dir
            path = clips / f"job-{job_id}-a{attempt}.mp4"
            await asyncio.to_thread(_write_clip, path, result, self.shared)
            seconds = float(result.get("seconds") or 0.0)
            hashes = await asyncio.to_thread(_sign_with, self.signing, self.settings, job, path)
            score = result.get("check_score")
            threshold = self.settings.output_check_threshold

            def complete(journal: Any) -> bool:
                # As the local worker: the fingerprint with the result, and the output check's
                # score judged by the journal against the server's threshold (held or rendered).
                with journal.atomic():
                    if hashes is not None:
                        journal.record_print(job_id, hashes)
                    return journal.complete(
                        job_id, FARM_OWNER, attempt, str(path), seconds,
                        check_score=None if score is None else float(score), default_threshold=threshold,
                    )  # fmt: skip

            done = await self.db.run(complete)
            if done:
                per_step = float(result.get("seconds_per_frame_step") or 0.0)
                with contextlib.suppress(Exception):
                    await self.db.record_speed(preset, per_step, 0.0)
            else:
                await asyncio.to_thread(path.unlink, True)
                log.warning("job %s: late result of attempt %s refused; clip discarded", job_id, attempt)
        elif status == "cancelled":
            done = await self.db.finish_cancelled(job_id, FARM_OWNER, attempt)
        elif status == "released":
            done = await self.db.release(job_id, FARM_OWNER, attempt)
        else:
            reason = str(result.get("error") or "farm worker failed")
            done = await self.db.fail(job_id, FARM_OWNER, attempt, reason, retry=True) is not None
        if done:
            self.held.pop(job_id, None)
        await self._forget(job_id, attempt, preset)
        if done:
            self.on_event("finished", job_id, {})


def _payload(job: Job, attempt: int, mark: bool) -> dict[str, Any]:
    """What a remote worker needs to render the job as the local worker would: the request,
    the files it is conditioned on (they live on this machine), and the server's choices that
    change the file (the visible mark; private metadata for DM clips)."""
    payload: dict[str, Any] = {"job": job.id, "attempt": attempt, "request": job.request.to_dict()}
    for field in ("image", "extend"):
        name = getattr(job.request, field)
        if name:
            payload[f"{field}_bytes"] = p.encode_clip_bytes(Path(name).read_bytes())
    payload["private"] = job.guild_id is None
    payload["mark"] = mark
    return payload


def _sign_with(signing: Any, settings: Any, job: Job | None, path: Path) -> list[int] | None:
    """Sign the returned clip here (the keys stay on the bot's machine) and fingerprint it."""
    from engine.finish import fingerprint, sign

    if job is not None:
        try:
            sign(path, signing, job.request, settings.bot_name)
        except Exception:  # the clip is still the clip; it goes out unsigned, said in the log
            log.exception("%s: could not be signed", path.name)
    return fingerprint(path)


def _write_clip(path: Path, result: dict[str, Any], shared: SharedPlace) -> None:
    """Put a returned clip where the local worker would have: the clips folder, one file per attempt."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part")
    if "clip" in result:
        tmp.write_bytes(p.decode_clip_bytes(result["clip"]))
    else:
        shared.take(result, tmp)
    tmp.replace(path)
