"""Live previews: the first frame of a render as it forms, decoded from a step's latents.

Every few steps the renderer hands the step's latents to a `Previewer`, which decodes only the
first latent frame, at low resolution, with the preset's own VAE. How latents are laid out
differs per pipeline class (LTX packs them into tokens and prepends condition tokens, CogVideoX
puts frames before channels, Wan and LTX normalise them), so each class has its own small
decoder here, written from that pipeline's own decode path. A class without one gets no
previews, and nothing else changes.

A preview is only worth it while it costs less than a step: `Previews` measures one against a
step once (the first time one is due) and keeps the verdict for the worker's lifetime.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

# (pipe, latents, shrink factor, frames, height, width) -> first frames in [-1, 1], (batch, 3, h, w)
Decoder = Callable[[Any, Any, int, int, int, int], Any]


def _area(latents: Any, factor: int) -> Any:
    """Shrink (B, C, H, W) latents `factor` times: the VAE then decodes a small image, cheaply."""
    import torch.nn.functional as F

    if factor <= 1:
        return latents
    h, w = latents.shape[-2:]
    return F.interpolate(latents, size=(max(1, h // factor), max(1, w // factor)), mode="area")


def _vae_input(pipe: Any, latents: Any) -> Any:
    vae = pipe.vae
    return latents.to(device=vae.device, dtype=vae.dtype)


def _decode_text_to_video_sd(pipe: Any, latents: Any, factor: int, _frames: int, _h: int, _w: int) -> Any:
    # TextToVideoSDPipeline.decode_latents: (B, C, F, H, W), frames decoded one by one as images.
    first = _vae_input(pipe, latents[:, :, 0]) / pipe.vae.config.scaling_factor
    return pipe.vae.decode(_area(first, factor)).sample


def _decode_ltx(pipe: Any, latents: Any, factor: int, frames: int, height: int, width: int) -> Any:
    # LTX(Condition)Pipeline: packed tokens (B, S, D), frame-major; condition tokens come first
    # and are dropped before decoding, so the video's own tokens are the last ones.
    p, pt = pipe.transformer_spatial_patch_size, pipe.transformer_temporal_patch_size
    lf = (frames - 1) // pipe.vae_temporal_compression_ratio + 1
    lh, lw = height // pipe.vae_spatial_compression_ratio, width // pipe.vae_spatial_compression_ratio
    grid_h, grid_w = lh // p, lw // p
    video = latents[:, latents.shape[1] - (lf // pt) * grid_h * grid_w :]
    first = video[:, : grid_h * grid_w]  # the first temporal patch
    first = pipe._unpack_latents(first, 1, grid_h, grid_w, p, pt)[:, :, :1]
    vae = pipe.vae
    first = pipe._denormalize_latents(
        _vae_input(pipe, first), vae.latents_mean, vae.latents_std, vae.config.scaling_factor
    )
    b = first.shape[0]
    first = _area(first[:, :, 0], factor).unsqueeze(2)
    timestep = None
    if vae.config.timestep_conditioning:
        import torch

        timestep = torch.zeros(b, device=first.device, dtype=first.dtype)
    return vae.decode(first, timestep, return_dict=False)[0][:, :, 0]


def _decode_wan(pipe: Any, latents: Any, factor: int, _frames: int, _h: int, _w: int) -> Any:
    # WanPipeline: (B, C, F, H, W), de-normalised with the VAE config's mean and std.
    import torch

    vae = pipe.vae
    first = _vae_input(pipe, latents[:, :, :1])
    z = vae.config.z_dim
    mean = torch.tensor(vae.config.latents_mean).view(1, z, 1, 1, 1).to(first.device, first.dtype)
    std = torch.tensor(vae.config.latents_std).view(1, z, 1, 1, 1).to(first.device, first.dtype)
    first = first * std + mean
    first = _area(first[:, :, 0], factor).unsqueeze(2)
    return vae.decode(first, return_dict=False)[0][:, :, 0]


def _decode_cogvideox(pipe: Any, latents: Any, factor: int, frames: int, _h: int, _w: int) -> Any:
    # CogVideoXPipeline: (B, F, C, H, W); CogVideoX 1.5 pads frames at the start, skipped here.
    expected = (frames - 1) // pipe.vae_scale_factor_temporal + 1
    pad = max(0, latents.shape[1] - expected)
    first = _vae_input(pipe, latents[:, pad]) / pipe.vae_scaling_factor_image
    first = _area(first, factor).unsqueeze(2)
    return pipe.vae.decode(first).sample[:, :, 0]


DECODERS: dict[str, Decoder] = {
    "TextToVideoSDPipeline": _decode_text_to_video_sd,
    "LTXPipeline": _decode_ltx,
    "LTXConditionPipeline": _decode_ltx,
    "WanPipeline": _decode_wan,
    "CogVideoXPipeline": _decode_cogvideox,
}


def preview_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    """The preview's (width, height): the clip's shape, its longer side at most `max_side`."""
    scale = min(1.0, max_side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


class Previewer:
    """Decodes the first frame of each video in a batch from one step's latents."""

    def __init__(self, pipe: Any, decode: Decoder) -> None:
        self.pipe = pipe
        self._decode = decode

    def images(self, latents: Any, frames: int, width: int, height: int, max_side: int) -> list[np.ndarray]:
        """One uint8 (h, w, 3) image per video, `preview_size(width, height, max_side)` large."""
        import torch
        from PIL import Image

        size = preview_size(width, height, max_side)
        # Shrink the latents first where the preview is much smaller than the clip: the decode is
        # most of a preview's cost and falls with the square of the factor.
        factor = max(1, math.floor(max(width, height) / max(size)))
        with torch.inference_mode():
            decoded = self._decode(self.pipe, latents, factor, frames, height, width)
            pixels = ((decoded.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
            arrays = pixels.permute(0, 2, 3, 1).cpu().numpy()
        out = []
        for array in arrays:
            image = Image.fromarray(array)
            if image.size != size:
                image = image.resize(size, Image.Resampling.BILINEAR)
            out.append(np.asarray(image))
        return out


def previewer_for(pipe: Any) -> Previewer | None:
    """The previewer for this pipeline's class, or None: then the renders just have no previews."""
    decode = DECODERS.get(type(pipe).__name__)
    if decode is None or getattr(pipe, "vae", None) is None:
        return None
    return Previewer(pipe, decode)


@dataclass
class Previews:
    """When previews are made, and whether they are worth it on this machine (measured once).

    `every_steps`: a preview at most every this many steps (0: never); `min_seconds`: and at most
    this often (keep it at or above the status-edit interval: no surface shows them faster);
    `max_cost`: a preview may cost at most this many steps, else previews stop for good (0: a
    preview always costs too much). `last`: also preview the final step (the CLI, tests); a
    worker does not, as the clip itself comes right after.
    """

    every_steps: int
    min_seconds: float
    max_side: int
    max_cost: float
    last: bool = False
    # Measured the first time a preview is due, then kept: seconds per step and per preview.
    step_seconds: float | None = None
    preview_seconds: float | None = None
    worth_it: bool | None = None
    _last_at: float = float("-inf")

    @classmethod
    def from_settings(cls, settings: Any) -> Previews:
        return cls(
            every_steps=settings.preview_every_steps,
            min_seconds=settings.preview_seconds,
            max_side=settings.preview_max_side,
            max_cost=settings.preview_max_cost,
        )

    def due(self, step: int, total: int, now: float) -> bool:
        """Whether step `step` (1-based) of `total` gets a preview, before measuring its cost."""
        if self.every_steps <= 0 or self.worth_it is False:
            return False
        if step >= total and not self.last:
            return False
        if step % self.every_steps and step != total:
            return False
        return now - self._last_at >= self.min_seconds

    def make(
        self, decode: Callable[[], list[np.ndarray]], step_seconds: float | None
    ) -> list[np.ndarray] | None:
        """Decode a due preview; the first one is timed against `step_seconds` and decides for good.

        The timed decode is the second of two, so one-time costs (allocations, kernels chosen
        on first use) do not count against previews; the step it is compared with is likewise
        not the first. Without a step measured yet the preview waits for the next due step.
        """
        if self.worth_it is None:
            if step_seconds is None:
                return None
            decode()
            started = time.perf_counter()
            images = decode()
            self.preview_seconds = time.perf_counter() - started
            self.step_seconds = step_seconds
            self.worth_it = self.preview_seconds <= self.max_cost * step_seconds
            verdict = "on" if self.worth_it else "off for this worker"
            log.info(
                "previews %s: one costs %.1f ms, a step %.1f ms (bound: %g step)",
                verdict, self.preview_seconds * 1000, step_seconds * 1000, self.max_cost,
            )  # fmt: skip
            if not self.worth_it:
                return None
        else:
            images = decode()
        self._last_at = time.monotonic()
        return images
