"""Faults of the machine's storage, told apart from faults of a job, and reported once.

A full disk, a clips folder that cannot be written or a journal locked by another process is
nobody's prompt's fault: the job must wait, not fail, and its attempts must not be used up.
This module says which errors are of that kind (`storage_trouble`), checks at start-up that a
folder can be written (`check_writable`), and logs each fault once when it begins and once when
it ends (`Episodes`), however many retries there are in between.
"""

from __future__ import annotations

import errno
import logging
import os
import tempfile
import threading
import time
from pathlib import Path

log = logging.getLogger(__name__)

# What the machine, not the job, can be blamed for when a clip cannot be written.
NO_ROOM = frozenset({errno.ENOSPC, errno.EDQUOT})
NOT_WRITABLE = frozenset({errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOTDIR, errno.EEXIST, errno.EISDIR})
MACHINE_ERRNOS = NO_ROOM | NOT_WRITABLE | {errno.EIO}


class FolderUnwritable(Exception):
    """A folder Promptreel writes to cannot be written; the message is one line with the fix."""

    def __init__(self, folder: Path, exc: OSError, *, what: str = "clips folder") -> None:
        self.folder = Path(folder)
        self.errno = exc.errno
        self.why = exc.strerror or str(exc)
        if exc.filename and Path(exc.filename) != self.folder:
            self.why += f": {exc.filename}"
        fix = fix_for(self.folder, exc.errno)
        super().__init__(f"cannot write to the {what} {self.folder} ({self.why}). {fix}")


def fix_for(folder: Path, code: int | None) -> str:
    """What the owner can do about a folder that will not take a file."""
    if code in NO_ROOM:
        return f"Free some space on the disk that holds {folder}."
    return (
        f"Make {folder} a folder the user running Promptreel can write to "
        "(or set PROMPTREEL_CLIPS_DIR / PROMPTREEL_DATA_DIR to one)."
    )


def check_writable(folder: Path, *, what: str = "clips folder") -> None:
    """Make `folder` if needed and create (then remove) an empty file in it.

    Raises `FolderUnwritable` when that fails: read-only, no permission, a file in its place.
    Works for root too, who passes permission checks but not read-only file systems or files
    standing where a folder should be.
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=folder, prefix=".promptreel-probe-")
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        raise FolderUnwritable(folder, exc, what=what) from exc


def machine_error_in(text: str) -> int | None:
    """The errno of a machine fault a tool (ffmpeg) reported in its own words, if any."""
    for code in sorted(MACHINE_ERRNOS):
        if os.strerror(code) in text:
            return code
    return None


def storage_trouble(exc: BaseException, folder: Path) -> tuple[str, int | None] | None:
    """Why writing a file into `folder` failed, when the machine is to blame, else None.

    Returns (the reason, for the owner's log; its errno, if known). An encoder failure
    (ffmpeg's exit status) is the machine's when ffmpeg said so (`detail`) or when the folder
    itself no longer takes a file; any other failure is the job's.
    """
    if isinstance(exc, OSError) and exc.errno in MACHINE_ERRNOS:
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror or exc}{where}", exc.errno
    detail = str(getattr(exc, "detail", "") or "")
    code = machine_error_in(detail)
    if code is not None:
        return os.strerror(code), code
    if isinstance(exc, OSError) or detail:
        try:
            check_writable(folder)
        except FolderUnwritable as unwritable:
            return unwritable.why, unwritable.errno
    return None


class Episodes:
    """Logs a fault once when it starts and once when it is over, and paces the retries.

    `failed(what, message)` returns how long to wait before trying again: 50 ms, doubling up to
    `longest_wait`. Each retry in between is logged at debug level only, so an owner's log
    shows one line per episode however long it lasts. Shared by a worker's threads.
    """

    def __init__(
        self, *, longest_wait: float = 30.0, logger: logging.Logger | None = None, then: str | None = None
    ) -> None:
        """`then`: what happens meanwhile, for the first line (default: waiting and retrying)."""
        self.longest_wait = longest_wait
        self.log = logger or log
        self.then = then or f"waiting and retrying (at most {longest_wait:g} s apart) until it works"
        self._lock = threading.Lock()
        self._since: dict[str, float] = {}
        self._tries: dict[str, int] = {}

    def failing(self, what: str) -> bool:
        with self._lock:
            return what in self._since

    def failed(self, what: str, message: str, *, exc_info: BaseException | None = None) -> float:
        """Count a failure of `what`; the first of an episode is logged (with `exc_info`'s traceback)."""
        with self._lock:
            tries = self._tries.get(what, 0) + 1
            self._tries[what] = tries
            first = what not in self._since
            if first:
                self._since[what] = time.monotonic()
        if first:
            then = self.then[:1].upper() + self.then[1:]
            self.log.warning("%s. %s.", message.rstrip("."), then, exc_info=exc_info)
        else:
            self.log.debug("%s (retry %d)", message, tries)
        return min(self.longest_wait, 0.05 * 2 ** min(tries - 1, 20))

    def worked(self, what: str, message: str) -> None:
        with self._lock:
            since = self._since.pop(what, None)
            tries = self._tries.pop(what, 0)
        if since is not None:
            self.log.warning(
                "%s again, after %.1f s and %d failed tries", message, time.monotonic() - since, tries
            )
