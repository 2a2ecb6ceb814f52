"""Big clips through an S3-compatible bucket (moto's server on loopback, the real boto3)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from engine.farm.protocol import FarmConfigError
from engine.farm.shared import Bucket, SharedPlace
from engine.journal import JobState, Journal
from engine.settings import EngineSettings
from tests.farm.bots import farm_bot
from tests.farm.conftest import S3Server
from tests.farm.test_worker import _payload, _worker
from tests.helpers import decode_video, isolated_settings


def _place(tmp_path: Path, url: str, endpoint: str, **values: Any) -> SharedPlace:
    settings = isolated_settings(
        EngineSettings, data_dir=tmp_path, farm_shared_url=url, farm_s3_endpoint=endpoint, **values
    )
    return SharedPlace(settings)


def test_a_big_clip_goes_to_the_bucket_and_the_bot_takes_it_out(
    tmp_path: Path,
    tiny_models_dir: Path,
    redis_url: str,
    tiny_renderer: Any,
    s3_server: S3Server,
    s3_bucket: str,
) -> None:
    url = f"s3://{s3_bucket}/farm"
    worker = _worker(
        tmp_path, tiny_models_dir, redis_url, tiny_renderer,
        farm_shared_url=url, farm_s3_endpoint=s3_server.endpoint, farm_inline_max_bytes=100,
    )  # fmt: skip
    out = worker._render(_payload(8, frames=3, width=32, height=32, steps=2))
    assert out["status"] == "done" and "clip" not in out and out["clip_url"].startswith(f"{url}/")
    assert s3_server.keys(s3_bucket) == [out["clip_url"].removeprefix(f"s3://{s3_bucket}/")]
    place = _place(tmp_path, url, s3_server.endpoint)
    assert place.owns(out)
    dest = tmp_path / "clip.mp4"
    place.take(out, dest)
    frames, _ = decode_video(dest)
    assert frames.shape == (3, 32, 32, 3)
    assert s3_server.keys(s3_bucket) == []  # taken out: nothing is left in the bucket


def test_the_bot_takes_nothing_from_outside_its_bucket_and_prefix(
    tmp_path: Path, s3_server: S3Server, s3_bucket: str
) -> None:
    place = _place(tmp_path, f"s3://{s3_bucket}/farm", s3_server.endpoint)
    s3_server.client().put_object(Bucket=s3_bucket, Key="private/keys.mp4", Body=b"the owner's")
    for url in (
        f"s3://{s3_bucket}/private/keys.mp4",  # the right bucket, another prefix
        f"s3://other-{s3_bucket}/farm/w1-job-1-a1.mp4",  # another bucket
        f"s3://{s3_bucket}/farm/../private/keys.mp4",  # climbing out
        f"s3://{s3_bucket}/farm/sub/w1-job-1-a1.mp4",  # nested
        f"s3://{s3_bucket}/farm/w1-job-1-a1.txt",  # not a clip
    ):
        result = {"status": "done", "clip_url": url}
        assert not place.owns(result), url
        place.discard(result)  # a refused result's clip goes only if it is ours
    assert not place.owns({"clip_path": str(tmp_path / "x.mp4")})  # no folder configured
    assert s3_server.keys(s3_bucket) == ["private/keys.mp4"]


def test_a_bucket_url_that_is_not_s3_is_refused_in_one_line() -> None:
    with pytest.raises(FarmConfigError) as refused:
        Bucket("https://example.com/clips")
    assert "\n" not in str(refused.value) and "s3://bucket/prefix" in str(refused.value)


async def test_a_farm_clip_over_the_bound_reaches_the_member_through_the_bucket(
    make_settings, start_worker, s3_server: S3Server, s3_bucket: str
) -> None:
    """End to end, with every clip over the inline bound: the member gets it, the bucket empties."""
    url = f"s3://{s3_bucket}/farm"
    shared = {"farm_shared_url": url, "farm_s3_endpoint": s3_server.endpoint, "farm_inline_max_bytes": 100}
    start_worker(
        "w1",
        PROMPTREEL_FARM_SHARED_URL=url,
        PROMPTREEL_FARM_S3_ENDPOINT=s3_server.endpoint,
        PROMPTREEL_FARM_INLINE_MAX_BYTES="100",
        **S3Server.ENV,
    )
    settings = make_settings(**shared)
    async with farm_bot(settings) as bot:
        job = await bot.submit(steps=2, size=32, frames=3)
        await bot.wait_for({job})
    journal = Journal(settings.resolved_db_path)
    try:
        row = journal.get(job)
    finally:
        journal.close()
    assert row is not None and row.state == JobState.DELIVERED
    frames, _ = await asyncio.to_thread(decode_video, Path(row.clip_path))
    assert frames.shape == (3, 32, 32, 3)
    assert s3_server.keys(s3_bucket) == []


def test_a_refused_result_removes_a_clip_only_from_the_shared_folder(tmp_path: Path) -> None:
    """A stale result is refused and its clip discarded: never a file elsewhere that it names."""
    folder = tmp_path / "shared"
    folder.mkdir()
    place = SharedPlace(isolated_settings(EngineSettings, data_dir=tmp_path, farm_shared_dir=folder))
    secret = tmp_path / "secret.mp4"
    secret.write_bytes(b"the bot's own file")
    ours = folder / "w1-job-1-a1.mp4"
    ours.write_bytes(b"a late clip")
    place.discard({"status": "done", "clip_path": str(secret)})
    place.discard({"status": "done", "clip_path": str(ours)})
    assert secret.read_bytes() == b"the bot's own file" and not ours.exists()
