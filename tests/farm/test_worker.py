"""The farm worker's render path, in-process: the real tiny model, a real Redis."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import redis

from engine.farm.remote import RemoteWorker
from engine.presets import get_preset
from engine.request import build_request
from engine.settings import EngineSettings
from tests.helpers import decode_video, isolated_settings


def _worker(tmp_path: Path, tiny_models_dir: Path, url: str, renderer: Any, **values: Any) -> RemoteWorker:
    settings = isolated_settings(EngineSettings, data_dir=tmp_path, models_dir=tiny_models_dir, **values)
    worker = RemoteWorker(settings, url, renderer=renderer, name="t")
    worker.sync_redis = redis.Redis.from_url(url)
    return worker


def _payload(job: int, **options: Any) -> dict[str, Any]:
    request = build_request("a paper boat", model=get_preset("tiny"), seed=3, **options)
    return {"job": job, "attempt": 1, "request": request.to_dict()}


def test_a_cancel_flag_stops_the_render_at_the_next_step(
    tmp_path: Path, tiny_models_dir: Path, redis_url: str, tiny_renderer: Any
) -> None:
    client = redis.Redis.from_url(redis_url)
    steps: list[int] = []

    class CancelAtStep3:
        """The real renderer; the requester's cancel lands in Redis while step 3 renders."""

        def render(self, request: Any, *, on_progress: Any, should_cancel: Any) -> Any:
            def progress(step: int, total: int) -> None:
                steps.append(step)
                on_progress(step, total)
                if step == 3:
                    client.set("promptreel:cancel:7", b"1")

            return tiny_renderer.render(request, on_progress=progress, should_cancel=should_cancel)

    worker = _worker(tmp_path, tiny_models_dir, redis_url, CancelAtStep3())
    out = worker._render(_payload(7, frames=2, width=16, height=16, steps=10))
    assert out == {"status": "cancelled"}
    assert steps == [1, 2, 3]


def test_a_clip_over_the_inline_bound_goes_to_the_shared_folder(
    tmp_path: Path, tiny_models_dir: Path, redis_url: str, tiny_renderer: Any
) -> None:
    shared = tmp_path / "shared"
    worker = _worker(
        tmp_path, tiny_models_dir, redis_url, tiny_renderer, farm_shared_dir=shared, farm_inline_max_bytes=100
    )
    out = worker._render(_payload(8, frames=3, width=32, height=32, steps=2))
    assert out["status"] == "done" and "clip" not in out
    path = Path(out["clip_path"])
    assert path.parent == shared
    frames, _ = decode_video(path)
    assert frames.shape == (3, 32, 32, 3)
    small = _worker(tmp_path, tiny_models_dir, redis_url, tiny_renderer, farm_shared_dir=shared)
    assert "clip" in small._render(_payload(9, frames=3, width=32, height=32, steps=2))
