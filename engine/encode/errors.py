"""The error every part of encoding raises when a clip cannot be made."""

from __future__ import annotations


class EncodeError(RuntimeError):
    """The clip could not be made; the message is written for the chat user who asked for it.

    `detail` carries ffmpeg's own output for the logs, which would only confuse that user.
    """

    def __init__(self, message: str, *, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail
