"""Rendering with a warm pipeline: progress, cooperative cancel, and batching.

A `Renderer` loads its preset once and keeps it on the device; a worker calls `render` for
every job. Cancellation is checked between denoising steps and aborts the call by raising,
so the pipeline, its weights and the worker all stay up for the next job.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from engine.conditions import join_extension, pipeline_kwargs
from engine.loader import load_pipeline
from engine.presets import Preset, get_preset
from engine.preview import Previewer, Previews, previewer_for
from engine.request import RenderRequest
from engine.settings import EngineSettings

ProgressFn = Callable[[int, int], None]
CancelFn = Callable[[], bool]
# (step, total, one first-frame image per request of the batch)
PreviewFn = Callable[[int, int, list[np.ndarray]], None]


class Cancelled(Exception):
    """Raised inside the pipeline's step callback to abandon a render."""


class IncompatibleBatch(ValueError):
    pass


@dataclass(frozen=True)
class RenderResult:
    request: RenderRequest
    frames: np.ndarray  # uint8, (frames, height, width, 3)
    seconds: float  # wall time of the pipeline call, shared by a whole batch

    @property
    def seconds_per_frame_step(self) -> float:
        r = self.request
        return self.seconds / max(1, r.frames * r.steps)


def to_uint8(video: Any) -> np.ndarray:
    """Normalise the pipelines' outputs (float arrays, tensors or PIL lists) to uint8 frames."""
    if isinstance(video, torch.Tensor):
        video = video.float().cpu().numpy()
    if isinstance(video, list):
        video = np.stack([np.asarray(frame) for frame in video])
    video = np.asarray(video)
    if video.dtype != np.uint8:
        video = (np.clip(video, 0.0, 1.0) * 255.0).round().astype(np.uint8)
    return video


class Renderer:
    """One preset, loaded once, rendering one request or a compatible batch at a time."""

    def __init__(self, settings: EngineSettings, preset: Preset | str | None = None, pipe: Any = None):
        self.settings = settings
        if settings.torch_threads:
            torch.set_num_threads(settings.torch_threads)
        self.preset = get_preset(preset or settings.model) if not isinstance(preset, Preset) else preset
        self.pipe = pipe if pipe is not None else load_pipeline(self.preset, settings)
        # None where this pipeline class has no preview decoder: its renders have no previews.
        self.previewer: Previewer | None = previewer_for(self.pipe)

    def render(
        self,
        requests: RenderRequest | Sequence[RenderRequest],
        *,
        on_progress: ProgressFn | None = None,
        should_cancel: CancelFn | None = None,
        previews: Previews | None = None,
        on_preview: PreviewFn | None = None,
    ) -> list[RenderResult]:
        """Render requests in one pipeline call; each keeps its own seed and prompt.

        Each request gets its own CPU generator, so a request's noise, and therefore its
        clip, is the same whether it is rendered alone or in a batch, on any device.
        With `previews` and `on_preview`, the steps `previews` says are due hand over the first
        frame of each video, decoded from that step's latents, before their progress.
        """
        batch = [requests] if isinstance(requests, RenderRequest) else list(requests)
        if not batch:
            return []
        keys = {r.batch_key() for r in batch}
        if len(keys) != 1 or batch[0].model != self.preset.name:
            raise IncompatibleBatch("a batch must share every option but prompt, negative prompt and seed")
        first = batch[0]
        if should_cancel is not None and should_cancel():
            raise Cancelled()

        total = first.steps
        previewer = self.previewer if previews is not None and on_preview is not None else None
        # When the last step callback returned: a step's time is from there to the next callback.
        step_began: float | None = None

        def preview(step: int, latents: Any) -> None:
            assert previews is not None and previewer is not None and on_preview is not None
            step_seconds = None if step_began is None else time.perf_counter() - step_began
            if latents is None or not previews.due(step, total, time.monotonic()):
                return
            images = previews.make(
                lambda: previewer.images(latents, first.frames, first.width, first.height, previews.max_side),
                step_seconds,
            )
            if images is not None:
                on_preview(step, total, images)

        def step_done(step: int, latents: Any) -> None:
            nonlocal step_began
            if previewer is not None:
                preview(step + 1, latents)
            if on_progress is not None:
                on_progress(step + 1, total)
            if should_cancel is not None and should_cancel():
                raise Cancelled()
            step_began = time.perf_counter()

        kwargs: dict[str, Any] = dict(self.preset.call_kwargs)
        if self.preset.callback_style == "legacy":
            kwargs["callback"] = lambda step, _t, latents: step_done(step, latents)
            kwargs["callback_steps"] = 1
        else:

            def on_step_end(_pipe: Any, step: int, _t: Any, tensors: dict[str, Any]) -> dict[str, Any]:
                step_done(step, tensors.get("latents"))
                return tensors

            kwargs["callback_on_step_end"] = on_step_end
            kwargs["callback_on_step_end_tensor_inputs"] = ["latents"]
        if self.preset.fps_kwarg:
            kwargs[self.preset.fps_kwarg] = first.fps
        # A batch shares its conditions: requests with different pictures never share a key.
        kwargs.update(pipeline_kwargs(self.preset, first))

        generators = [torch.Generator(device="cpu").manual_seed(r.seed) for r in batch]
        started = time.perf_counter()
        with torch.inference_mode():
            output = self.pipe(
                prompt=[r.prompt for r in batch],
                negative_prompt=[r.negative_prompt for r in batch],
                num_frames=first.frames,
                width=first.width,
                height=first.height,
                num_inference_steps=first.steps,
                guidance_scale=first.guidance,
                generator=generators,
                output_type=self.preset.output_type,
                **kwargs,
            )
        elapsed = time.perf_counter() - started
        videos = output.frames
        return [
            RenderResult(r, join_extension(self.preset, r, to_uint8(videos[i])), elapsed)
            for i, r in enumerate(batch)
        ]
