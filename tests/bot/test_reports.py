"""Reports through the console: members flag a job, moderators of that server see it with its
prompt; another server's reports stay in that server."""

from __future__ import annotations

from engine.journal import Journal
from engine.request import build_request
from tests.bot.console_session import console_session


async def test_reports_go_to_the_moderators_of_the_clips_server(make_settings) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings()
    async with console_session(settings) as session:
        job = (await session.answer_to("alice: a moonlit harbour --frames 2"))["job"]
        assert (await session.answer_to(f"bob: /report {job}"))["event"] == "info"
        assert (await session.answer_to(f"carol: /report {job}"))["event"] == "info"
        other = Journal(settings.resolved_db_path)
        try:
            request = build_request("another server's cat", model="tiny")
            elsewhere, _ = other.enqueue_if(
                request, lambda _j: None, user_id="dave", guild_id="g2", adapter="test"
            )
            other.report(elsewhere.id, by="erin", guild_id="g2", user_id="dave")
        finally:
            other.close()

        assert (await session.answer_to("bob: /mod reports"))["reason"] == "not_moderator"
        review = await session.answer_to("mod: /mod reports")
    [entry] = review["reports"]
    assert (entry["job_id"], entry["reports"], entry["prompt"]) == (job, 2, "a moonlit harbour")
    assert "another server's cat" not in review["text"]
