"""Uploaded pictures are untrusted: every hostile kind gets a sentence, never a crash or a hang.

The files are made here byte by byte or with Pillow; a bomb is a real PNG header that claims
20000x20000 pixels over a few bytes, so the test fails if any pixel were decoded first.
"""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from engine.image import MAX_PIXELS, BadImage, clean, fit, sniff


def _png(width: int, height: int, color: tuple[int, int, int] = (10, 200, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, "PNG")
    return out.getvalue()


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _bomb_header(width: int, height: int) -> bytes:
    """A valid PNG signature and IHDR claiming ``width`` x ``height``, with almost no data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def test_a_plain_png_comes_back_as_rgb_png_with_its_size() -> None:
    cleaned = clean(_png(120, 80))
    assert (cleaned.width, cleaned.height) == (120, 80)
    assert sniff(cleaned.png) == "png"
    assert Image.open(io.BytesIO(cleaned.png)).mode == "RGB"


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (_bomb_header(20000, 20000), "megapixels"),
        (_png(300, 300)[:-40], "damaged"),  # truncated before its last chunk
        (_png(1, 1), "larger"),
        (b"GIF89a" + b"\x00" * 40, "GIF"),
        (b"%PDF-1.7 not a picture at all", "isn't a picture"),
        (b"", "isn't a picture"),
    ],
    ids=["bomb-20000x20000", "truncated", "1x1", "gif", "pdf", "empty"],
)
def test_hostile_uploads_are_refused_with_a_reason(data: bytes, says: str) -> None:
    with pytest.raises(BadImage) as refused:
        clean(data)
    assert says in str(refused.value)


def test_a_bomb_is_refused_from_its_header_alone() -> None:
    # Claiming just over the limit: had the pixels been decoded, this would take ~200 MB.
    side = int(MAX_PIXELS**0.5) + 10
    with pytest.raises(BadImage, match="megapixels"):
        clean(_bomb_header(side, side))


def test_a_file_over_the_byte_limit_is_refused_before_it_is_opened() -> None:
    with pytest.raises(BadImage, match="MB"):
        clean(_png(64, 64), max_bytes=100)


def test_exif_orientation_is_applied_then_every_tag_is_dropped() -> None:
    # A phone photo stored sideways: 60 wide, 40 high, with "rotate 90" (orientation 6) and GPS.
    pixels = np.zeros((40, 60, 3), np.uint8)
    pixels[:, :30] = (255, 0, 0)  # left half red
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x8825] = {1: "N", 2: (51.0, 30.0, 0.0)}
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG", exif=exif, quality=95)
    cleaned = clean(out.getvalue())
    assert (cleaned.width, cleaned.height) == (40, 60)  # turned upright
    image = Image.open(io.BytesIO(cleaned.png))
    assert not image.getexif() and "exif" not in image.info
    top = np.asarray(image)[:10].reshape(-1, 3).mean(axis=0)
    assert top[0] > 200 and top[1] < 60  # the red half is on top after rotating 90 degrees


def test_webp_is_accepted_and_the_same_picture_hashes_the_same() -> None:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (1, 2, 3)).save(out, "WEBP", lossless=True)
    a, b = clean(out.getvalue()), clean(out.getvalue())
    assert a.sha256 == b.sha256 and (a.width, a.height) == (64, 48)


def test_fit_covers_the_frame_without_bars() -> None:
    tall = Image.new("RGB", (50, 200), (0, 0, 255))
    framed = fit(tall, 64, 32)
    assert framed.size == (64, 32)
    assert np.asarray(framed)[..., 2].min() > 200  # no black bars anywhere
