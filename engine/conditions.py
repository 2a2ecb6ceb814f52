"""What a clip is conditioned on besides its prompt: a starting picture, the end of the clip it
extends, or the frame a loop returns to.

Presets mark what their pipeline can take (`Preset.image_input`, `Preset.frame_conditions`);
requests name files (`RenderRequest.image`, `.extend`), already cleaned on the way in. This
module turns those into the pipeline's keyword arguments, and joins an extension onto the clip
it continues, so `engine.render` stays the same for every kind of request.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from engine.presets import Preset
from engine.request import RenderRequest


class ConditionUnavailable(RuntimeError):
    """A file a request was conditioned on is gone (retention removed it, say)."""


def pipeline_kwargs(preset: Preset, request: RenderRequest) -> dict[str, Any]:
    """Keyword arguments for the condition pipeline; empty for a text-only request."""
    if not (request.image or request.extend or request.loop):
        return {}
    from diffusers.pipelines.ltx.pipeline_ltx_condition import LTXVideoCondition

    from engine.image import fit, open_clean

    conditions = []
    if request.image:
        picture = fit(open_clean(_existing(request.image)), request.width, request.height)
        conditions.append(LTXVideoCondition(image=picture, frame_index=0))
        if request.loop:
            # The last frame is held to the same picture, so the clip closes on where it began.
            conditions.append(LTXVideoCondition(image=picture, frame_index=request.frames - 1))
    if request.extend:
        from PIL import Image

        from engine.encode.decode import read_frames

        tail = read_frames(_existing(request.extend), last=preset.extend_overlap)
        video = [fit(Image.fromarray(f), request.width, request.height) for f in tail]
        conditions.append(LTXVideoCondition(video=video, frame_index=0))
    return {"conditions": conditions}


def join_extension(preset: Preset, request: RenderRequest, frames: np.ndarray) -> np.ndarray:
    """The clip it extends followed by the new frames, minus the overlap they were conditioned on.

    The new clip's first ``extend_overlap`` frames re-render the old clip's last ones; keeping
    the old ones and dropping the new gives one clip with no repeated or missing frame.
    """
    if not request.extend:
        return frames
    from PIL import Image

    from engine.encode.decode import read_frames

    before = read_frames(_existing(request.extend))
    height, width = frames.shape[1:3]
    if before.shape[1:3] != (height, width):
        before = np.stack([np.asarray(Image.fromarray(f).resize((width, height))) for f in before])
    overlap = min(preset.extend_overlap, len(before), len(frames))
    return np.concatenate([before, frames[overlap:]])


def _existing(path: str) -> Path:
    p = Path(path)
    if not p.is_file():
        raise ConditionUnavailable(f"the file this clip starts from is no longer kept: {p.name}")
    return p
