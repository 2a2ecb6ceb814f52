"""Turning rendered frames into a clip file a chat app will play inline, with ffmpeg.

The package is layered one way, each module importing only those listed before it:

* `errors`: `EncodeError`, the one error a user's clip can fail with.
* `metadata`: cleaning caller-given tags; ffmetadata text and GIF comments, which ffmpeg does not
  handle for us.
* `ffmpeg`: running the ffmpeg binary: codec arguments, one encode, reading a clip's tags back.
* `fit`: the bitrate/palette/scale ladder that meets `max_bytes`.
* `clip`: `encode_clip` and `shrink_to_fit`, the entry points: argument checks, frame
  preparation, writing the clip atomically.
"""

from engine.encode.clip import FORMATS, EncodeResult, Format, encode_clip, shrink_to_fit
from engine.encode.errors import EncodeError
from engine.encode.ffmpeg import read_metadata
from engine.encode.metadata import MAX_METADATA_CHARS

__all__ = [
    "FORMATS",
    "MAX_METADATA_CHARS",
    "EncodeError",
    "EncodeResult",
    "Format",
    "encode_clip",
    "read_metadata",
    "shrink_to_fit",
]
