"""Batching: a worker with max_batch > 1 puts requests into one pipeline call only when every
argument of that call, and of the encoder, is the same for all of them.

Each test runs a real `Worker` on a real journal file with a real tiny model, decodes the clips
it wrote, and reads which jobs shared a pipeline call from the worker's `on_event` callback: a
call reports progress for each of its jobs at every step, and its jobs finish together.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from engine.journal import Job, JobState, Journal
from engine.presets import get_preset
from engine.render import Renderer
from engine.request import build_request
from engine.settings import EngineSettings
from engine.worker import Worker
from tests.engine.tiny_components import build_tiny
from tests.helpers import decode_video, run_until_idle


class Calls:
    """A worker's events, read as the pipeline calls it made: the set of job ids of each."""

    def __init__(self) -> None:
        self.events: list[tuple[str, int]] = []

    def __call__(self, kind: str, job_id: int, **_info: Any) -> None:
        self.events.append((kind, job_id))

    def groups(self) -> list[set[int]]:
        groups: list[set[int]] = []
        current: set[int] = set()
        for kind, job_id in self.events:
            if kind == "progress":
                current.add(job_id)
            elif kind == "finished" and current:
                groups.append(current)
                current = set()
        return groups


WORKER_SETTINGS = {"max_batch": 4}


def enqueue(db: Journal, model: str = "tiny", **options: Any) -> Job:
    return db.enqueue(build_request("a lantern", model=model, **options), user_id="alice", adapter="console")


def run_worker(settings: EngineSettings, renderer: Any) -> Calls:
    calls = Calls()
    worker = Worker(settings, renderer=renderer, name="w-batch", on_event=calls, idle_poll=0.05)
    try:
        run_until_idle(worker)
    finally:
        worker.journal.close()
    return calls


def rendered(db: Journal, job: Job) -> tuple[np.ndarray, dict[str, Any]]:
    done = db.get(job.id)
    assert done is not None and done.state is JobState.RENDERED, (done and done.state, done and done.error)
    assert done.attempts == 1
    return decode_video(done.clip_path)


def test_mixed_requests_are_batched_only_with_their_equals_and_keep_their_own_clip(
    settings: EngineSettings, db: Journal, tiny_renderer: Any
) -> None:
    base = {"frames": 4, "fps": 8, "width": 32, "height": 32, "steps": 1, "guidance": 7.5}
    asked = [
        {**base, "seed": 1},
        {**base, "seed": 2},  # the same but for its seed: shares the call with the first
        {**base, "fps": 12, "seed": 3},  # another frame rate
        {**base, "fps": 12, "seed": 4},  # ... shared with the one before
        {**base, "frames": 6, "seed": 5},
        {**base, "width": 48, "seed": 6},
        {**base, "steps": 2, "seed": 7},
        {**base, "guidance": 3.0, "seed": 8},
    ]
    jobs = [enqueue(db, **options) for options in asked]

    calls = run_worker(settings, tiny_renderer)

    ids = [job.id for job in jobs]
    assert calls.groups() == [{ids[0], ids[1]}, {ids[2], ids[3]}, {ids[4]}, {ids[5]}, {ids[6]}, {ids[7]}]
    for job, options in zip(jobs, asked, strict=True):
        frames, meta = rendered(db, job)
        assert frames.shape == (options["frames"], options["height"], options["width"], 3)
        assert meta["fps"] == options["fps"]


def test_a_model_conditioned_on_fps_renders_each_clip_at_its_own_rate(
    make_settings: Callable[..., EngineSettings], settings: EngineSettings, db: Journal, tmp_path: Path
) -> None:
    """LTX-Video takes the frame rate as a pipeline argument: a clip batched with another rate
    would come out as if rendered at that rate. Here each clip matches a render of its own."""
    folder = tmp_path / "ltx"
    build_tiny("LTXPipeline").save_pretrained(folder)
    renderer = Renderer(make_settings(model_path=folder), get_preset("ltx-video"))
    ltx = settings.model_copy(update={"model": "ltx-video"})
    small = {"model": "ltx-video", "frames": 9, "width": 64, "height": 32, "steps": 2}
    slow = enqueue(db, **small, fps=8, seed=1)
    fast = enqueue(db, **small, fps=24, seed=2)
    run_worker(ltx, renderer)
    alone = enqueue(db, **small, fps=24, seed=2)  # the same request, with nothing to share a call
    run_worker(ltx, renderer)

    slow_meta = rendered(db, slow)[1]
    fast_frames, fast_meta = rendered(db, fast)
    alone_frames, _ = rendered(db, alone)
    assert (slow_meta["fps"], fast_meta["fps"]) == (8, 24)
    np.testing.assert_array_equal(fast_frames, alone_frames)


def test_jobs_queued_with_an_older_batch_key_still_render_apart(
    settings: EngineSettings, db: Journal, tiny_renderer: Any
) -> None:
    """Rows queued before fps was part of the key carry keys that match across frame rates."""
    options = {"frames": 4, "width": 32, "height": 32, "steps": 1, "guidance": 7.5}
    jobs = [enqueue(db, **options, fps=8, seed=1), enqueue(db, **options, fps=12, seed=2)]
    old_key = json.dumps(["tiny", 4, 32, 32, 1, 7.5])  # (model, frames, width, height, steps, guidance)
    with db.conn:
        db.conn.execute("UPDATE jobs SET batch_key = ?", (old_key,))

    calls = run_worker(settings, tiny_renderer)

    assert calls.groups() == [{jobs[0].id}, {jobs[1].id}]
    for job, fps in zip(jobs, (8, 12), strict=True):
        assert rendered(db, job)[1]["fps"] == fps
