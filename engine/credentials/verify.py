"""Reading a clip's content credentials back: trusted, valid, changed or none.

* `trusted`: the manifest is intact, the file is what was signed, and the signer chains to an
  authority passed as trusted (`--trust`, `PROMPTREEL_C2PA_TRUST`).
* `valid`: intact and unmodified, but the signer is not one of those authorities.
* `changed`: credentials are there but something no longer matches them; `part` says what
  (the video data, the manifest's assertions, its signature, or the credentials themselves).
* `none`: no credentials at all (never signed, or stripped by a re-encode).

Only the trust anchors given are trusted (c2pa's built-in list is replaced, not extended), so
`trusted` means "made by a signer of *this* authority", which is the question asked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Kind = Literal["trusted", "valid", "changed", "none"]

# c2pa failure codes, by the part of the file they say was altered.
_PARTS = (
    ("assertion.bmffHash", "the video data"),
    ("assertion.dataHash", "the video data"),
    ("assertion.boxesHash", "the video data"),
    ("assertion.hashedURI", "the manifest's assertions"),
    ("assertion.", "the manifest's assertions"),
    ("claimSignature.", "the manifest's signature"),
    ("signingCredential.", "the signing certificate"),
)
# Not an alteration: only says the signer is not among the authorities trusted here.
_UNTRUSTED = "signingCredential.untrusted"


@dataclass(frozen=True)
class Verdict:
    """What `check_credentials` found; `facts` are the `c2pa.created` action's parameters."""

    kind: Kind
    signer: str = ""
    part: str = ""
    reason: str = ""
    facts: dict[str, Any] = field(default_factory=dict)
    generator: str = ""


def check_credentials(path: Path, trust_pem: str | None = None) -> Verdict:
    """The credentials of the file at `path`, checked against `trust_pem`'s authorities."""
    import c2pa

    settings: dict[str, Any] = {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}}
    if trust_pem:
        settings["trust"] = {"trust_anchors": trust_pem}
    context = c2pa.Context.from_dict(settings)
    try:
        with open(path, "rb") as stream:
            reader = c2pa.Reader.try_create("video/mp4", stream, None, context)
            if reader is None:
                return Verdict("none")
            with reader:
                state = reader.get_validation_state() or ""
                results = reader.get_validation_results() or {}
                manifest = reader.get_active_manifest() or {}
    except c2pa.C2paError.NotSupported:
        return Verdict("none", reason="not a format that carries content credentials")
    except c2pa.C2paError as exc:
        if not _has_manifest_label(path):  # not damaged credentials: no credentials, or no MP4
            return Verdict("none", reason="not a video whose credentials can be read")
        # A manifest store that is there but cannot even be parsed was damaged.
        return Verdict("changed", part="the credentials themselves", reason=str(exc))

    info = manifest.get("signature_info") or {}
    signer = ", ".join(v for v in (info.get("common_name"), info.get("issuer")) if v)
    facts, generator = _created(manifest)
    failures = [
        f for f in (results.get("activeManifest") or {}).get("failure", []) if f.get("code") != _UNTRUSTED
    ]
    if failures or state == "Invalid":
        code = failures[0].get("code", "") if failures else ""
        part = next((name for prefix, name in _PARTS if code.startswith(prefix)), "the credentials")
        return Verdict("changed", signer=signer, part=part, reason=code, facts=facts, generator=generator)
    kind: Kind = "trusted" if state == "Trusted" else "valid"
    return Verdict(kind, signer=signer, facts=facts, generator=generator)


def _has_manifest_label(path: Path, chunk: int = 1 << 20) -> bool:
    """Whether the bytes hold a C2PA manifest store's label, read a chunk at a time."""
    label = b"c2pa"
    tail = b""
    with open(path, "rb") as stream:
        while block := stream.read(chunk):
            if label in tail + block:
                return True
            tail = block[-(len(label) - 1) :]
    return False


def _created(manifest: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The parameters of the manifest's `c2pa.created` action, and its software agent."""
    for assertion in manifest.get("assertions", []):
        if not str(assertion.get("label", "")).startswith("c2pa.actions"):
            continue
        for action in (assertion.get("data") or {}).get("actions", []):
            if action.get("action") == "c2pa.created":
                agent = action.get("softwareAgent") or {}
                name = " ".join(str(agent[k]) for k in ("name", "version") if agent.get(k))
                return dict(action.get("parameters") or {}), name
    return {}, ""


def describe(verdict: Verdict, made_by: int | None = None, distance: float | None = None) -> str:
    """The one line `python -m engine verify` prints; it starts with the verdict's kind."""
    facts = verdict.facts
    made = ""
    if verdict.generator or facts:
        details = ", ".join(f"{k} {facts[k]}" for k in ("preset", "seed", "steps", "bot") if k in facts)
        made = f"; made with {verdict.generator or 'an unnamed generator'}"
        made += f" ({details})" if details else ""
    if verdict.kind == "trusted":
        line = f"trusted: unmodified, signed by {verdict.signer} under an authority trusted here{made}"
    elif verdict.kind == "valid":
        line = f"valid: unmodified, signed by {verdict.signer}, whose authority is not trusted here{made}"
    elif verdict.kind == "changed":
        line = f"changed: altered after signing, in {verdict.part} ({verdict.reason})"
    else:
        line = "none: no content credentials" + (f" ({verdict.reason})" if verdict.reason else "")
    if made_by is not None:
        line += f"; made by this bot as job {made_by} (fingerprint {distance:.1f} of 64 bits apart)"
    return line


def inspect(path: Path, trust_pem: str | None = None) -> tuple[Verdict, list[int] | None]:
    """The file's credentials and its fingerprint (None when it does not decode as video).

    Both blocking; an event loop runs this on a thread and looks the fingerprint up with its
    own journal (`find_prints(hashes, MATCH_DISTANCE)`), as `/verify` does.
    """
    from engine.credentials.fingerprint import FingerprintError, fingerprint_file

    verdict = check_credentials(path, trust_pem)
    try:
        hashes = fingerprint_file(path)
    except FingerprintError:
        hashes = None
    return verdict, hashes


def recognise(path: Path, journal: Any) -> tuple[int, float] | None:
    """(job id, distance) of this bot's clip that `path` is a copy of, by fingerprint; None if none.

    `journal` is a `Journal`; a file that cannot be decoded as video is simply not recognised.
    """
    from engine.credentials.fingerprint import MATCH_DISTANCE, FingerprintError, fingerprint_file

    try:
        hashes = fingerprint_file(path)
    except FingerprintError:
        return None
    matches = journal.find_prints(hashes, MATCH_DISTANCE)
    return matches[0] if matches else None
