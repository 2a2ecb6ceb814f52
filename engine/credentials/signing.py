"""Signing a finished MP4 with C2PA content credentials, offline (ES256, no timestamp authority).

`load_signing(settings)` reads the certificate and key once per process and tries them on a
two-frame clip: a key that does not match its certificate, or a chain c2pa refuses, is found at
start-up (one warning; clips then go out unsigned) rather than on a member's clip. The trial also
measures how many bytes the credentials add, which is the room left for them when a clip is
sized to an upload limit (`Signing.room`).

`sign_clip` is a plain function over a file, so any worker or sender can call it on the final
file it is about to hand out. What a manifest says (`ClipFacts`): a `c2pa.created` action with
the IPTC digital source type trainedAlgorithmicMedia, the generator (Promptreel and its
version), the preset, seed and steps, and the bot's name. Nothing about who asked.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import secrets
import tempfile
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
GENERATOR = "Promptreel"
# What a manifest may grow by beyond the trial's (a longer bot name, a bigger box table): the
# room is this much more than measured, so a signed clip never ends up over its limit.
ROOM_MARGIN = 2048


def generator_version() -> str:
    try:
        return metadata.version("promptreel")
    except metadata.PackageNotFoundError:  # a checkout run without installing
        return "0+unknown"


@dataclass(frozen=True)
class ClipFacts:
    """What a clip's credentials say about how it was made; never who asked for it."""

    preset: str
    seed: int
    steps: int
    bot: str

    @classmethod
    def of(cls, request: Any, bot: str) -> ClipFacts:
        """From a `RenderRequest` (its preset, seed and steps) and the bot's name."""
        return cls(preset=str(request.model), seed=int(request.seed), steps=int(request.steps), bot=bot)

    def manifest(self) -> dict[str, Any]:
        agent = {"name": GENERATOR, "version": generator_version()}
        created = {
            "action": "c2pa.created",
            "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA,
            "softwareAgent": agent,
            "parameters": {"preset": self.preset, "seed": self.seed, "steps": self.steps, "bot": self.bot},
        }
        return {
            "claim_generator_info": [agent],
            "title": f"{self.bot} clip",
            "format": "video/mp4",
            "assertions": [{"label": "c2pa.actions", "data": {"actions": [created]}}],
        }


@dataclass(frozen=True)
class Signing:
    """A certificate chain and key that c2pa accepted, and the bytes its manifests need."""

    cert_pem: bytes = field(repr=False)
    key_pem: bytes = field(repr=False)  # never in a log line or a traceback's locals
    cert_path: Path = Path()
    room: int = 0


class SigningError(RuntimeError):
    """The clip could not be signed (c2pa refused it); the message is for the owner's log."""


def _signer(signing: Signing) -> Any:
    import c2pa

    info = c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, signing.cert_pem, signing.key_pem, None)
    return c2pa.Signer.from_info(info)


def _builder(facts: ClipFacts) -> Any:
    import c2pa

    # No thumbnail: it would only repeat a frame of the clip and cost bytes under an upload limit.
    context = c2pa.Context.from_dict({"builder": {"thumbnail": {"enabled": False}}})
    return c2pa.Builder(facts.manifest(), context=context)


def sign_clip(path: Path, signing: Signing, facts: ClipFacts) -> int:
    """Sign the MP4 at `path` in place; return its new size.

    Written to a hidden file beside it and renamed over it, so a reader sees the unsigned clip
    or the signed one, never half of either. Raises `SigningError` when c2pa refuses.
    """
    import c2pa

    path = Path(path)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.sign")
    try:
        try:
            with _signer(signing) as signer, _builder(facts) as builder:
                builder.sign_file(path, tmp, signer)
        except c2pa.C2paError as exc:
            raise SigningError(f"c2pa could not sign {path.name}: {exc}") from exc
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return path.stat().st_size


def load_signing(settings: Any, *, warn_missing: bool = True) -> Signing | None:
    """The credentials the settings point at, tried once; None (one warning) when unusable.

    `warn_missing=False` is for one-off commands (`python -m engine render`), which sign when
    credentials are configured and otherwise just write the clip: only broken ones are news.
    """
    cert, key = settings.resolved_c2pa_cert, settings.resolved_c2pa_key
    return _load(None if cert is None else Path(cert), None if key is None else Path(key), warn_missing)


@functools.cache
def _load(cert: Path | None, key: Path | None, warn_missing: bool) -> Signing | None:
    """Cached per process and paths: the warning is said once however many workers start."""
    if cert is None or key is None:
        if not warn_missing:
            return None
        log.warning(
            "no content credentials configured (PROMPTREEL_C2PA_CERT / PROMPTREEL_C2PA_KEY, or "
            "`python -m engine credentials init`): clips go out unsigned"
        )
        return None
    try:
        cert_pem, key_pem = cert.read_bytes(), key.read_bytes()
        signing = Signing(cert_pem, key_pem, cert, room=0)
        room = _trial(signing)
    except (OSError, SigningError) as exc:
        log.warning("content credentials %s / %s cannot be used (%s): clips go out unsigned", cert, key, exc)
        return None
    log.info("signing clips with %s (credentials add about %d bytes)", cert, room - ROOM_MARGIN)
    return Signing(cert_pem, key_pem, cert, room=room)


def _trial(signing: Signing) -> int:
    """Sign a two-frame clip: proves key and chain work, and measures what a manifest adds."""
    import numpy as np

    from engine.encode import encode_clip

    facts = ClipFacts(preset="trial", seed=0, steps=1, bot="x" * 100)  # the longest name allowed
    with tempfile.TemporaryDirectory(prefix="promptreel-c2pa-") as folder:
        clip = Path(folder) / "trial.mp4"
        encode_clip(np.zeros((2, 16, 16, 3), np.uint8), clip, fps=8)
        before = clip.stat().st_size
        started = time.perf_counter()
        after = sign_clip(clip, signing, facts)
        log.debug("trial signature took %.1f ms", (time.perf_counter() - started) * 1000)
    return after - before + ROOM_MARGIN
