"""/verify inside a simulated Discord: the real bot signs what it delivers, and /verify reads the
credentials of an attachment back and recognises the bot's own clips by their fingerprint, even
after a re-encode stripped the credentials. The authority is made by `credentials init`'s own
function; signing, reading and re-encoding are real."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import imageio_ffmpeg
import numpy as np
import pytest

from bot.config import Settings
from engine.credentials import Authority, make_authority
from engine.encode import encode_clip
from tests.discord.conftest import World, job_id_of


@pytest.fixture(scope="module")
def authority(tmp_path_factory: pytest.TempPathFactory) -> Authority:
    return make_authority(tmp_path_factory.mktemp("creds"))


@pytest.fixture
def settings(
    request: pytest.FixtureRequest, make_settings: Callable[..., Settings], authority: Authority
) -> Settings:
    """The bot of these tests signs with the test authority and trusts it (marker values win)."""
    marker = request.node.get_closest_marker("promptreel")
    values: dict[str, Any] = {
        "c2pa_cert": authority.cert,
        "c2pa_key": authority.key,
        "c2pa_trust": authority.ca,
    }
    return make_settings(**{**values, **(marker.kwargs if marker else {})})


def reencoded(data: bytes, tmp_path: Path) -> bytes:
    """The clip as a social network would pass it on: half the size, a much higher CRF, no boxes."""
    src, dst = tmp_path / "in.mp4", tmp_path / "out.mp4"
    src.write_bytes(data)
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-i", str(src),
         "-vf", "scale=trunc(iw/4)*2:trunc(ih/4)*2", "-c:v", "libx264", "-crf", "32",
         "-map_metadata", "-1", str(dst)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return dst.read_bytes()


async def verify(world: World, who: Any, data: bytes) -> str:
    result = await who.slash(world.channel, "verify", video=("clip.mp4", data))
    assert result.acknowledged and result.ephemeral  # only the asker sees what was checked
    return str(result.response.content)


async def test_verify_reads_credentials_and_recognises_the_bots_clips(world: World, tmp_path: Path) -> None:
    made = await world.alice.slash(
        world.channel, "video", prompt="a lighthouse at dusk", frames=16, seed=5, aspect="16:9"
    )
    job_id = job_id_of(made.response)
    clip = await world.wait_for_clip(job_id)

    answer = await verify(world, world.bob, clip.data)
    assert answer.startswith("✅ **Trusted**") and "seed 5" in answer, answer
    assert f"job {job_id}." in answer

    copy = reencoded(clip.data, tmp_path)
    answer = await verify(world, world.bob, copy)
    assert answer.startswith("**No content credentials**"), answer
    assert f"It matches a video this bot made: job {job_id}." in answer

    altered = bytearray(clip.data)
    altered[altered.find(b"mdat") + 300] ^= 0x01
    answer = await verify(world, world.bob, bytes(altered))
    assert answer.startswith("⚠️ **Changed**") and "video data" in answer, answer

    stranger = tmp_path / "stranger.mp4"
    frames = np.random.default_rng(3).integers(0, 255, (16, 96, 128, 3), dtype=np.uint8)
    encode_clip(frames, stranger, fps=8)
    answer = await verify(world, world.bob, stranger.read_bytes())
    assert answer.startswith("**No content credentials**")
    assert "It doesn't match any video this bot made." in answer


@pytest.mark.promptreel(verify_max_bytes=2000)
async def test_verify_refuses_a_file_over_the_limit_unread(world: World) -> None:
    answer = await verify(world, world.bob, b"\0" * 2001)
    assert answer == "That file is too large to check here (the limit is 2 KB)."
    assert await verify(world, world.bob, b"\0" * 100) == (
        "**No content credentials** in this file.\nIt doesn't match any video this bot made."
    )
