"""A clip's metadata carries the prompt and seed only when it was made in a public place (a
server); one made by DM carries neither, since the file may travel on from the DM."""

from __future__ import annotations

from typing import Any

from engine.encode import read_metadata
from engine.journal import Journal
from engine.request import build_request
from tests.helpers import run_until_idle

PROMPT = "a secret garden at dawn"


def test_dm_clips_leave_out_the_prompt_and_seed(db: Journal, make_worker: Any) -> None:
    request = build_request(PROMPT, model="tiny", frames=2, steps=1, width=16, height=16, seed=4242)
    public, _ = db.enqueue_if(request, lambda _j: None, user_id="alice", guild_id="g1", adapter="test")
    private, _ = db.enqueue_if(request, lambda _j: None, user_id="alice", guild_id=None, adapter="test")
    run_until_idle(make_worker())
    shown = read_metadata(db.get(public.id).clip_path)
    hidden = read_metadata(db.get(private.id).clip_path)
    assert PROMPT in " ".join(shown.values()) and "4242" in " ".join(shown.values())
    assert PROMPT not in " ".join(hidden.values()) and "4242" not in " ".join(hidden.values())
    assert "tiny" in " ".join(hidden.values())  # the model is no secret
