"""Forgetting on request and after the retention period: the journal's rows and the clips' files.

Both run on the journal's thread (never on the event loop): the rows go first, in one
transaction, then the files they named. A clip is only removed from inside the clips folder,
whatever a row says, so a damaged or hostile row cannot make the bot delete other files.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

from engine.journal import Journal

log = logging.getLogger(__name__)
DAY_S = 86_400.0


def remove_clips(paths: Iterable[str], clips_dir: Path, images_dir: Path | None = None) -> int:
    """Delete the files among `paths` that lie inside `clips_dir` (or `images_dir`, where the
    uploaded pictures are kept); returns how many went."""
    roots = [clips_dir.resolve()] + ([images_dir.resolve()] if images_dir is not None else [])
    removed = 0
    for text in paths:
        path = Path(text).resolve()
        if not any(path.is_relative_to(root) for root in roots):
            log.warning("not deleting %s: it is outside the clips and pictures folders", path)
            continue
        try:
            path.unlink()
            removed += 1
        except FileNotFoundError:
            pass  # deleted already (by a moderator's Delete button, or by hand)
    return removed


def forget_member(
    journal: Journal, user_id: str, clips_dir: Path, images_dir: Path | None = None
) -> tuple[int, int]:
    """Every prompt, clip, picture and history entry of one member, everywhere: (rows, files) deleted."""
    rows = journal.count_jobs_of(user_id=user_id)
    return rows, remove_clips(journal.forget_member(user_id), clips_dir, images_dir)


def forget_server(
    journal: Journal, guild_id: str, clips_dir: Path, images_dir: Path | None = None
) -> tuple[int, int]:
    rows = journal.count_jobs_of(guild_id=guild_id)
    return rows, remove_clips(journal.forget_server(guild_id), clips_dir, images_dir)


def apply_retention(journal: Journal, clips_dir: Path, days: float, images_dir: Path | None = None) -> int:
    """Delete settled jobs older than `days` on the journal's clock, and their clips; 0 days: keep all."""
    if days <= 0:
        return 0
    paths = journal.expire_before(journal.clock() - days * DAY_S)
    removed = remove_clips(paths, clips_dir, images_dir)
    if paths:
        log.info("retention: %d clips older than %g days deleted", len(paths), days)
    return removed
