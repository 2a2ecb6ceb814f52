"""Reading a clip back into frames: what an extension continues from."""

from __future__ import annotations

from pathlib import Path

import imageio_ffmpeg
import numpy as np


def read_frames(path: Path, *, last: int | None = None) -> np.ndarray:
    """Every frame ffmpeg decodes from ``path`` as (F, H, W, 3) uint8, or only the ``last`` ones.

    `-fps_mode passthrough` keeps ffmpeg from duplicating or dropping frames, so an extension
    joins onto exactly the frames the member saw. Only ``last`` frames are kept in memory.
    """
    reader = imageio_ffmpeg.read_frames(str(path), output_params=["-fps_mode", "passthrough"])
    meta = next(reader)
    width, height = meta["size"]
    kept: list[np.ndarray] = []
    for buf in reader:
        kept.append(np.frombuffer(buf, np.uint8).reshape(height, width, 3))
        if last is not None and len(kept) > last:
            kept.pop(0)
    if not kept:
        return np.empty((0, height, width, 3), np.uint8)
    return np.stack(kept)
