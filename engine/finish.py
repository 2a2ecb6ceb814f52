"""The clip file every render path makes from a render's frames.

The local worker, the farm (a remote worker writes the file, the bot signs and fingerprints what
comes back) and `engine render` all finish a clip here, so a promise added to one path (the
server's visible mark, private metadata for DM clips, content credentials, the fingerprint that
recognises a stripped copy) holds on every path.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def write_clip(frames: Any, path: Path, request: Any, *, mark: bool, private: bool) -> None:
    """Encode `frames` to `path` (MP4) with the request's metadata; `mark`: the server asked for
    the visible label; `private`: a DM clip, whose file carries no prompt or seed."""
    from engine.encode import encode_clip
    from engine.encode.mark import burn_mark

    encode_clip(
        burn_mark(frames) if mark else frames,
        path,
        fps=request.fps,
        metadata=request.clip_metadata(private=private),
    )


def sign(path: Path, signing: Any, request: Any, bot_name: str) -> None:
    """Sign the finished file in place; the file handed out is the file signed. No keys: nothing."""
    if signing is None:
        return
    from engine.credentials import ClipFacts, sign_clip

    sign_clip(path, signing, ClipFacts.of(request, bot_name))


def fingerprint(path: Path) -> list[int] | None:
    """The clip's fingerprint for the journal, or None (said in the log) when the file cannot be
    read back: the clip itself is fine, only the look-up of a stripped copy is lost."""
    from engine.credentials.fingerprint import FingerprintError, fingerprint_file

    try:
        return fingerprint_file(path)
    except (FingerprintError, OSError, ValueError) as exc:
        log.warning("%s: no fingerprint (%s)", path.name, exc)
        return None
