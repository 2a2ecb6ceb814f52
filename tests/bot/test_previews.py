"""Live previews on the console, end to end: the real core, its worker thread, the tiny model.

What a script reading `python -m bot console --json` sees: `preview` events naming a picture
while the job renders, none once its clip is delivered, and no preview file left afterwards.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.bot.console_session import console_session

PROMPT = "alice: a lighthouse in a storm --frames 3 --steps 6 --width 64 --height 48"
PREVIEWS = {"preview_every_steps": 1, "preview_seconds": 0.0, "preview_max_cost": 50.0}


async def render(settings: Any) -> tuple[int, list[dict[str, Any]]]:
    async with console_session(settings) as session:
        job = (await session.answer_to(PROMPT))["job"]
        await asyncio.wait_for(session.core.wait_idle(), 60)
        events = await session.say("alice: /queue")
    return job, [e for e in events if e.get("job") == job]


async def test_previews_appear_while_rendering_and_stop_when_the_clip_arrives(
    make_settings: Callable[..., Any], tmp_path: Path
) -> None:
    settings = make_settings(in_process_worker=True, progress_interval_seconds=0.0, **PREVIEWS)
    job, events = await render(settings)
    kinds = [e["event"] for e in events]
    assert kinds[-1] == "delivered", kinds
    previews = [e for e in events if e["event"] == "preview"]
    # Steps 2 to 5 each bring a new picture (step 1 has no step time to weigh one by; the clip
    # follows the last), each told once, all before the clip.
    assert [e["step"] for e in previews] == [2, 3, 4, 5], kinds
    assert kinds.index("delivered") > max(i for i, k in enumerate(kinds) if k == "preview")
    folder = tmp_path / "clips" / "previews"
    for event in previews:
        path = Path(event["path"])
        assert path.parent == folder and path.suffix == ".jpg", event
        assert f"job {job}" in event["text"]
    assert len({e["path"] for e in previews}) == 4
    # The job is over: not one preview file is left.
    assert await asyncio.to_thread(lambda: list(folder.iterdir())) == []


async def test_no_previews_where_one_costs_more_than_a_step_may(make_settings: Callable[..., Any]) -> None:
    """The bound forced to 0 steps: the worker measures one preview, finds it too dear, shows none."""
    settings = make_settings(in_process_worker=True, **{**PREVIEWS, "preview_max_cost": 0.0})
    _, events = await render(settings)
    kinds = [e["event"] for e in events]
    assert "progress" in kinds and kinds[-1] == "delivered" and "preview" not in kinds, kinds
