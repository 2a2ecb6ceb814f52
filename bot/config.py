"""All settings, read from the environment and `.env` in one place (see `.env.example`).

The chat side's settings extend the engine's, so one `.env` configures the whole bot. Values
here are defaults for every guild; moderators override the guild ones with `/mod limit`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator

from engine.settings import EngineSettings


class Settings(EngineSettings):
    # model_config (env prefix PROMPTREEL_, the .env file) is inherited from EngineSettings.

    discord_token: SecretStr | None = Field(
        None, validation_alias=AliasChoices("DISCORD_TOKEN", "PROMPTREEL_DISCORD_TOKEN")
    )
    # Sync slash commands to this guild only (instant, for development) instead of globally.
    discord_dev_guild: int | None = Field(
        None, validation_alias=AliasChoices("DISCORD_DEV_GUILD", "PROMPTREEL_DISCORD_DEV_GUILD")
    )
    # Presets this bot offers besides `model`; each needs a worker that serves it.
    extra_models: list[str] = Field(default_factory=list)
    allow_dms: bool = True
    # The bot's owners (Discord user ids): they alone act on every server (bans everywhere,
    # the DM switch, the whole audit log). Empty: the Discord application's owner or team.
    owner_ids: list[str] = Field(default_factory=list)
    # Members pay for this bot (credits, paid roles, a subscription). /help then warns about every
    # offered model whose weights licence forbids or limits commercial use (CC-BY-NC-4.0, for one).
    charges_members: bool = False
    # Run a render worker inside the bot process. Turn off when separate workers serve the queue.
    in_process_worker: bool = True

    # Admission defaults; every guild can override them.
    rate_burst: int = Field(3, ge=1, description="prompts a user may send at once")
    rate_per_minute: float = Field(2.0, gt=0, description="prompts per minute a user regains")
    max_waiting_per_user: int = Field(3, ge=1)
    max_waiting_per_guild: int = Field(30, ge=1)
    # A "send me prompts" post can bring thousands of mentions: the queue stays fast at any
    # depth, so this is about how long anyone should wait, not about speed.
    max_queue: int = Field(1000, ge=1, description="all guilds together; beyond it the bot says busy")

    # Daily quotas (0: none); each server can override them with `/mod quota`. A member's quota
    # counts their videos in every server, DMs and every surface; a server's counts its own.
    daily_per_member: int = Field(0, ge=0)
    daily_per_server: int = Field(0, ge=0)
    # Role id -> that role's daily quota per member (the largest of a member's roles applies; 0: none).
    quota_roles: dict[str, int] = Field(default_factory=dict)
    # Role id -> queue priority for its members' jobs (higher first; default 0).
    priority_roles: dict[str, int] = Field(default_factory=dict)
    # No prompts taken between these times, e.g. "23:00-07:00"; empty: never quiet.
    quiet_hours: str = ""
    # The time zone of the quota day and of quiet hours (an IANA name, e.g. Europe/Paris).
    timezone: str = "UTC"

    # The language the bot speaks where nothing better is known (`bot.i18n.LANGUAGES`): the
    # console, and servers whose moderators chose none with `/mod language`. A Discord member's
    # own app language comes first; a language without a catalogue falls back to English.
    language: Literal["en", "fr"] = "en"
    # Prompts that read as not English are translated into English for the model here (a
    # LibreTranslate-style POST /translate); empty: off, and the member gets a tip instead.
    translate_url: str = ""
    translate_api_key: SecretStr | None = None
    translate_timeout_seconds: float = Field(5.0, gt=0, le=60)

    # Days prompts, clips and their journal rows are kept, then deleted (the audit log stays);
    # 0 keeps them forever. Checked hourly by the bot.
    retention_days: float = Field(30.0, ge=0)

    # A reply being sent is held under a lease this long, renewed while the send goes on; another
    # bot process on the same journal takes it over only after it expired.
    delivery_lease_seconds: float = Field(30.0, gt=0)

    # The longest video an Extend chain may reach (seconds); owners may lower or raise it per
    # server up to 60 s with `/mod chain`.
    max_chain_seconds: float = Field(20.0, gt=0, le=60)

    # Discord throttles message edits; progress updates are spaced at least this far apart.
    status_edit_seconds: float = Field(3.0, ge=0.0)

    # The content policy's second layer (see README "Content policy layers"): the default for
    # every server that has not chosen with `/mod classifier`. off | hosted | local.
    classifier: Literal["off", "hosted", "local"] = "off"
    # When the classifier cannot answer: refuse the prompt (closed) or admit what the lists admit.
    classifier_fail_open: bool = False
    classifier_timeout_seconds: float = Field(5.0, gt=0, le=60)
    # The hosted layer: OpenAI's moderation endpoint, or anything that speaks its schema.
    moderation_api_key: SecretStr | None = None
    moderation_base_url: str = "https://api.openai.com/v1"
    moderation_model: str = "omni-moderation-latest"
    # The local layer: a transformers sequence-classification model, by hub id or folder.
    local_classifier: str | None = None
    local_classifier_threshold: float = Field(0.5, gt=0, lt=1)
    # Extra label -> category names for that model's labels (JSON object), e.g. {"S3": "minors"}.
    local_classifier_labels: dict[str, str] = Field(default_factory=dict)
    # The owner's HTTP server (`bot.http`): /healthz, /readyz, /metrics and the dashboard at /.
    # Off unless a port is set (0 picks a free one, for tests); loopback unless the host says so.
    http_port: int | None = Field(None, ge=0, le=65535)
    http_host: str = "127.0.0.1"
    # The dashboard's token; without one, only clients on this machine (loopback) may see it.
    dashboard_token: SecretStr | None = None
    # Log lines as JSON objects, one per line, for log shippers.
    log_json: bool = False
    # The largest attachment /verify downloads (bytes); bigger ones are refused unread.
    verify_max_bytes: int = Field(50 * 1024 * 1024, ge=1)

    @field_validator("quiet_hours")
    @classmethod
    def _quiet_hours_readable(cls, value: str) -> str:
        from bot.quota import parse_quiet_hours

        parse_quiet_hours(value)
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo

        try:
            ZoneInfo(value)
        except (KeyError, ValueError) as exc:  # ZoneInfoNotFoundError is a KeyError
            raise ValueError(f"unknown time zone {value!r}; use an IANA name such as Europe/Paris") from exc
        return value

    # --- surfaces ------------------------------------------------------------------------
    # What `python -m bot` serves, comma-separated: discord, bluesky, mastodon, x (one process,
    # one journal, one worker; each surface is started, retried and stopped on its own).
    surfaces: str = "discord"
    # Social networks: seconds between polls for mentions; a "queued, #N" reply before the clip
    # (off: on Bluesky and Mastodon an extra public post per prompt reads as noise).
    social_poll_seconds: float = Field(15.0, gt=0)
    social_status_replies: bool = False
    # How often waiting jobs' posts are checked for deletion (one request per waiting job).
    social_deleted_check_seconds: float = Field(60.0, ge=0)
    # Seconds to wait for a network to process an uploaded clip before trying again later.
    social_media_wait_seconds: float = Field(300.0, gt=0)
    # Seconds between checks of a clip the network is processing.
    social_media_poll_seconds: float = Field(2.0, gt=0)

    # Mastodon: the instance, and an access token with read:notifications, read:statuses,
    # write:media and write:statuses (Preferences > Development > New application).
    mastodon_base_url: str = "https://mastodon.social"
    mastodon_access_token: SecretStr | None = None

    # Bluesky: the account's handle and an app password (Settings > Privacy and security > App
    # passwords); the PDS to sign in to and the video service clips are uploaded through.
    bluesky_handle: str | None = None
    bluesky_app_password: SecretStr | None = None
    bluesky_base_url: str = "https://bsky.social"
    bluesky_video_url: str = "https://video.bsky.app"

    # X (optional, `x` in surfaces; every post is paid for): API v2 base URL and OAuth 1.0a user
    # tokens of the bot's account (developer portal > your app > Keys and tokens).
    x_base_url: str = "https://api.x.com"
    x_api_key: SecretStr | None = None
    x_api_secret: SecretStr | None = None
    x_access_token: SecretStr | None = None
    x_access_token_secret: SecretStr | None = None

    def surface_names(self) -> list[str]:
        """`surfaces` as a list, lower case, in the order given, without repeats."""
        names = [n.strip().lower() for n in self.surfaces.split(",") if n.strip()]
        return list(dict.fromkeys(names))

    @field_validator("owner_ids", mode="before")
    @classmethod
    def _ids_as_text(cls, value: Any) -> Any:
        """Discord ids are numbers in JSON; they are compared as text everywhere."""
        return [str(v) for v in value] if isinstance(value, list | tuple) else value
