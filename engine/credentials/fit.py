"""Sizing a clip to an upload limit when it must also carry content credentials.

A re-encoded copy is a new file, so the credentials of the clip it came from do not cover it:
it is signed again, and the room its manifest needs (`Signing.room`, measured at start-up) is
taken off the limit before encoding, so signing never pushes it over. Should a manifest still
come out bigger than measured, the copy is encoded again with the difference taken off too.
"""

from __future__ import annotations

from pathlib import Path

from engine.credentials.signing import ROOM_MARGIN, ClipFacts, Signing, sign_clip
from engine.encode import EncodeError, shrink_to_fit

TRIES = 3


def fit_signed(path: Path, max_bytes: int, signing: Signing | None, facts: ClipFacts | None) -> Path:
    """The clip as is if it fits, else a smaller re-encode beside it, signed when `signing` is set."""
    path = Path(path)
    if path.stat().st_size <= max_bytes:
        return path
    if signing is None or facts is None:
        return shrink_to_fit(path, max_bytes)
    reserve = signing.room
    for _ in range(TRIES):
        out = shrink_to_fit(path, max_bytes, reserve=reserve, finish=lambda p: sign_clip(p, signing, facts))
        size = out.stat().st_size
        if size <= max_bytes:
            return out
        reserve += size - max_bytes + ROOM_MARGIN
        out.unlink(missing_ok=True)
    raise EncodeError("The clip could not be made small enough to fit with its content credentials.")
