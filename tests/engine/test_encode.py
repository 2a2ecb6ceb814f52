"""engine.encode against the real ffmpeg that imageio-ffmpeg ships; nothing is mocked.

Clips are decoded back with ffmpeg (through imageio-ffmpeg) rather than trusted from
EncodeResult, because the point is that Discord and browsers get a file they can play.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import PIL.Image
import pytest

from engine.encode import EncodeError, EncodeResult, encode_clip, read_metadata
from tests.helpers import decode_video


def moving_frames(n: int, height: int, width: int, *, noise: float = 8.0, seed: int = 0) -> np.ndarray:
    """A diagonal gradient sliding across the picture, plus noise so compression has work."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = (x[None] * 2 + y[None] + np.arange(n)[:, None, None] * 8) % 256
    rgb = np.stack([base, 255 - base, (base * 3) % 256], axis=-1).astype(np.float32)
    return np.clip(rgb + rng.normal(0.0, noise, rgb.shape), 0, 255).astype(np.uint8)


def top_level_boxes(path: Path) -> list[str]:
    data = path.read_bytes()
    boxes, pos = [], 0
    while pos + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if size == 1:
            size = struct.unpack(">Q", data[pos + 8 : pos + 16])[0]
        elif size == 0:
            size = len(data) - pos
        assert size >= 8, f"corrupt box at {pos}"
        boxes.append(kind.decode("latin-1"))
        pos += size
    assert pos == len(data), "boxes do not add up to the file size"
    return boxes


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


@pytest.fixture(scope="module")
def noisy_256() -> np.ndarray:
    """Heavy noise: hundreds of KB at default quality, so any max_bytes below that bites."""
    return moving_frames(8, 256, 256, noise=60.0, seed=1)


def test_mp4_is_h264_yuv420p_faststart_and_decodes(tmp_path: Path, capfd: pytest.CaptureFixture) -> None:
    frames = moving_frames(16, 64, 64)
    path = tmp_path / "new" / "dir" / "clip.mp4"  # parent does not exist yet

    result = encode_clip(frames, path, fps=8)

    assert result == EncodeResult(
        path=path,
        size_bytes=path.stat().st_size,
        width=64,
        height=64,
        frames=16,
        fps=8,
        fmt="mp4",
        bitrate_kbps=None,
        scale=1.0,
    )
    decoded, meta = decode_video(path)
    assert meta["codec"] == "h264"
    assert meta["pix_fmt"].startswith("yuv420p")
    assert "bt709" in meta["pix_fmt"]
    assert meta["size"] == (64, 64)
    assert decoded.shape == (16, 64, 64, 3)
    # Same picture, colours in the right channels: lossy, but far from a swapped or shifted image.
    assert np.abs(decoded.astype(int) - frames.astype(int)).mean() < 10
    boxes = top_level_boxes(path)
    assert boxes.index("moov") < boxes.index("mdat"), boxes
    assert leftovers(path.parent) == ["clip.mp4"]
    assert capfd.readouterr().out == ""


def test_odd_size_is_padded_with_edge_pixels(tmp_path: Path) -> None:
    frames = moving_frames(8, 33, 65, noise=0.0)
    frames[:, :, -1] = [250, 20, 20]  # a red last column and a blue last row, to find again
    frames[:, -1, :] = [20, 20, 250]
    path = tmp_path / "odd.mp4"

    result = encode_clip(frames, path, fps=12)

    assert (result.width, result.height, result.scale) == (66, 34, 1.0)
    decoded, meta = decode_video(path)
    assert meta["size"] == (66, 34)
    assert decoded.shape == (8, 34, 66, 3)
    assert np.abs(decoded[:, :33, :65].astype(int) - frames.astype(int)).mean() < 10
    # The added column repeats the red edge and the added row the blue one; no black bars.
    assert decoded[:, 2:31, 65].mean(axis=(0, 1)) == pytest.approx([250, 20, 20], abs=25)
    assert decoded[:, 33, 2:63].mean(axis=(0, 1)) == pytest.approx([20, 20, 250], abs=25)


def test_float_frames_are_scaled_and_clipped(tmp_path: Path) -> None:
    frames = moving_frames(8, 64, 64, noise=0.0)
    as_float = frames.astype(np.float64) / 255.0
    as_float[:, :8, :8] = 1.7  # samplers overshoot; must clip to white, not wrap around
    as_float[:, -8:, -8:] = -0.4
    path = tmp_path / "float.mp4"

    result = encode_clip(as_float, path, fps=8)

    decoded, _ = decode_video(path)
    assert result.frames == decoded.shape[0] == 8
    assert decoded[:, 2:6, 2:6].mean() > 235
    assert decoded[:, -6:-2, -6:-2].mean() < 20
    middle = (slice(None), slice(16, 48), slice(16, 48))
    assert np.abs(decoded[middle].astype(int) - frames[middle].astype(int)).mean() < 10


