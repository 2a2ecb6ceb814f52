"""Pictures that members upload to start a clip from: untrusted bytes made safe to render.

An upload may be a decompression bomb (a few KB that claim 20000x20000 pixels), a truncated
file, an animation, a file whose name lies about its type, or a phone photo whose pixels are
stored sideways with an EXIF flag. Each is refused with a sentence a member understands, or
normalised: the type is sniffed from the first bytes (never the name), the pixel count is
checked from the header before any pixel is decoded, the orientation flag is applied and every
piece of metadata (EXIF, GPS, ICC, text chunks) dropped by re-encoding as a plain PNG.

Pillow only, torch-free: the chat side checks an upload before it is queued.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps

# Plenty for a phone photo (48 MP is 8000x6000) while a bomb's claimed size is refused unread.
MAX_BYTES = 20 * 1024 * 1024
MAX_PIXELS = 50_000_000
MIN_SIDE = 32

_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
)


class BadImage(ValueError):
    """The upload cannot start a clip; the message is safe to show the member.

    `key` and `values` name the sentence, as `engine.request.InvalidRequest`'s do, so that a
    chat surface can say it in the member's language; the message itself is the English.
    """

    def __init__(self, message: str, key: str = "", **values: Any) -> None:
        super().__init__(message)
        self.key = key
        self.values = values


@dataclass(frozen=True)
class CleanImage:
    png: bytes  # RGB, no metadata, orientation applied
    width: int
    height: int
    sha256: str

    def save(self, folder: Path) -> Path:
        """Stored under its hash, so re-rolls share one file and a name reveals nothing."""
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{self.sha256}.png"
        if not path.exists():
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(self.png)
            tmp.replace(path)
        return path


def sniff(data: bytes) -> str | None:
    """The image type from its first bytes: png, jpeg, webp, gif, or None."""
    for signature, kind in _SIGNATURES:
        if data.startswith(signature):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    return None


def clean(data: bytes, *, max_bytes: int = MAX_BYTES, max_pixels: int = MAX_PIXELS) -> CleanImage:
    """Check and normalise an upload, or raise `BadImage` saying why."""
    if len(data) > max_bytes:
        size, limit = f"{len(data) / 2**20:.1f}", f"{max_bytes / 2**20:.0f}"
        raise BadImage(
            f"That picture is {size} MB; the limit is {limit} MB.", "image_bytes", size=size, limit=limit
        )
    kind = sniff(data)
    if kind == "gif":
        raise BadImage(
            "Animated pictures (GIF) can't start a clip; please send a PNG, JPEG or WebP.", "image_gif"
        )
    if kind is None:
        raise BadImage("That file isn't a picture I can read; please send a PNG, JPEG or WebP.", "image_kind")
    try:
        with warnings.catch_warnings():
            # Pillow warns, then raises, on sizes past its own bomb limit; ours is checked first.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=[kind.upper()])
            width, height = image.size
            if width * height > max_pixels:
                megapixels = max_pixels // 1_000_000
                raise BadImage(
                    f"That picture is {width}x{height}; please send one under {megapixels} megapixels.",
                    "image_pixels", width=width, height=height, megapixels=megapixels,
                )  # fmt: skip
            if min(width, height) < MIN_SIDE:
                raise BadImage(
                    f"That picture is only {width}x{height} pixels; please send a larger one.",
                    "image_small", width=width, height=height,
                )  # fmt: skip
            if getattr(image, "n_frames", 1) > 1:
                raise BadImage(
                    "Animated pictures can't start a clip; please send a still PNG, JPEG or WebP.",
                    "image_animated",
                )
            image.load()
            image = ImageOps.exif_transpose(image).convert("RGB")
    except BadImage:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        # Pillow's own header check, for sizes far past ours: still nothing was decoded.
        megapixels = max_pixels // 1_000_000
        raise BadImage(
            f"That picture is too large; please send one under {megapixels} megapixels.",
            "image_bomb", megapixels=megapixels,
        ) from None  # fmt: skip
    except (OSError, ValueError, SyntaxError):
        # Truncated, corrupt or lying files: Pillow reports them as any of these.
        raise BadImage(
            "I couldn't read that picture (it may be damaged); please send it again.", "image_damaged"
        ) from None
    out = io.BytesIO()
    image.save(out, format="PNG")  # a fresh file: no EXIF, GPS, ICC or text chunks survive
    png = out.getvalue()
    return CleanImage(png, image.width, image.height, hashlib.sha256(png).hexdigest())


def fit(image: Image.Image, width: int, height: int) -> Image.Image:
    """Scale to cover ``width`` x ``height`` and crop the middle: the clip's frame, no bars."""
    return ImageOps.fit(image.convert("RGB"), (width, height), method=Image.Resampling.LANCZOS)


def open_clean(path: Path) -> Image.Image:
    """A stored, already-cleaned picture."""
    with Image.open(path) as image:
        return image.convert("RGB")
