"""Clip metadata: cleaning the tags a caller passes, and what ffmpeg does not handle for us.

GIF has no key/value metadata, so `engine.encode` stores a clip's tags as one GIF comment
extension in ffmetadata syntax, inserted before the first frame, and parses it back from there.
The same ffmetadata parser reads what ffmpeg's ffmetadata muxer prints for MP4/WebM clips, since
the ffmpeg that imageio-ffmpeg ships comes without ffprobe.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from pathlib import Path

from engine.encode.errors import EncodeError

# Longer values are cut (with an ellipsis) rather than refused: a prompt is informative even
# when cut, and this keeps every argument far below the OS limit on one argv entry (128 KiB).
MAX_METADATA_CHARS = 4000

_KEY_RE = re.compile(r"[a-z][a-z0-9_]{0,63}")

_FFMETADATA_HEADER = ";FFMETADATA1"
_GIF_EXTENSION = 0x21
_GIF_IMAGE = 0x2C
_GIF_COMMENT_LABEL = 0xFE
_GIF_APPLICATION_LABEL = 0xFF


# --- cleaning -----------------------------------------------------------------------------


def clean_metadata(metadata: Mapping[str, str]) -> dict[str, str]:
    """Make every pair safe to pass to ffmpeg and to store; refuse keys that are a caller's bug.

    Keys are restricted to [a-z0-9_] (lower-cased), since containers treat case differently and
    ffmpeg splits `key=value` at the first '='. Values lose NUL and other control characters
    (newlines and tabs stay), unpaired surrogates become U+FFFD, and overlong values are cut.
    Empty values are dropped because `-metadata key=` means "delete key" to ffmpeg.
    """
    cleaned: dict[str, str] = {}
    for raw_key, raw_value in metadata.items():
        key = str(raw_key).lower()
        if not _KEY_RE.fullmatch(key):
            raise ValueError(f"metadata key {raw_key!r} must be 1-64 letters, digits or '_'")
        value = str(raw_value).replace("\r\n", "\n").replace("\r", "\n")
        value = value.encode("utf-8", errors="replace").decode("utf-8")
        value = "".join(ch for ch in value if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cs"))
        if len(value) > MAX_METADATA_CHARS:
            value = value[: MAX_METADATA_CHARS - 1] + "…"
        if value:
            cleaned[key] = value
    return cleaned


# --- ffmetadata ---------------------------------------------------------------------------


def _escape_ffmetadata(text: str) -> str:
    return re.sub(r"([=;#\\\n])", r"\\\1", text)


def format_ffmetadata(tags: Mapping[str, str]) -> str:
    lines = [_FFMETADATA_HEADER]
    lines += [f"{_escape_ffmetadata(k)}={_escape_ffmetadata(v)}" for k, v in tags.items()]
    return "\n".join(lines) + "\n"


def parse_ffmetadata(text: str) -> dict[str, str]:
    """Parse the global section of ffmetadata text (escapes: backslash before =;#\\ newline)."""
    result: dict[str, str] = {}
    key: list[str] = []
    value: list[str] = []
    seen_eq = False
    at_line_start = True
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if at_line_start and ch in ";#[":
            if ch == "[":
                break  # [STREAM] / [CHAPTER] sections hold no container-level data
            end = text.find("\n", i)
            i = n if end == -1 else end + 1
            continue
        at_line_start = False
        if ch == "\\" and i + 1 < n:
            i += 1
            (value if seen_eq else key).append(text[i])
        elif ch == "\n":
            if seen_eq and key:
                result["".join(key).lower()] = "".join(value)
            key, value, seen_eq, at_line_start = [], [], False, True
        elif ch == "=" and not seen_eq:
            seen_eq = True
        else:
            (value if seen_eq else key).append(ch)
        i += 1
    if seen_eq and key:
        result["".join(key).lower()] = "".join(value)
    return result


# --- GIF comments -------------------------------------------------------------------------


def gif_add_comment(path: Path, text: str) -> None:
    """Insert a comment extension before the first frame, where readers look for one."""
    data = bytearray(path.read_bytes())
    if data[:6] not in (b"GIF87a", b"GIF89a"):
        raise EncodeError("The clip could not be encoded.", detail="ffmpeg did not write a GIF")
    data[:6] = b"GIF89a"  # extensions are a GIF89a feature
    pos = _gif_blocks_start(data)
    # After the application extension (NETSCAPE looping), which some players expect first.
    skippable = (_GIF_APPLICATION_LABEL, _GIF_COMMENT_LABEL)
    while pos + 1 < len(data) and data[pos] == _GIF_EXTENSION and data[pos + 1] in skippable:
        pos = _gif_skip_sub_blocks(data, pos + 2)
    payload = text.encode("utf-8")
    block = bytearray([_GIF_EXTENSION, _GIF_COMMENT_LABEL])
    for start in range(0, len(payload), 255):
        chunk = payload[start : start + 255]
        block.append(len(chunk))
        block += chunk
    block.append(0)
    data[pos:pos] = block
    path.write_bytes(data)


def read_gif_metadata(data: bytes) -> dict[str, str]:
    result: dict[str, str] = {}
    for comment in _gif_comments(data):
        if comment.startswith(_FFMETADATA_HEADER):
            result.update(parse_ffmetadata(comment))
        else:
            result.setdefault("comment", comment)
    return result


def _gif_comments(data: bytes) -> list[str]:
    comments: list[str] = []
    pos = _gif_blocks_start(data)
    while pos < len(data):
        marker = data[pos]
        if marker == _GIF_EXTENSION and pos + 1 < len(data):
            label = data[pos + 1]
            end = _gif_skip_sub_blocks(data, pos + 2)
            if label == _GIF_COMMENT_LABEL:
                comments.append(_gif_join_sub_blocks(data, pos + 2).decode("utf-8", errors="replace"))
            pos = end
        elif marker == _GIF_IMAGE and pos + 10 <= len(data):
            packed = data[pos + 9]
            pos += 10
            if packed & 0x80:
                pos += 3 * 2 ** ((packed & 0x07) + 1)
            pos = _gif_skip_sub_blocks(data, pos + 1)  # +1: LZW minimum code size
        else:  # trailer, or a truncated file: nothing more to trust
            break
    return comments


def _gif_blocks_start(data: bytes | bytearray) -> int:
    """Offset just past the header, logical screen descriptor and global colour table."""
    if len(data) < 13:
        return len(data)
    packed = data[10]
    pos = 13
    if packed & 0x80:
        pos += 3 * 2 ** ((packed & 0x07) + 1)
    return pos


def _gif_skip_sub_blocks(data: bytes | bytearray, pos: int) -> int:
    while pos < len(data):
        size = data[pos]
        pos += 1 + size
        if size == 0:
            break
    return min(pos, len(data))


def _gif_join_sub_blocks(data: bytes | bytearray, pos: int) -> bytes:
    out = bytearray()
    while pos < len(data) and data[pos]:
        size = data[pos]
        out += data[pos + 1 : pos + 1 + size]
        pos += 1 + size
    return bytes(out)
