"""Rendering with the real tiny pipeline (random weights, CPU): shapes, determinism, progress,
cancellation, batching and model loading. Nothing of ours is mocked."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from engine.loader import ModelUnavailable
from engine.presets import get_preset
from engine.render import Cancelled, IncompatibleBatch, Renderer
from engine.request import RenderRequest, build_request


def req(prompt: str = "a red fox in the snow", **kwargs: Any) -> RenderRequest:
    """A small request: 8 frames of 64x48 (not square, so a width/height swap shows), 2 steps."""
    options: dict[str, Any] = {"frames": 8, "width": 64, "height": 48, "steps": 2, "seed": 1}
    options.update(kwargs)
    return build_request(prompt, model="tiny", **options)


def frames_of(renderer: Renderer, request: RenderRequest, **kwargs: Any) -> np.ndarray:
    [result] = renderer.render(request, **kwargs)
    assert result.request == request
    return result.frames


def max_abs_diff(a: np.ndarray, b: np.ndarray) -> int:
    return int(np.abs(a.astype(np.int16) - b.astype(np.int16)).max())


# --- end to end -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frames", "width", "height", "guidance"),
    [(5, 64, 48, 7.5), (8, 40, 72, 7.5), (3, 64, 64, 1.0)],  # guidance 1: no classifier-free pass
)
def test_tiny_renders_the_asked_frames_and_size(
    tiny_renderer: Renderer, frames: int, width: int, height: int, guidance: float
) -> None:
    request = req(frames=frames, width=width, height=height, guidance=guidance)
    results = tiny_renderer.render(request)
    assert len(results) == 1
    result = results[0]
    assert result.request == request
    assert result.frames.dtype == np.uint8
    assert result.frames.shape == (frames, height, width, 3)
    assert result.seconds > 0
    assert result.seconds_per_frame_step == pytest.approx(result.seconds / (frames * request.steps))
    # Random weights give coloured noise, not a blank clip.
    assert result.frames.std() > 5


def test_same_seed_same_frames_other_seed_other_frames(tiny_renderer: Renderer) -> None:
    first = frames_of(tiny_renderer, req(seed=1))
    again = frames_of(tiny_renderer, req(seed=1))
    other = frames_of(tiny_renderer, req(seed=2))
    assert np.array_equal(first, again)
    assert max_abs_diff(first, other) > 10


def test_prompt_and_negative_prompt_change_the_frames(tiny_renderer: Renderer) -> None:
    fox = frames_of(tiny_renderer, req("a red fox in the snow"))
    whale = frames_of(tiny_renderer, req("a blue whale in the sea"))
    fox_negative = frames_of(tiny_renderer, req("a red fox in the snow", negative_prompt="blurry"))
    assert max_abs_diff(fox, whale) > 10
    assert max_abs_diff(fox, fox_negative) > 10


# --- progress and cancellation ----------------------------------------------------------------


def test_progress_is_reported_for_each_step_in_order(tiny_renderer: Renderer) -> None:
    calls: list[tuple[int, int]] = []
    tiny_renderer.render(req(steps=4), on_progress=lambda step, total: calls.append((step, total)))
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]


def test_cancel_mid_render_then_render_again_like_a_fresh_renderer(
    tiny_models_dir: Path, make_settings: Any, tiny_renderer: Renderer
) -> None:
    renderer = Renderer(make_settings(models_dir=tiny_models_dir), "tiny")
    pipe = renderer.pipe
    request = req(steps=3, seed=5)
    progress: list[tuple[int, int]] = []

    def record(step: int, total: int) -> None:
        progress.append((step, total))

    with pytest.raises(Cancelled):
        renderer.render(request, on_progress=record, should_cancel=lambda: len(progress) >= 1)
    assert progress == [(1, 3)]  # stopped right after the first step, not at the end

    progress.clear()
    after = frames_of(renderer, request, on_progress=record, should_cancel=lambda: False)
    assert progress == [(1, 3), (2, 3), (3, 3)]
    assert renderer.pipe is pipe  # still the warm pipeline, not a reload
    # Identical to a renderer that never saw a cancel: no state leaked from the abandoned call.
    assert np.array_equal(after, frames_of(tiny_renderer, request))


def test_cancel_before_start_does_no_work(tiny_renderer: Renderer) -> None:
    progress: list[tuple[int, int]] = []
    with pytest.raises(Cancelled):
        tiny_renderer.render(
            req(), on_progress=lambda s, t: progress.append((s, t)), should_cancel=lambda: True
        )
    assert progress == []


def test_cancel_mid_batch(tiny_renderer: Renderer) -> None:
    batch = [req(seed=1), req("a blue whale", seed=2)]
    progress: list[int] = []
    with pytest.raises(Cancelled):
        tiny_renderer.render(
            batch, on_progress=lambda s, t: progress.append(s), should_cancel=lambda: len(progress) >= 1
        )
    assert progress == [1]


# --- batching ---------------------------------------------------------------------------------


def test_batch_equals_sequential_renders(tiny_renderer: Renderer) -> None:
    batch = [
        req("a red fox in the snow", seed=11),
        req("a blue whale in the sea", seed=22),
        req("a red fox in the snow", negative_prompt="blurry", seed=33),
    ]
    progress: list[tuple[int, int]] = []
    results = tiny_renderer.render(batch, on_progress=lambda s, t: progress.append((s, t)))
    assert progress == [(1, 2), (2, 2)]  # one pipeline call: steps are reported once, not per request
    assert [r.request for r in results] == batch
    for request, result in zip(batch, results, strict=True):
        alone = frames_of(tiny_renderer, request)
        assert result.frames.shape == alone.shape
        # Each request has its own CPU generator, so its noise is the same alone or batched. The
        # float32 matmuls of a batch of 3 may take another BLAS path than a batch of 1 and round
        # differently, which can move a uint8 value by one step; anything more is a real mismatch.
        assert max_abs_diff(result.frames, alone) <= 1
    # And the batch did not hand every request the same clip.
    assert max_abs_diff(results[0].frames, results[1].frames) > 10


def test_incompatible_batches_are_refused(tiny_renderer: Renderer) -> None:
    base = req()
    for other in (req(frames=9), req(width=72), req(steps=3), req(guidance=5.0)):
        with pytest.raises(IncompatibleBatch):
            tiny_renderer.render([base, other])
    # A request for another model is refused even alone, though it uses the same pipeline class.
    foreign = build_request("a red fox", model="modelscope", frames=8, width=64, height=48, steps=2, seed=1)
    with pytest.raises(IncompatibleBatch):
        tiny_renderer.render(foreign)


def test_empty_batch_renders_nothing(tiny_renderer: Renderer) -> None:
    assert tiny_renderer.render([]) == []


# --- loading ----------------------------------------------------------------------------------


def test_tiny_model_is_saved_on_first_use_and_loaded_from_disk_after(make_settings: Any) -> None:
    settings = make_settings()
    folder = settings.resolved_models_dir / "tiny"
    assert not folder.exists()

    first = Renderer(settings, "tiny")
    assert (folder / "model_index.json").is_file()
    for part in ("unet", "vae", "text_encoder", "tokenizer", "scheduler"):
        assert (folder / part).is_dir(), part
    # Built under a private name and renamed: nothing half-built is left beside it.
    assert [p.name for p in folder.parent.iterdir()] == ["tiny"]

    # Change the saved scheduler config: a second Renderer must pick it up from disk, and must
    # not rebuild or re-save anything.
    config_file = folder / "scheduler" / "scheduler_config.json"
    config = json.loads(config_file.read_text())
    assert config["beta_end"] == pytest.approx(0.012)
    config["beta_end"] = 0.0125
    config_file.write_text(json.dumps(config))
    stamps = {p: p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}

    second = Renderer(settings, "tiny")
    assert second.pipe is not first.pipe
    assert second.pipe.scheduler.config.beta_end == pytest.approx(0.0125)
    assert {p: p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()} == stamps
    first_weights = first.pipe.unet.state_dict()
    for name, tensor in second.pipe.unet.state_dict().items():
        assert torch.equal(tensor, first_weights[name]), name


def test_real_preset_without_weights_is_unavailable(make_settings: Any) -> None:
    settings = make_settings(offline=True)
    with pytest.raises(ModelUnavailable) as info:
        Renderer(settings, get_preset("ltx-video"))
    message = str(info.value)
    assert "\n" not in message
    assert "'ltx-video'" in message
    assert "hf download Lightricks/LTX-Video" in message
    assert str(settings.resolved_models_dir / "ltx-video") in message
    assert "PROMPTREEL_MODEL_PATH" in message


def test_model_path_without_a_model_is_unavailable(make_settings: Any, tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    with pytest.raises(ModelUnavailable) as info:
        Renderer(make_settings(model_path=missing), get_preset("ltx-video"))
    message = str(info.value)
    assert "\n" not in message
    assert "'ltx-video'" in message
    assert str(missing) in message
    assert "hf download Lightricks/LTX-Video" in message
