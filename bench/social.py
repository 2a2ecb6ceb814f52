"""How fast the social surfaces take mentions in, and how long a mention waits for its clip:
`python bench/social.py`.

The real core with the Bluesky and Mastodon adapters (atproto and Mastodon.py, the real
clients) polls the loopback fakes from `tests/social` while the in-process worker renders the
tiny model (3 frames, 32x32, 1 step) on its thread, over one journal.

1. Intake: `--burst` mentions (half on each network, from 40 authors) appear at once, while
   the worker renders; measured from then until the journal has recorded a job for every one
   (`mentions/s`). Polls are every `--poll` seconds.
2. Latency: `--mentions` mentions from `--authors` authors appear at once; for each, from its
   appearance to the moment the fake received the clip reply (stamped when the fake answered
   the request that created it). p50 / p99 over all of them.

Both phases check jobs recorded = mentions admitted (limits are raised so all are admitted).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

FLAGS = "--frames 3 --steps 1 --width 32 --height 32"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


class Stamps:
    """When each mention's clip reply first appeared on its fake (checked on every request)."""

    def __init__(self, mastodon: Any, bluesky: Any) -> None:
        self.mastodon, self.bluesky = mastodon, bluesky
        self.at: dict[str, float] = {}

    def check(self, keys: list[str]) -> bool:
        now = time.perf_counter()
        for key in keys:
            if key in self.at:
                continue
            if key.startswith("at://"):
                found = any(p["record"].get("embed") for p in self.bluesky.replies_to(key))
            else:
                found = any(s["media_attachments"] for s in self.mastodon.replies_to(key))
            if found:
                self.at[key] = now
        return all(k in self.at for k in keys)

    async def wait(self, keys: list[str], timeout: float) -> None:  # noqa: ASYNC109
        async with asyncio.timeout(timeout):
            await asyncio.gather(
                self.mastodon.wait_for(lambda: self.check(keys), timeout),
                self.bluesky.wait_for(lambda: self.check(keys), timeout),
            )


async def total_jobs(core: Any) -> int:
    return sum((await core.db.stats())["states"].values())


async def run(models_dir: Path, data_dir: Path, args: argparse.Namespace) -> int:
    from bot.bluesky import BlueskyAdapter
    from bot.config import Settings
    from bot.core import Core
    from bot.mastodon import MastodonAdapter
    from tests.social.fakebluesky import BOT_HANDLE, PASSWORD, FakeBluesky
    from tests.social.fakemastodon import FakeMastodon

    mastodon, bluesky = FakeMastodon(), FakeBluesky()
    await mastodon.start()
    await bluesky.start()
    big = 10 * (args.burst + args.mentions)
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, data_dir=data_dir, models_dir=models_dir, model="tiny", offline=True, device="cpu",
        in_process_worker=True, rate_burst=big, rate_per_minute=6000.0, max_waiting_per_user=big,
        max_waiting_per_guild=big, max_queue=big, social_poll_seconds=args.poll,
        social_media_poll_seconds=0.02, social_deleted_check_seconds=3600.0,
        mastodon_base_url=mastodon.url, mastodon_access_token="token",
        bluesky_handle=BOT_HANDLE, bluesky_app_password=PASSWORD,
        bluesky_base_url=bluesky.url, bluesky_video_url=bluesky.url,
    )  # fmt: skip
    adapters = [MastodonAdapter(settings), BlueskyAdapter(settings)]
    core = Core(settings, adapters[0], also=adapters[1:])
    await core.start()
    async with asyncio.timeout(60):  # both have read once (and found nothing) before the burst
        while not all(a.polls for a in adapters):
            await core.dispatcher.changed(within=0.05)
    stamps = Stamps(mastodon, bluesky)
    ok = True
    try:
        m_people = [mastodon.account(f"m{i}") for i in range(40)]
        b_people = [bluesky.account(f"b{i}.test") for i in range(40)]

        def post(n: int, people: int, tag: str) -> tuple[list[str], dict[str, float]]:
            keys, born = [], {}
            for i in range(n):
                if i % 2 == 0:
                    s = mastodon.mention(m_people[(i // 2) % people], f"{tag} {i} {FLAGS}")
                    key = s["id"]
                else:
                    p = bluesky.mention(b_people[(i // 2) % people], f"{tag} {i} {FLAGS}")
                    key = p["uri"]
                keys.append(key)
                born[key] = time.perf_counter()
            return keys, born

        # 1. intake while rendering
        before = await total_jobs(core)
        t0 = time.perf_counter()
        keys, _ = post(args.burst, 40, "a burst")
        async with asyncio.timeout(300):
            while await total_jobs(core) < before + args.burst:
                await core.dispatcher.changed(within=0.01)
        taken = time.perf_counter() - t0
        rendered_meanwhile = (await core.db.stats())["renders"]
        recorded = await total_jobs(core) - before
        rate = args.burst / taken
        print(f"intake: {args.burst} mentions recorded in {taken:.2f} s = {rate:.0f} mentions/s "
              f"(poll every {args.poll} s; {rendered_meanwhile} clips rendered meanwhile)")  # fmt: skip
        ok &= recorded == args.burst
        await stamps.wait(keys, 900)
        await asyncio.wait_for(core.wait_idle(), 300)

        # 2. mention to reply
        before = await total_jobs(core)
        m_people[:] = m_people[: args.authors // 2]
        b_people[:] = b_people[: args.authors - args.authors // 2]
        keys, born = post(args.mentions, args.authors // 2, "a queue")
        await stamps.wait(keys, 900)
        waits = [stamps.at[k] - born[k] for k in keys]
        recorded = await total_jobs(core) - before
        print(f"latency: {args.mentions} mentions from {args.authors} authors: mention to clip reply "
              f"p50 {percentile(waits, 50):.2f} s, p99 {percentile(waits, 99):.2f} s, "
              f"max {max(waits):.2f} s")  # fmt: skip
        print(f"jobs recorded {recorded} = mentions admitted {args.mentions}: {recorded == args.mentions}")
        ok &= recorded == args.mentions
    finally:
        await core.close()
        await mastodon.stop()
        await bluesky.stop()
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--burst", type=int, default=200)
    parser.add_argument("--mentions", type=int, default=50)
    parser.add_argument("--authors", type=int, default=20)
    parser.add_argument("--poll", type=float, default=0.5)
    parser.add_argument("--models-dir", type=Path, help="reuse a models dir holding the tiny model")
    args = parser.parse_args()

    import torch

    from engine.tiny import ensure_tiny_model

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory(prefix="promptreel-bench-") as tmp:
        models_dir = args.models_dir or Path(tmp) / "models"
        ensure_tiny_model(models_dir / "tiny")
        return asyncio.run(run(models_dir, Path(tmp) / "data", args))


if __name__ == "__main__":
    sys.exit(main())
