"""A small visible label burned into a clip's corner, for servers that want one.

Content credentials (`engine.credentials`) are the machine-readable provenance, but social
networks strip them on upload and most viewers never look. A server may also want the clip to
say so to the eye: a short label, bottom right, on every frame. The label is drawn once with
Pillow and blended into each frame with numpy, so the cost is one small alpha blend per frame.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

LABEL = "AI-generated"
# The label's height as a share of the frame's shorter side, within readable bounds.
_SHARE, _MIN_PX, _MAX_PX = 0.06, 7, 28


def burn_mark(frames: np.ndarray, text: str = LABEL) -> np.ndarray:
    """`frames` ((F, H, W, 3) uint8) with `text` in a dark box in the bottom-right corner."""
    _, height, width, _ = frames.shape
    size = int(min(_MAX_PX, max(_MIN_PX, min(height, width) * _SHARE)))
    font = ImageFont.load_default(size=size)
    left, top, right, bottom = font.getbbox(text)
    pad = max(1, size // 4)
    box_w = min(width, right - left + 2 * pad)
    box_h = min(height, bottom - top + 2 * pad)
    label = Image.new("RGBA", (box_w, box_h), (0, 0, 0, 150))
    ImageDraw.Draw(label).text((pad - left, pad - top), text, font=font, fill=(255, 255, 255, 235))
    rgba = np.asarray(label, dtype=np.float32) / 255.0
    alpha, colour = rgba[..., 3:], rgba[..., :3] * 255.0
    out = frames.copy()
    y0, x0 = height - box_h, width - box_w
    corner = out[:, y0:, x0:, :].astype(np.float32)
    out[:, y0:, x0:, :] = np.clip(corner * (1.0 - alpha) + colour * alpha, 0, 255).round().astype(np.uint8)
    return out
