"""The live previews' files: one small JPEG per running job, replaced as it forms, gone at its end.

A preview lives under the clips folder (`previews/job-<id>-a<attempt>-s<step>.jpg`), next to the
clips every process already reads from there; the journal holds only its path (`Journal.preview`).
Each preview is a new file written whole then renamed into place, so a reader never sees half a
picture; the previous one is deleted once the journal points at the new one, and the last one
when the job's render ends, however it ends. Files a dead worker left behind are swept by the
next worker to start.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

_NAME = re.compile(r"job-(\d+)-a(\d+)-s(\d+)\.jpg")


class PreviewFiles:
    def __init__(self, clips_dir: Path) -> None:
        self.folder = clips_dir / "previews"
        self._current: dict[int, Path] = {}

    def write(self, job_id: int, attempt: int, step: int, image: np.ndarray) -> Path | None:
        """Write one preview; None if the folder will not take it (a preview is never worth a fault)."""
        from PIL import Image

        path = self.folder / f"job-{job_id}-a{attempt}-s{step}.jpg"
        partial = path.with_name(f".{path.name}.partial")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(partial, format="JPEG", quality=85)
            os.replace(partial, path)
        except OSError as exc:
            log.debug("job %s: preview not written (%s)", job_id, exc)
            with contextlib.suppress(OSError):
                partial.unlink()
            return None
        return path

    def shown(self, job_id: int, path: Path) -> None:
        """The journal now points at `path`: the job's previous preview can go."""
        previous = self._current.get(job_id)
        self._current[job_id] = path
        if previous is not None and previous != path:
            _remove(previous)

    def discard(self, path: Path) -> None:
        """A preview the journal did not take (the job was lost meanwhile)."""
        _remove(path)

    def done(self, job_id: int) -> None:
        """The job's render ended: its last preview goes."""
        path = self._current.pop(job_id, None)
        if path is not None:
            _remove(path)

    def sweep(self, running: set[tuple[int, int]]) -> int:
        """Delete previews of every job attempt not in `running` ((job id, attempt) pairs)."""
        removed = 0
        try:
            entries = list(self.folder.iterdir())
        except OSError:
            return 0
        for entry in entries:
            match = _NAME.fullmatch(entry.name)
            stale_partial = entry.name.startswith(".job-") and entry.name.endswith(".partial")
            if stale_partial or (match and (int(match[1]), int(match[2])) not in running):
                removed += _remove(entry)
        return removed


def _remove(path: Path) -> int:
    try:
        path.unlink()
    except FileNotFoundError:
        return 0
    except OSError as exc:
        log.warning("could not delete the preview %s (%s)", path, exc)
        return 0
    return 1
