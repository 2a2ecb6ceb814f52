"""Settings for the render side, read from the environment and `.env` in one place.

Every setting has an environment variable `PROMPTREEL_<NAME>`; `.env.example` lists them all.
The chat side extends this class (`bot.config.Settings`) so one `.env` configures everything.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class EngineSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="PROMPTREEL_",
        env_file=".env",
        env_file_encoding="utf-8",
        env_ignore_empty=True,
        extra="ignore",
    )

    data_dir: Path = Path("data")
    # Defaults derive from data_dir when left empty, so moving data_dir moves everything.
    db_path: Path | None = None
    clips_dir: Path | None = None
    # Pictures members start clips from, cleaned and stored under their hash.
    images_dir: Path | None = None
    models_dir: Path | None = None

    model: str = "tiny"
    # A local folder that replaces the preset's hub id (for offline machines).
    model_path: Path | None = None
    # Only use files already on disk; set when the machine has no hub access.
    offline: bool = False

    device: str = "auto"  # auto | cpu | cuda | cuda:1 | mps
    dtype: str = "auto"  # auto | float32 | float16 | bfloat16

    # Memory options for small GPUs. They do not change the output.
    cpu_offload: bool = False
    vae_tiling: bool = False
    vae_slicing: bool = False
    attention_backend: str | None = None
    # Speed options. Off by default because they change the output slightly.
    first_block_cache: float = Field(0.0, ge=0.0, le=1.0)
    compile: bool = False

    # Threads torch may use on the CPU; 0 keeps torch's default (one per core). A bot rendering
    # on the CPU in-process may leave a core to its event loop by setting cores - 1.
    torch_threads: int = Field(0, ge=0)
    # How many compatible queued jobs a worker may render in one pipeline call.
    max_batch: int = Field(1, ge=1, le=16)
    # A running job's lease; renewed while it renders, so it only needs to outlive a stall.
    lease_seconds: float = Field(60.0, gt=0)
    max_attempts: int = Field(3, ge=1)
    # Progress is written to the journal at most this often.
    progress_interval_seconds: float = Field(1.0, ge=0.0)
    # Live previews (engine.preview): the first frame as it forms, decoded every this many steps
    # (0 = never) and at most this often; keep the seconds at or above the chat side's
    # status_edit_seconds, which no surface shows previews faster than.
    preview_every_steps: int = Field(5, ge=0)
    preview_seconds: float = Field(3.0, ge=0.0)
    # The longer side of a preview, in pixels (the VAE decodes shrunk latents to get there).
    preview_max_side: int = Field(256, ge=16, le=1024)
    # A preview may cost at most this many denoising steps (measured once per worker); past it,
    # that worker makes no more previews. 0 turns them off after the first measurement.
    preview_max_cost: float = Field(1.0, ge=0.0)
    # How long a journal write waits for another process's lock before it counts as failed.
    busy_timeout_seconds: float = Field(15.0, gt=0)
    # When storage fails (journal locked or full, clips folder unwritable), workers retry with
    # growing waits of at most this long, and carry on once it works again.
    storage_retry_seconds: float = Field(30.0, gt=0)

    # The output check (engine.outputcheck): every rendered clip is scored before delivery and
    # held for a moderator when its score reaches the threshold (per server: /mod threshold).
    # 0.8: open_nsfw's own "likely explicit" mark; the tiny model's clips score at most 0.09 and
    # flat synthetic images at most 0.38 (README, "Output check").
    output_check: bool = True
    output_check_threshold: float = Field(0.8, ge=0.0, le=1.0)
    # Frames sampled evenly from each clip (first and last included); about 16 ms each on one core.
    output_check_frames: int = Field(4, ge=1, le=64)
    # Content credentials (C2PA): the signing certificate (PEM, leaf first), its private key, and
    # the authority `verify` trusts. Empty: the files `python -m engine credentials init` writes
    # to data_dir/credentials, when they exist; without a certificate and key clips go unsigned.
    c2pa_cert: Path | None = None
    c2pa_key: Path | None = None
    c2pa_trust: Path | None = None
    # The name the clips' credentials give as the bot that made them (no user is ever named).
    bot_name: str = Field("Promptreel", min_length=1, max_length=100)
    # Where jobs render: `local` (workers that open this journal: the bot's own thread, or
    # `python -m engine worker --db`) or `redis` (workers anywhere that reach `redis_url`).
    render_backend: Literal["local", "redis"] = "local"
    # redis://[:password@]host:port/db or rediss:// for TLS. A password is required unless the
    # host is this machine: rented GPU boxes reach this server, and so could anyone else.
    redis_url: str | None = None
    # A farm worker that stops reporting for this long loses its job to another one.
    farm_liveness_seconds: float = Field(3.0, gt=0)
    # Clips up to this size travel back through Redis; larger ones go to the shared place below.
    farm_inline_max_bytes: int = Field(8 * 1024 * 1024, ge=0)
    # A folder both the bot and the farm workers see (NFS, a bind mount); unset: always inline.
    farm_shared_dir: Path | None = None
    # Or a bucket: s3://bucket/prefix (credentials from boto3's usual chain on each machine), on
    # AWS or, with farm_s3_endpoint (https://minio.example:9000), any S3-compatible service.
    farm_shared_url: str | None = None
    farm_s3_endpoint: str | None = None

    @property
    def resolved_db_path(self) -> Path:
        return self.db_path or self.data_dir / "promptreel.db"

    @property
    def resolved_clips_dir(self) -> Path:
        return self.clips_dir or self.data_dir / "clips"

    @property
    def resolved_models_dir(self) -> Path:
        return self.models_dir or self.data_dir / "models"

    @property
    def resolved_images_dir(self) -> Path:
        return self.images_dir or self.data_dir / "images"

    @property
    def credentials_dir(self) -> Path:
        """Where `python -m engine credentials init` writes by default, and the fallback read."""
        return self.data_dir / "credentials"

    def _credential(self, given: Path | None, name: str) -> Path | None:
        if given is not None:
            return given
        fallback = self.credentials_dir / name
        return fallback if fallback.is_file() else None

    @property
    def resolved_c2pa_cert(self) -> Path | None:
        return self._credential(self.c2pa_cert, "signer.pem")

    @property
    def resolved_c2pa_key(self) -> Path | None:
        return self._credential(self.c2pa_key, "signer.key")

    @property
    def resolved_c2pa_trust(self) -> Path | None:
        return self._credential(self.c2pa_trust, "ca.pem")
