"""Is there a face in an uploaded picture? OpenCV's bundled frontal-face detector, offline.

A text prompt about a real person can be refused by its words; a photo cannot. Animating a
classmate's picture needs no name at all, so a server that turns image-to-video on refuses
pictures with a face unless its moderators also allow faces. The Haar cascade ships inside
`opencv-python-headless` (4.x; 5.0 dropped the cascades), so nothing is downloaded. It misses
profiles and small faces and sees faces in some patterns: it is a guard for the common case
(a photo of someone), not a guarantee, and the README says so.

Torch-free; cv2 is imported on first use, and its absence is reported, not hidden.
"""

from __future__ import annotations

import io
import threading
from typing import Any

import numpy as np
from PIL import Image

# Faces are looked for at this size: the cascade's cost grows with the pixel count, and a
# face too small to see at 640 px is too small to animate convincingly.
_DETECT_SIDE = 640
_lock = threading.Lock()
_cascade: Any = None


class FaceCheckUnavailable(RuntimeError):
    """OpenCV is not installed; the caller decides (image-to-video refuses pictures then)."""


def _detector() -> Any:
    global _cascade
    with _lock:
        if _cascade is None:
            try:
                import cv2
            except ImportError as exc:
                raise FaceCheckUnavailable(
                    "face check needs opencv-python-headless 4.x: pip install 'promptreel[images]'"
                ) from exc
            path = (
                getattr(getattr(cv2, "data", None), "haarcascades", "")
                + "haarcascade_frontalface_default.xml"
            )
            cascade = cv2.CascadeClassifier(path) if hasattr(cv2, "CascadeClassifier") else None
            if cascade is None or cascade.empty():
                raise FaceCheckUnavailable(
                    "this OpenCV has no bundled face detector; install opencv-python-headless<5"
                )
            _cascade = (cv2, cascade)
        return _cascade


def count_faces(picture: bytes | Image.Image) -> int:
    """How many frontal faces the detector finds, at most one pass over a 640-px copy."""
    cv2, cascade = _detector()
    image = Image.open(io.BytesIO(picture)) if isinstance(picture, bytes) else picture
    image = image.convert("L")
    scale = _DETECT_SIDE / max(image.size)
    if scale < 1:
        image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))))
    gray = np.asarray(image)
    side = min(gray.shape)
    faces = cascade.detectMultiScale(
        cv2.equalizeHist(gray), scaleFactor=1.1, minNeighbors=5, minSize=(max(24, side // 12),) * 2
    )
    return len(faces)
