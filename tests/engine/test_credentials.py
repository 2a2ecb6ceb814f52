"""Content credentials as an owner and a checker meet them: `credentials init`, signed clips,
`python -m engine verify` (its line and exit status), re-signing after a re-encode to fit, and
recognising a clip by its fingerprint after a re-encode stripped its credentials.

Real throughout: the authority is made by the CLI, signing and reading are c2pa-python's,
re-encodes are the real ffmpeg's, the worker renders with the tiny model into a real journal.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import c2pa
import imageio_ffmpeg
import numpy as np
import pytest

from engine.credentials import ClipFacts, check_credentials, load_signing, sign_clip
from engine.credentials.fit import fit_signed
from engine.encode import encode_clip
from engine.journal import JobState, Journal
from engine.request import build_request
from tests.helpers import child_env, decode_video, run_until_idle

TRAINED = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"


def engine_cli(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "engine", *args],
        cwd=cwd,  # a folder of the test's own: no data/credentials or .env but what it puts there
        env=child_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def verify_here(*args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """`python -m engine verify ...` in this process (the CLI's own `main`): saves a start-up."""
    from engine.__main__ import main

    capsys.readouterr()
    status = main(["verify", *args])
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture(autouse=True)
def _own_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process runs read data/credentials and .env from the working folder: make it empty."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="module")
def authority(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding ca.pem, signer.pem and signer.key, made by `credentials init`."""
    root = tmp_path_factory.mktemp("authority")
    run = engine_cli("credentials", "init", "--dir", str(root / "creds"), cwd=root)
    assert run.returncode == 0, run.stderr
    return root / "creds"


@pytest.fixture
def signing(authority: Path, make_settings: Callable[..., Any]) -> Any:
    made = load_signing(make_settings(c2pa_cert=authority / "signer.pem", c2pa_key=authority / "signer.key"))
    assert made is not None
    return made


def moving_frames(frames: int = 12, height: int = 120, width: int = 160, seed: int = 0) -> np.ndarray:
    """A lit square gliding over a grainy gradient: structure a codec keeps and a hash can follow,
    and grain enough that the clip is tens of kilobytes, well above what its manifest adds."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    video = np.empty((frames, height, width, 3), np.uint8)
    base = rng.integers(0, 255, 3)
    for f in range(frames):
        picture = (x * 255 // width + base[0] + f * 4) % 256
        video[f] = np.stack([picture, (y * 255 // height + base[1]) % 256, np.full_like(x, base[2])], -1)
        top, left = (7 * f + seed * 13) % (height - 16), (5 * f + seed * 29) % (width - 16)
        video[f, top : top + 16, left : left + 16] = 255
    grain = rng.integers(-40, 40, video.shape)
    return np.clip(video.astype(np.int16) + grain, 0, 255).astype(np.uint8)


def signed_clip(path: Path, signing: Any, facts: ClipFacts | None = None) -> Path:
    encode_clip(moving_frames(), path, fps=8)
    sign_clip(path, signing, facts or ClipFacts(preset="tiny", seed=41, steps=3, bot="Reel Bot"))
    return path


def reencode(src: Path, dst: Path, *, scale: float, crf: int) -> Path:
    """What a social network does to an upload: smaller, recompressed, every extra box dropped."""
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-i", str(src),
         "-vf", f"scale=trunc(iw*{scale}/2)*2:trunc(ih*{scale}/2)*2", "-c:v", "libx264",
         "-crf", str(crf), "-map_metadata", "-1", str(dst)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return dst


# --- the authority ---------------------------------------------------------------------------


def test_init_makes_a_chain_c2pa_accepts_and_refuses_to_overwrite_it(
    authority: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from cryptography import x509
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    ca = x509.load_pem_x509_certificate((authority / "ca.pem").read_bytes())
    leaf = x509.load_pem_x509_certificate((authority / "signer.pem").read_bytes())
    assert leaf.issuer == ca.subject and leaf.subject != ca.subject  # not self-signed
    assert leaf.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)  # O= is required
    assert leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    assert leaf.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.EMAIL_PROTECTION in eku
    aki = leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ski.digest
    assert (authority / "signer.key").stat().st_mode & 0o077 == 0  # the key is the owner's alone

    from engine.__main__ import main

    before = {p.name: p.read_bytes() for p in authority.iterdir()}
    assert main(["credentials", "init", "--dir", str(authority)]) == 1
    assert "--force" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in authority.iterdir()} == before

    # The default folder is data/credentials, where the settings look when nothing is set.
    monkeypatch.setenv("PROMPTREEL_DATA_DIR", str(tmp_path / "d"))
    assert main(["credentials", "init"]) == 0
    assert sorted(p.name for p in (tmp_path / "d" / "credentials").iterdir()) == [
        "ca.pem", "signer.key", "signer.pem",
    ]  # fmt: skip


# --- signing and verifying -------------------------------------------------------------------


def test_a_signed_clip_is_trusted_with_its_authority_and_says_how_it_was_made(
    authority: Path, signing: Any, tmp_path: Path
) -> None:
    clip = signed_clip(tmp_path / "clip.mp4", signing)
    run = engine_cli("verify", str(clip), "--trust", str(authority / "ca.pem"), cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    [line] = run.stdout.splitlines()
    assert line.startswith("trusted")
    for fact in ("preset tiny", "seed 41", "steps 3", "bot Reel Bot", "Promptreel"):
        assert fact in line

    with c2pa.Reader(str(clip)) as reader:
        manifest = reader.get_active_manifest()
    assert manifest["claim_generator_info"][0]["name"] == "Promptreel"
    actions = [
        a
        for s in manifest["assertions"]
        if s["label"].startswith("c2pa.actions")
        for a in s["data"]["actions"]
    ]
    [created] = [a for a in actions if a["action"] == "c2pa.created"]
    assert created["digitalSourceType"] == TRAINED
    assert created["parameters"] == {"preset": "tiny", "seed": 41, "steps": 3, "bot": "Reel Bot"}
    assert manifest["signature_info"]["alg"].upper() == "ES256"
    assert len(decode_video(clip)[0]) == 12  # still a clip that plays, every frame there


def test_without_the_authority_a_signed_clip_is_valid_not_trusted(
    signing: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from engine.credentials import make_authority

    clip = signed_clip(tmp_path / "clip.mp4", signing)
    status, out, _ = verify_here(str(clip), capsys=capsys)
    assert status == 0 and out.startswith("valid"), out
    # Another authority's root is no better than none.
    other = make_authority(tmp_path / "other")
    status, out, _ = verify_here(str(clip), "--trust", str(other.ca), capsys=capsys)
    assert status == 0 and out.startswith("valid"), out


def test_one_flipped_byte_of_video_is_changed(
    authority: Path, signing: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clip = signed_clip(tmp_path / "clip.mp4", signing)
    data = bytearray(clip.read_bytes())
    mdat = data.find(b"mdat")
    assert mdat > 0
    data[mdat + 200] ^= 0x01
    altered = tmp_path / "altered.mp4"
    altered.write_bytes(bytes(data))
    status, out, _ = verify_here(str(altered), "--trust", str(authority / "ca.pem"), capsys=capsys)
    assert status == 1 and out.startswith("changed") and "video data" in out, out


def test_an_unsigned_clip_is_none_and_bad_arguments_are_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clip = tmp_path / "plain.mp4"
    encode_clip(moving_frames(), clip, fps=8)
    run = engine_cli("verify", str(clip), cwd=tmp_path)  # as a script sees it: exit status 3
    assert run.returncode == 3 and run.stdout.startswith("none"), (run.stdout, run.stderr)

    for args in ([], [str(tmp_path / "missing.mp4")],
                 [str(clip), "--trust", str(tmp_path / "missing.pem")],
                 [str(clip), "--db", str(tmp_path / "missing.db")]):  # fmt: skip
        status, out, err = verify_here(*args, capsys=capsys)
        assert status == 2 and out == "" and err.startswith("error:"), args
    assert not (tmp_path / "missing.db").exists()  # a look-up never creates a journal


def test_missing_keys_leave_clips_unsigned_with_one_warning(
    make_settings: Callable[..., Any], caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    settings = make_settings(c2pa_cert=tmp_path / "nope.pem", c2pa_key=tmp_path / "nope.key")
    with caplog.at_level(logging.WARNING, logger="engine.credentials.signing"):
        assert load_signing(settings) is None
        assert load_signing(settings) is None  # a second worker in the process: no second warning
    assert len([r for r in caplog.records if "unsigned" in r.getMessage()]) == 1


# --- re-encoding to fit ----------------------------------------------------------------------


@pytest.mark.parametrize("share", [0.6, 0.35])
def test_a_clip_reencoded_to_fit_is_signed_again_and_still_fits(
    authority: Path, signing: Any, tmp_path: Path, share: float
) -> None:
    clip = signed_clip(tmp_path / "clip.mp4", signing)
    limit = int(clip.stat().st_size * share)
    facts = ClipFacts(preset="tiny", seed=41, steps=3, bot="Reel Bot")
    small = fit_signed(clip, limit, signing, facts)
    assert small != clip and small.stat().st_size <= limit
    verdict = check_credentials(small, (authority / "ca.pem").read_text())
    assert verdict.kind == "trusted" and verdict.facts["seed"] == 41
    assert len(decode_video(small)[0]) == 12
    assert check_credentials(clip, (authority / "ca.pem").read_text()).kind == "trusted"  # untouched


# --- the worker signs and fingerprints every clip ---------------------------------------------


WORKER_SETTINGS = {"bot_name": "Studio Bot"}


def test_worker_clips_are_signed_and_recognised_after_a_reencode(
    authority: Path, settings: Any, db: Journal, make_worker: Callable[..., Any], tmp_path: Path,
    tiny_renderer: Any,
) -> None:  # fmt: skip
    # `credentials init`'s default folder: the settings find the files there by themselves.
    shutil.copytree(authority, settings.credentials_dir)
    request = build_request(
        "a lighthouse at dusk", model="tiny", frames=16, steps=2, width=128, height=96, seed=5
    )
    job = db.enqueue(request, user_id="user-8841", user_name="Alice Example", adapter="discord")
    run_until_idle(make_worker())
    done = db.get(job.id)
    assert done.state == JobState.RENDERED
    clip = Path(done.clip_path)

    verdict = check_credentials(clip, (authority / "ca.pem").read_text())
    assert verdict.kind == "trusted"
    assert verdict.facts == {"preset": "tiny", "seed": 5, "steps": 2, "bot": "Studio Bot"}
    with c2pa.Reader(str(clip)) as reader:
        everything = reader.json()
    assert "user-8841" not in everything and "Alice" not in everything  # nobody who asked is named

    copy = reencode(clip, tmp_path / "shared.mp4", scale=0.5, crf=32)
    run = engine_cli("verify", str(copy), "--db", str(settings.resolved_db_path), cwd=tmp_path)
    assert run.returncode == 3, (run.stdout, run.stderr)  # the re-encode lost the credentials...
    assert (
        run.stdout.startswith("none") and f"made by this bot as job {job.id} " in run.stdout
    )  # ...not the match

    # A clip the bot never delivered is not taken for one of its own.
    [other] = tiny_renderer.render(build_request("a lighthouse at dusk", model="tiny", frames=16, steps=2,
                                                 width=128, height=96, seed=6))  # fmt: skip
    stranger = tmp_path / "stranger.mp4"
    encode_clip(other.frames, stranger, fps=8)
    run = engine_cli("verify", str(stranger), "--db", str(settings.resolved_db_path), cwd=tmp_path)
    assert run.returncode == 3 and "made by this bot" not in run.stdout, run.stdout
    assert db.find_prints(db.get_print(job.id) or [], 0.0) == [(job.id, 0.0)]


def test_cli_render_signs_when_credentials_are_configured(
    authority: Path, tmp_path: Path, tiny_models_dir: Path
) -> None:
    data = tmp_path / "data"
    shutil.copytree(authority, data / "credentials")  # where `credentials init` puts them
    out = tmp_path / "clip.mp4"
    run = engine_cli(
        "render", "a kite over dunes", "--model", "tiny", "--frames", "4", "--steps", "2",
        "--width", "32", "--height", "32", "--seed", "77", "--out", str(out),
        cwd=tmp_path, PROMPTREEL_DATA_DIR=str(data), PROMPTREEL_MODELS_DIR=str(tiny_models_dir),
        PROMPTREEL_DEVICE="cpu", PROMPTREEL_OFFLINE="1", HF_HUB_OFFLINE="1",
    )  # fmt: skip
    assert run.returncode == 0 and run.stdout == f"{out}\n", run.stderr
    verdict = check_credentials(out, (authority / "ca.pem").read_text())
    assert verdict.kind == "trusted" and verdict.facts == {
        "preset": "tiny",
        "seed": 77,
        "steps": 2,
        "bot": "Promptreel",
    }


def test_a_journal_that_cannot_be_read_loses_only_the_look_up(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import sqlite3

    db = tmp_path / "newer.db"
    Journal(db).close()
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA user_version = 999")  # written by a newer Promptreel
    conn.close()
    clip = tmp_path / "plain.mp4"
    encode_clip(moving_frames(), clip, fps=8)
    status, out, err = verify_here(str(clip), "--db", str(db), capsys=capsys)
    assert status == 3 and out.startswith("none"), (out, err)  # still the credentials' verdict
    assert err.startswith("note: not looked up in the journal")