def test_single_frame_clip(tmp_path: Path) -> None:
    result = encode_clip(moving_frames(1, 32, 48), tmp_path / "one.mp4", fps=24)

    decoded, _ = decode_video(result.path)
    assert decoded.shape == (1, 32, 48, 3)


@pytest.mark.parametrize("fmt", ["gif", "webm"])
def test_gif_and_webm_decode_at_the_asked_size(tmp_path: Path, fmt: str) -> None:
    frames = moving_frames(10, 33, 65)
    path = tmp_path / f"clip.{fmt}"

    result = encode_clip(frames, path, fps=10, fmt=fmt)  # type: ignore[arg-type]

    decoded, meta = decode_video(path)
    # GIF has no even-size rule and keeps the exact size; VP9 in yuv420p is padded like H.264.
    expected = (65, 33) if fmt == "gif" else (66, 34)
    assert meta["size"] == (result.width, result.height) == expected
    assert decoded.shape[0] == result.frames == 10
    assert meta["codec"].rstrip(",") == {"gif": "gif", "webm": "vp9"}[fmt]
    if fmt == "webm":
        assert meta["pix_fmt"].startswith("yuv420p")
    assert np.abs(decoded[:, :33, :65].astype(int) - frames.astype(int)).mean() < 20
    assert result.size_bytes == path.stat().st_size
    assert leftovers(tmp_path) == [path.name]


def test_max_bytes_lowers_the_bitrate_first(tmp_path: Path, noisy_256: np.ndarray) -> None:
    limit = 40_000  # default quality gives ~270 KB

    result = encode_clip(noisy_256, tmp_path / "cut.mp4", fps=8, max_bytes=limit)

    assert result.size_bytes == result.path.stat().st_size <= limit
    # A bitrate is only set once the default-quality encode has been found too big.
    assert result.bitrate_kbps is not None and result.bitrate_kbps > 0
    assert (result.width, result.height, result.scale) == (256, 256, 1.0)
    decoded, meta = decode_video(result.path)
    assert meta["size"] == (256, 256)
    assert decoded.shape[0] == 8


def test_max_bytes_downscales_when_bitrate_is_not_enough(tmp_path: Path, noisy_256: np.ndarray) -> None:
    limit = 3_000
    path = tmp_path / "small.mp4"

    result = encode_clip(noisy_256, path, fps=8, max_bytes=limit)

    assert result.size_bytes == path.stat().st_size <= limit
    assert result.scale < 1.0
    assert result.bitrate_kbps is not None
    assert result.width < 256 and result.width % 2 == 0 and result.height % 2 == 0
    assert min(result.width, result.height) >= 16
    decoded, meta = decode_video(path)
    assert meta["codec"] == "h264"
    assert meta["size"] == (result.width, result.height)
    assert decoded.shape[0] == 8
    assert leftovers(tmp_path) == ["small.mp4"]


def test_max_bytes_is_honoured_for_webm(tmp_path: Path) -> None:
    frames = moving_frames(8, 64, 64, noise=60.0, seed=2)
    limit = 8_000  # default quality gives ~20 KB

    result = encode_clip(frames, tmp_path / "fit.webm", fps=8, fmt="webm", max_bytes=limit)

    assert result.size_bytes == result.path.stat().st_size <= limit
    assert result.bitrate_kbps is not None
    decoded, meta = decode_video(result.path)
    assert meta["codec"] == "vp9"
    assert decoded.shape == (8, result.height, result.width, 3)


def test_max_bytes_is_honoured_for_gif(tmp_path: Path) -> None:
    frames = moving_frames(8, 64, 64, noise=60.0, seed=2)
    unlimited = encode_clip(frames, tmp_path / "full.gif", fps=8, fmt="gif")
    limit = unlimited.size_bytes // 2

    result = encode_clip(frames, tmp_path / "fit.gif", fps=8, fmt="gif", max_bytes=limit)

    assert result.size_bytes == result.path.stat().st_size <= limit
    assert result.bitrate_kbps is None  # GIF has no bitrate; palette size and scale are the knobs
    decoded, _ = decode_video(result.path)
    assert decoded.shape == (8, result.height, result.width, 3)


def test_impossible_target_raises_and_leaves_nothing(tmp_path: Path) -> None:
    frames = moving_frames(8, 64, 64, noise=40.0)
    path = tmp_path / "never.mp4"

    with pytest.raises(EncodeError, match=r"could not be made smaller than 500 bytes"):
        encode_clip(frames, path, fps=8, max_bytes=500, metadata={"title": "x"})

    assert not path.exists()
    assert leftovers(tmp_path) == []


