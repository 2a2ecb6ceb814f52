"""Content credentials over the wire: a clip Discord refused as too large (413) is re-encoded
smaller and signed again, so the file that is finally accepted is the file that is signed.

The real client against the loopback fake Discord, the real tiny model, real ffmpeg and real
c2pa signing with an authority made by `credentials init`'s own function.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.credentials import check_credentials, make_authority
from tests.discord_transport.test_bot_transport import (
    CALLBACK,
    RENDER_TIMEOUT,
    WEBHOOK_EDIT,
    clip_bytes,
    decode_upload,
    job_id_from_components,
    running_bot,
    wait_idle,
    wait_job,
    with_file,
)
from tests.fakediscord import FakeDiscord


async def test_a_clip_shrunk_after_a_413_is_signed_again_and_fits(
    fake_discord: FakeDiscord, make_settings: Callable[..., Any], tmp_path: Path
) -> None:
    fake = fake_discord
    made = make_authority(tmp_path / "creds")
    trust = made.ca.read_text()
    settings = make_settings(c2pa_cert=made.cert, c2pa_key=made.key, bot_name="Wire Bot")
    options = {"prompt": "static on an old television", "frames": 24, "aspect": "16:9", "seed": 42}
    async with running_bot(fake, settings) as bot:
        # 1. This exact render's size (same prompt, seed and options render the same).
        await fake.dispatch_command("video", options)
        first = await fake.wait_for_request(
            WEBHOOK_EDIT, predicate=with_file, ok=True, timeout=RENDER_TIMEOUT
        )
        await wait_idle(bot)
        full_size = first.files[0].size

        # 2. Again, with Discord's real limit now below it: the first upload gets a 413.
        mark = fake.mark()
        await fake.dispatch_command("video", options)
        limit = int(full_size * 0.8)
        fake.upload_limit = limit
        callback = await fake.wait_for_request(CALLBACK, since=mark)
        job_id = job_id_from_components(callback.json["data"]["components"])
        job = await wait_job(bot, job_id, lambda j: j.delivery in ("sent", "failed"), RENDER_TIMEOUT)
        await wait_idle(bot)

    uploads = fake.find_requests(WEBHOOK_EDIT, since=mark, predicate=with_file)
    statuses = [r.status for r in uploads]
    assert statuses[0] == 413 and statuses[-1] == 200, statuses
    rendered = tmp_path / "rendered.mp4"
    rendered.write_bytes(clip_bytes(job))
    assert check_credentials(rendered, trust).kind == "trusted"  # the worker signed the render

    accepted = tmp_path / "accepted.mp4"
    accepted.write_bytes(uploads[-1].files[0].data)
    assert accepted.stat().st_size <= limit  # the manifest's room was left inside the limit
    verdict = check_credentials(accepted, trust)
    assert verdict.kind == "trusted", verdict  # a new file, with credentials of its own
    assert verdict.facts == {"preset": "tiny", "seed": 42, "steps": job.request.steps, "bot": "Wire Bot"}
    assert accepted.read_bytes() != rendered.read_bytes()
    assert len(decode_upload(accepted.read_bytes(), tmp_path)[0]) == 24
