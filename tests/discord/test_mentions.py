"""A prompt full of pings pings nobody; only the requester is pinged, by the final channel delivery."""

from __future__ import annotations

from typing import Any

from tests.discord.conftest import World, bot_requests, job_id_of


def message_writes(requests: list[Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """Every request that creates or edits a message: (method, path, its JSON body)."""
    out = []
    for r in requests:
        body = r.json if isinstance(r.json, dict) else {}
        if r.path.endswith("/callback"):  # an interaction response carries the message in `data`
            out.append((r.method, r.path, body.get("data") or {}))
        elif r.method in ("POST", "PATCH") and ("/messages" in r.path or r.path.startswith("/webhooks/")):
            out.append((r.method, r.path, body))
    return out


def assert_pings_at_most(writes: list[tuple[str, str, dict[str, Any]]], user_id: int | None) -> None:
    allowed_users = [] if user_id is None else [str(user_id)]
    for method, path, body in writes:
        mentions = body.get("allowed_mentions")
        assert mentions is not None, f"{method} {path} sent no allowed_mentions: {body.get('content')!r}"
        assert mentions.get("parse") == [], (method, path, mentions)
        assert not mentions.get("roles"), (method, path, mentions)
        assert [str(u) for u in mentions.get("users", [])] in ([], allowed_users), (method, path, mentions)


async def test_mention_prompt_with_everyone_here_and_a_role_pings_only_the_requester(world: World) -> None:
    start = len(world.env.http_requests)
    pings = f"@everyone @here {world.fans_role.mention} {world.alice.mention}"
    request = await world.bob.send(world.channel, f"{world.bot.user.mention} {pings} dancing --frames 2")
    status = world.channel.last_message
    assert status.reference.message_id == request.id
    job_id = job_id_of(status)
    clip = await world.wait_for_clip(job_id)
    assert clip.via == "channel"
    # The pings are part of the prompt the bot echoes back (escaped), so they were a real risk.
    for ping in ("@everyone", "@here", str(world.fans_role.id), str(world.alice.id)):
        assert ping in clip.job.request.prompt, clip.job.request.prompt

    writes = message_writes(bot_requests(world.env, start))
    # The status reply, its progress edits, the clip and the final status edit.
    assert len(writes) >= 3, writes
    assert_pings_at_most(writes, world.bob.id)
    # The clip itself pings bob (a reply to his request), and nobody else.
    (delivery,) = [w for w in writes if w[0] == "POST" and w[2].get("nonce") == f"promptreel-{job_id}"]
    assert [str(u) for u in delivery[2]["allowed_mentions"]["users"]] == [str(world.bob.id)]
    assert delivery[2]["allowed_mentions"].get("replied_user") is True
    # Every other write pings no one at all.
    for method, path, body in writes:
        if body is not delivery[2]:
            assert not body["allowed_mentions"].get("users"), (method, path, body)
            assert not body["allowed_mentions"].get("replied_user"), (method, path, body)
    # And the bot's messages never notify @everyone.
    assert not [m for m in world.channel.history() if m.author.id == world.bot.user.id and m.mention_everyone]


async def test_slash_prompt_with_pings_pings_nobody(world: World) -> None:
    start = len(world.env.http_requests)
    prompt = f"@everyone @here {world.fans_role.mention} {world.alice.mention} dancing"
    result = await world.bob.slash(world.channel, "video", prompt=prompt, frames=2)
    clip = await world.wait_for_clip(job_id_of(result.response))
    assert clip.via == "interaction"
    assert "@everyone" in clip.job.request.prompt
    assert "@everyone" not in clip.message.content and "@here" not in clip.message.content

    writes = message_writes(bot_requests(world.env, start))
    assert any(path.endswith("/callback") for _, path, _ in writes)
    # An edited interaction response cannot ping anyone: even the requester gets no ping there.
    assert_pings_at_most(writes, None)
    assert not clip.message.mention_everyone