def test_failed_fit_keeps_an_existing_clip_untouched(tmp_path: Path) -> None:
    path = tmp_path / "clip.gif"
    path.write_bytes(b"the previous clip")

    with pytest.raises(EncodeError, match="smaller than"):
        encode_clip(moving_frames(8, 64, 64, noise=40.0), path, fps=8, fmt="gif", max_bytes=500)

    assert path.read_bytes() == b"the previous clip"
    assert leftovers(tmp_path) == ["clip.gif"]


def test_failure_after_encoding_leaves_no_temp_file(tmp_path: Path) -> None:
    blocker = tmp_path / "taken.mp4"
    blocker.mkdir()  # the final rename onto a directory fails, after ffmpeg has written

    with pytest.raises(OSError):
        encode_clip(moving_frames(4, 32, 32), blocker, fps=8)

    assert leftovers(tmp_path) == ["taken.mp4"]
    assert blocker.is_dir() and not any(blocker.iterdir())


TRICKY = {
    "title": 'A "corgi" surfing — über die Welle 🌊\nline two; #not a comment = really \\ backslash',
    "comment": "promptreel model=tiny seed=3",
    "promptreel_seed": "3",
    "long": "0123456789" * 200,  # 2000 chars
    "quote": "it's a -metadata trap=1 '$(rm -rf ~)' `x`",
}


@pytest.mark.parametrize("fmt", ["mp4", "webm", "gif"])
def test_metadata_round_trips(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"meta.{fmt}"
    metadata = {**TRICKY, "Promptreel_Model": "tiny"}  # mixed-case key comes back lower-case

    encode_clip(moving_frames(4, 32, 32), path, fps=8, fmt=fmt, metadata=metadata)  # type: ignore[arg-type]

    found = read_metadata(path)
    for key, value in TRICKY.items():
        assert found.get(key) == value, key
    assert found.get("promptreel_model") == "tiny"
    decoded, _ = decode_video(path)  # the metadata must not have damaged the clip
    assert decoded.shape == (4, 32, 32, 3)
    if fmt == "gif":  # the comment is spliced in by hand: a second, independent GIF reader agrees
        with PIL.Image.open(path) as image:
            assert image.n_frames == 4
            assert image.info["comment"].startswith(b";FFMETADATA1")
            assert image.info.get("loop") == 0


def test_unsafe_metadata_values_are_cleaned_not_fatal(tmp_path: Path) -> None:
    path = tmp_path / "meta.mp4"
    metadata = {
        "title": "p" * 10_000,
        "comment": "nul\x00 and bell\x07 gone\r\nCRLF kept as a newline",
        "empty": "",
    }

    encode_clip(moving_frames(2, 16, 16), path, fps=8, metadata=metadata)

    found = read_metadata(path)
    assert found["title"] == "p" * 3999 + "…"  # cut to 4000 characters, the last an ellipsis
    assert found["comment"] == "nul and bell gone\nCRLF kept as a newline"
    assert "empty" not in found


@pytest.mark.parametrize("key", ["bad=key", "-y", "", "spa ce", "ünï"])
def test_invalid_metadata_keys_are_refused_before_encoding(tmp_path: Path, key: str) -> None:
    with pytest.raises(ValueError, match="metadata key"):
        encode_clip(moving_frames(2, 16, 16), tmp_path / "k.mp4", fps=8, metadata={key: "v"})
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize(
    ("frames", "kwargs", "error"),
    [
        (np.zeros((4, 16, 16), np.uint8), {}, ValueError),
        (np.zeros((4, 16, 16, 4), np.uint8), {}, ValueError),
        (np.zeros((0, 16, 16, 3), np.uint8), {}, ValueError),
        (np.zeros((4, 16, 16, 3), np.int16), {}, TypeError),
        (np.zeros((4, 16, 16, 3), np.uint8), {"fps": 0}, ValueError),
        (np.zeros((4, 16, 16, 3), np.uint8), {"fmt": "avi"}, ValueError),
        (np.zeros((4, 16, 16, 3), np.uint8), {"max_bytes": 0}, ValueError),
    ],
)
def test_caller_bugs_are_not_encode_errors(
    tmp_path: Path, frames: np.ndarray, kwargs: dict, error: type[Exception]
) -> None:
    with pytest.raises(error):
        encode_clip(frames, tmp_path / "bad.mp4", **{"fps": 8, **kwargs})
    assert leftovers(tmp_path) == []


def test_read_metadata_of_a_non_clip_is_a_readable_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 10)

    with pytest.raises(EncodeError, match="could not be read"):
        read_metadata(junk)
