"""What a surface hands the core (`Requester`) and what it gets back (`Answer`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Requester:
    """Who asked, and where: the identity every check and reply is keyed on.

    Three tiers: a member; a moderator of the server they ask in (`is_mod`: console `--mods`,
    Discord Manage Server or the server's moderator role); an owner of the bot (`is_owner`:
    `PROMPTREEL_OWNER_IDS`, console `--owners`), who may act on every server.
    """

    user_id: str
    user_name: str
    guild_id: str | None = None
    channel_id: str | None = None
    is_mod: bool = False
    is_owner: bool = False
    # The member's role ids where the surface has roles (Discord), for quota and priority roles.
    roles: tuple[str, ...] = ()
    # The adapter that answers this person (None: the core's first). A Discord user and a
    # Bluesky handle are different people: social adapters prefix their ids with the network.
    surface: str | None = None
    # The language to answer in, when the surface knows it (a Discord member's app language,
    # resolved with `Core.language_of`); stored with the job so its later messages speak it too.
    language: str | None = None

    def moderates(self, guild_id: str | None) -> bool:
        """May act as a moderator on what belongs to `guild_id` (None: DMs, the whole bot)?

        A moderator's power ends at their own server: whoever invites the bot to a server of
        their own holds Manage Server there.
        """
        if self.is_owner:
            return True
        return self.is_mod and guild_id is not None and guild_id == self.guild_id

    def sees_job(self, job: Any) -> bool:
        """`sees`, and a job started from an uploaded picture is its requester's alone: the
        picture may show someone, and they sent it to the bot, not to the server."""
        if job.request.image and job.user_id != self.user_id:
            return False
        return self.sees(job.guild_id, job.user_id)

    def sees(self, job_guild_id: str | None, job_user_id: str) -> bool:
        """May see a job: its requester; for a server job, anyone in that server and the owners
        (who moderate every server). A DM job is its requester's alone."""
        if job_user_id == self.user_id:
            return True
        if job_guild_id is None:
            return False
        return self.is_owner or job_guild_id == self.guild_id


@dataclass(frozen=True)
class Answer:
    """The one reply an input gets: `queued`, `refused` or `info`."""

    event: str
    text: str
    job_id: int | None = None
    position: int | None = None
    eta_s: float | None = None
    reason: str | None = None
    category: str | None = None
    retry_after_s: float | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def fields(self) -> dict[str, Any]:
        """The machine-readable part, without empty values."""
        out = {
            "job": self.job_id,
            "position": self.position,
            "eta_s": None if self.eta_s is None else round(self.eta_s, 1),
            "reason": self.reason,
            "category": self.category,
            "retry_after_s": self.retry_after_s,
        }
        return {k: v for k, v in out.items() if v is not None} | self.data


def refused(reason: str, text: str, **kw: Any) -> Answer:
    return Answer("refused", text, reason=reason, **kw)


def info(text: str, **data: Any) -> Answer:
    return Answer("info", text, data=data)
