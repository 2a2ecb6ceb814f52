"""A worker's live previews: a file the journal points at while the job renders, gone after it.

What another process would see: the job's row in the journal file and the file it names, read
at every progress event of a real worker rendering with the real tiny model.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from engine.journal import JobState, Journal
from engine.request import build_request
from engine.settings import EngineSettings

WORKER_SETTINGS = {"preview_every_steps": 1, "preview_seconds": 0.0, "preview_max_cost": 50.0}


def enqueue(db: Journal, steps: int = 6, seed: int = 2) -> Any:
    req = build_request(
        "a harbour at dawn", model="tiny", frames=3, width=64, height=48, steps=steps, seed=seed
    )
    return db.enqueue(req, user_id="alice", adapter="console")


def previews_folder(settings: EngineSettings) -> Path:
    return settings.resolved_clips_dir / "previews"


def watch(db: Journal, only: int | None = None) -> tuple[list[tuple[int, int, np.ndarray]], Any]:
    """Records (step, preview step, the picture) at every progress event that finds a preview
    (of job `only`, where given)."""
    seen: list[tuple[int, int, np.ndarray]] = []

    def on_event(kind: str, job_id: int, **info: Any) -> None:
        if kind != "progress" or only not in (None, job_id):
            return
        job = db.get(job_id)
        assert job is not None
        if job.preview_path is not None:
            assert job.preview_step is not None
            with Image.open(job.preview_path) as image:
                assert image.format == "JPEG"
                seen.append((info["step"], job.preview_step, np.asarray(image.convert("RGB"))))

    return seen, on_event


def test_previews_follow_the_render_and_are_gone_after_it(
    settings: EngineSettings, db: Journal, make_worker: Any
) -> None:
    job = enqueue(db)
    seen, on_event = watch(db)
    worker = make_worker(on_event=on_event)
    assert worker.run_once()

    # Steps 2 to 5 had a preview of their own step (1 has no step time to weigh it by); the last
    # step makes none, as the clip itself follows. Each is a decoded 64x48 picture unlike the last.
    assert [(step, shown) for step, shown, _ in seen] == [(2, 2), (3, 3), (4, 4), (5, 5), (6, 5)]
    assert {image.shape for _, _, image in seen} == {(48, 64, 3)}
    images = [image for _, _, image in seen[:-1]]
    assert all(np.abs(a.astype(int) - b.astype(int)).mean() > 0.5 for a, b in itertools.pairwise(images))

    done = db.get(job.id)
    assert done is not None and done.state == JobState.RENDERED
    assert done.preview_path is None and done.preview_step is None
    assert list(previews_folder(settings).iterdir()) == []


def test_each_job_of_a_batch_has_its_own_preview(
    settings: EngineSettings, db: Journal, make_worker: Any
) -> None:
    first, second = enqueue(db, seed=2), enqueue(db, seed=3)
    seen_first, watch_first = watch(db, only=first.id)
    seen_second, watch_second = watch(db, only=second.id)

    def on_event(kind: str, job_id: int, **info: Any) -> None:
        watch_first(kind, job_id, **info)
        watch_second(kind, job_id, **info)

    worker = make_worker(settings=settings.model_copy(update={"max_batch": 2}), on_event=on_event)
    assert worker.run_once()
    assert [s for _, s, _ in seen_first] == [s for _, s, _ in seen_second] == [2, 3, 4, 5, 5]
    # One pipeline call, two seeds: two different pictures at every step.
    for (_, _, a), (_, _, b) in zip(seen_first, seen_second, strict=True):
        assert np.abs(a.astype(int) - b.astype(int)).mean() > 0.5
    for job in (first, second):
        row = db.get(job.id)
        assert row is not None and row.state == JobState.RENDERED and row.preview_path is None
    assert list(previews_folder(settings).iterdir()) == []


def test_no_previews_where_one_costs_more_than_the_bound(
    settings: EngineSettings, db: Journal, make_worker: Any
) -> None:
    """Bound 0 steps: measured once, judged too costly, and never shown, for this job or the next."""
    seen, on_event = watch(db)
    worker = make_worker(settings=settings.model_copy(update={"preview_max_cost": 0.0}), on_event=on_event)
    first, second = enqueue(db), enqueue(db)
    assert worker.run_once() and worker.run_once()
    assert seen == []
    assert worker.previews.worth_it is False
    for job in (first, second):
        row = db.get(job.id)
        assert row is not None and row.state == JobState.RENDERED
    folder = previews_folder(settings)
    assert not folder.exists() or list(folder.iterdir()) == []


def test_a_cancelled_job_leaves_no_preview(settings: EngineSettings, db: Journal, make_worker: Any) -> None:
    job = enqueue(db)
    seen, watch_progress = watch(db)

    def on_event(kind: str, job_id: int, **info: Any) -> None:
        watch_progress(kind, job_id, **info)
        if seen:  # a preview exists: now the requester cancels
            db.cancel(job_id, by="alice")

    worker = make_worker(on_event=on_event)
    assert worker.run_once()
    row = db.get(job.id)
    assert seen and row is not None and row.state == JobState.CANCELLED
    assert row.preview_path is None
    assert list(previews_folder(settings).iterdir()) == []


def test_a_starting_worker_sweeps_what_a_dead_one_left(
    settings: EngineSettings, db: Journal, make_worker: Any
) -> None:
    folder = previews_folder(settings)
    folder.mkdir(parents=True)
    job = enqueue(db, steps=1)
    for name in (f"job-{job.id}-a1-s3.jpg", "job-999-a2-s5.jpg", ".job-999-a2-s6.jpg.partial"):
        Image.new("RGB", (8, 8)).save(folder / name, format="JPEG")
    worker = make_worker()
    worker.run(exit_when_idle=True)
    assert list(folder.iterdir()) == []
    row = db.get(job.id)
    assert row is not None and row.state == JobState.RENDERED


def test_the_previews_migration_can_run_again(settings: EngineSettings, db: Journal) -> None:
    """Step 10 only adds what is missing, so a merge that renumbers it cannot break a journal."""
    import sqlite3

    import sqlite_utils

    from engine.journal.migrations import v010_previews

    conn = sqlite3.connect(settings.resolved_db_path)
    try:
        v010_previews.up(sqlite_utils.Database(conn))
        columns = [row[1] for row in conn.execute("PRAGMA table_info(jobs)")]
    finally:
        conn.close()
    assert columns.count("preview_path") == 1 and columns.count("preview_step") == 1
