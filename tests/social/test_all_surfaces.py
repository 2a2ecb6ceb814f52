"""`python -m bot` with Discord, Bluesky and Mastodon in one process: one journal, one worker.

The real entry point (`bot.serve.serve`, what `python -m bot` runs for several surfaces) with
the real discord.py client on `tests/fakediscord`, atproto on `fakebluesky` and Mastodon.py on
`fakemastodon`; each mention gets its clip on its own network, rendered by the one worker.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.serve import missing_settings, serve
from tests.fakediscord import FakeDiscord
from tests.helpers import decode_video
from tests.social.conftest import TINY_FLAGS
from tests.social.fakebluesky import BOT_HANDLE, PASSWORD, FakeBluesky
from tests.social.fakemastodon import FakeMastodon


async def test_discord_bluesky_and_mastodon_in_one_process(
    fake_discord: FakeDiscord,
    fake_bluesky: FakeBluesky,
    fake_mastodon: FakeMastodon,
    make_settings: Callable[..., Any],
    tmp_path: Path,
) -> None:
    settings = make_settings(
        surfaces="discord, bluesky ,mastodon",
        discord_token=fake_discord.token,
        status_edit_seconds=0,
        bluesky_handle=BOT_HANDLE,
        bluesky_app_password=PASSWORD,
        bluesky_base_url=fake_bluesky.url,
        bluesky_video_url=fake_bluesky.url,
        mastodon_base_url=fake_mastodon.url,
        mastodon_access_token="token",
    )
    assert missing_settings(settings) == []
    started: asyncio.Future[tuple[Any, Any]] = asyncio.get_running_loop().create_future()
    stop = asyncio.Event()
    toot = fake_mastodon.mention(fake_mastodon.account("alice"), f"a heron {TINY_FLAGS}")
    skeet = fake_bluesky.mention(fake_bluesky.account("bob.test"), f"a tulip {TINY_FLAGS}")
    with fake_discord.patch_discord():
        runner = asyncio.create_task(
            serve(settings, stop=stop, on_started=lambda c, b: started.set_result((c, b)))
        )
        try:
            core, bot = await asyncio.wait_for(started, 60)
            await asyncio.wait_for(bot.wait_until_ready(), 30)
            await fake_discord.dispatch_message(
                f"{fake_discord.mention(fake_discord.bot_user)} a canoe {TINY_FLAGS}",
                mentions=[fake_discord.bot_user],
            )
            upload = await fake_discord.wait_for_request(
                "POST /channels/{channel_id}/messages", predicate=lambda r: bool(r.files), timeout=60
            )
            [toot_reply] = await fake_mastodon.wait_for(
                lambda: [s for s in fake_mastodon.replies_to(toot["id"]) if s["media_attachments"]]
            )
            [skeet_reply] = await fake_bluesky.wait_for(
                lambda: [p for p in fake_bluesky.replies_to(skeet["uri"]) if p["record"].get("embed")]
            )
            await asyncio.wait_for(core.wait_idle(), 60)
            jobs = {j.adapter: j for j in await core.db.waiting(limit=10)} or {}
            by_surface = {
                name: await core.db.history(user, 5)
                for name, user in (
                    ("mastodon", "mastodon:" + toot["account"]["id"]),
                    ("bluesky", "bluesky:" + skeet["author"]["did"]),
                    ("discord", str(fake_discord.user.id)),
                )
            }
            assert core.runtime is not None and len(core.dispatchers) == 3
        finally:
            stop.set()
            assert await asyncio.wait_for(runner, 60) == 0
    assert jobs == {}
    assert {name: [j.adapter for j in js] for name, js in by_surface.items()} == {
        "mastodon": ["mastodon"], "bluesky": ["bluesky"], "discord": ["discord"],
    }  # fmt: skip
    (tmp_path / "discord.mp4").write_bytes(upload.files[0].data)
    assert decode_video(tmp_path / "discord.mp4")[0].shape == (3, 32, 32, 3)
    assert toot_reply["in_reply_to_id"] == toot["id"]
    assert skeet_reply["record"]["reply"]["parent"]["uri"] == skeet["uri"]
    assert fake_discord.client_errors == []


def test_missing_credentials_are_named_one_line_each(make_settings: Callable[..., Any]) -> None:
    lines = missing_settings(make_settings(surfaces="bluesky,mastodon,x,myspace", x_api_key="k"))
    assert len(lines) == 4
    assert "PROMPTREEL_BLUESKY_APP_PASSWORD" in lines[0]
    assert "PROMPTREEL_MASTODON_ACCESS_TOKEN" in lines[1]
    assert "PROMPTREEL_X_API_KEY" in lines[2]
    assert "myspace" in lines[3]
