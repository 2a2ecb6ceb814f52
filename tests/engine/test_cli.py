"""`python -m engine` as a user runs it: a real subprocess, the real tiny model, real ffmpeg.

Every run pays for importing torch and diffusers (several seconds), so the module starts all of
its runs together on a small thread pool and each test waits for the run it checks. Each run
gets its own data dir; the tiny model is shared from the session's models dir, read-only.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from engine.encode import encode_clip, read_metadata
from tests.helpers import child_env, decode_video

RUN_TIMEOUT_S = 300
PROMPT = "a corgi surfing at sunset"
# Non-default values throughout, so an option that is dropped on the way shows up.
TINY = ["--model", "tiny", "--frames", "12", "--width", "80", "--height", "48", "--steps", "3"]


class CliRuns:
    """Named CLI runs, started at once, each with its own data dir."""

    def __init__(self, root: Path, models_dir: Path, pool: ThreadPoolExecutor) -> None:
        self.root = root
        self.models_dir = models_dir
        self.pool = pool
        self.futures: dict[str, Future[subprocess.CompletedProcess[str]]] = {}

    def data_dir(self, name: str) -> Path:
        return self.root / name / "data"

    def out(self, name: str, filename: str) -> Path:
        return self.root / name / filename

    def start(self, name: str, args: list[str], *, models_dir: Path | None = None) -> None:
        (self.root / name).mkdir(parents=True)
        env = child_env(
            PROMPTREEL_DATA_DIR=str(self.data_dir(name)),
            PROMPTREEL_MODELS_DIR=str(models_dir or self.models_dir),
            PROMPTREEL_DEVICE="cpu",
            # Never reach for the hub, even on a machine that has internet access.
            PROMPTREEL_OFFLINE="1",
            HF_HUB_OFFLINE="1",
        )
        self.futures[name] = self.pool.submit(
            subprocess.run,
            [sys.executable, "-m", "engine", *args],
            cwd=self.root / name,  # no stray .env from the developer's checkout
            env=env,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT_S,
            check=False,
        )

    def __getitem__(self, name: str) -> subprocess.CompletedProcess[str]:
        return self.futures[name].result()


BAD_ARGS: dict[str, list[str]] = {
    "frames-negative": [PROMPT, "--frames", "-3"],
    "unknown-model": [PROMPT, "--model", "nope"],
    "width-huge": [PROMPT, "--width", "99999"],
    "max-bytes-zero": [PROMPT, "--max-bytes", "0"],
    "unknown-flag": [PROMPT, "--bogus"],
    "empty-prompt": [""],
    "unknown-suffix": [PROMPT, "--out", "clip.avi"],
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, tiny_models_dir: Path) -> Iterator[CliRuns]:
    root = tmp_path_factory.mktemp("cli")
    with ThreadPoolExecutor(max_workers=4) as pool:
        r = CliRuns(root, tiny_models_dir, pool)
        # Slowest first, so they overlap with the many short ones.
        big = ["--frames", "32", "--width", "128", "--height", "128", "--steps", "2", "--seed", "3"]
        r.start("max-bytes", ["render", "noisy", "--model", "tiny", *big, "--max-bytes", "20000",
                              "--out", str(r.out("max-bytes", "c.mp4"))])  # fmt: skip
        r.start("mp4", ["render", PROMPT, *TINY, "--seed", "4242", "--out", str(r.out("mp4", "clip.mp4"))])
        r.start("gif", ["render", PROMPT, *TINY, "--seed", "7", "--format", "gif",
                        "--out", str(r.out("gif", "c.gif"))])  # fmt: skip
        # No --out: the clip goes to the data dir's clips folder, named after prompt and seed.
        r.start("webm", ["render", PROMPT, *TINY, "--seed", "9", "--format", "webm"])
        r.start("unfittable", ["render", PROMPT, *TINY, "--seed", "1", "--max-bytes", "100",
                               "--out", str(r.out("unfittable", "c.mp4"))])  # fmt: skip
        r.start("no-weights", ["render", PROMPT, "--model", "ltx-video"], models_dir=root / "empty-models")
        r.start("presets", ["presets"])
        for name, args in BAD_ARGS.items():
            r.start(f"bad-{name}", ["render", *args])
        yield r


def assert_clean_success(run: subprocess.CompletedProcess[str], path: Path) -> None:
    assert run.returncode == 0, run.stderr
    assert run.stdout == f"{path}\n"  # exactly the path: scripts read it
    assert "Traceback" not in run.stderr
    assert path.is_file()


def assert_one_error_line(run: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in run.stderr, run.stderr
    lines = run.stderr.splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("error: ")
    assert run.stdout == ""
    return lines[0]


# --- rendering --------------------------------------------------------------------------------


def test_render_mp4_prints_its_path_and_decodes_as_asked(runs: CliRuns) -> None:
    path = runs.out("mp4", "clip.mp4")
    run = runs["mp4"]
    assert_clean_success(run, path)
    assert path.read_bytes()[4:8] == b"ftyp"
    frames, meta = decode_video(path)
    assert (len(frames), meta["size"]) == (12, (80, 48))
    assert frames[0].std() > 5  # coloured noise, not a blank clip


def test_render_shows_progress_on_stderr(runs: CliRuns) -> None:
    lines = runs["mp4"].stderr.splitlines()
    # Not a terminal: one line per step, in order, naming the model and seed.
    assert [line.rsplit(" ", 1)[-1] for line in lines] == ["1/3", "2/3", "3/3"]
    assert all(line.startswith("tiny seed 4242 [") for line in lines)


def test_clip_metadata_has_prompt_and_seed(runs: CliRuns) -> None:
    path = runs.out("mp4", "clip.mp4")
    assert runs["mp4"].returncode == 0
    meta = read_metadata(path)
    assert meta["title"] == PROMPT
    for part in ("model=tiny", "seed=4242", "steps=3", "frames=12", "size=80x48"):
        assert part in meta["comment"]


def test_render_gif(runs: CliRuns) -> None:
    path = runs.out("gif", "c.gif")
    assert_clean_success(runs["gif"], path)
    assert path.read_bytes()[:6] == b"GIF89a"
    frames, meta = decode_video(path)
    assert (len(frames), meta["size"]) == (12, (80, 48))
    meta = read_metadata(path)
    assert meta["title"] == PROMPT and "seed=7" in meta["comment"]


def test_render_webm_to_the_default_clips_folder(runs: CliRuns) -> None:
    path = runs.data_dir("webm") / "clips" / "a-corgi-surfing-at-sunset-9.webm"
    assert_clean_success(runs["webm"], path)
    assert path.read_bytes()[:4] == b"\x1a\x45\xdf\xa3"  # EBML: Matroska/WebM
    frames, meta = decode_video(path)
    assert (len(frames), meta["size"]) == (12, (80, 48))
    meta = read_metadata(path)
    assert meta["title"] == PROMPT and "seed=9" in meta["comment"]


def test_max_bytes_is_honoured(runs: CliRuns, tiny_renderer: Any, tmp_path: Path) -> None:
    path = runs.out("max-bytes", "c.mp4")
    assert_clean_success(runs["max-bytes"], path)
    assert path.stat().st_size <= 20_000
    frames, _ = decode_video(path)
    assert len(frames) == 32
    # The limit had to do work: the same clip encoded without one is well over it.
    from engine.request import build_request

    request = build_request("noisy", frames=32, width=128, height=128, steps=2, seed=3)
    [result] = tiny_renderer.render(request)
    assert encode_clip(result.frames, tmp_path / "free.mp4", fps=8).size_bytes > 30_000


def test_a_limit_no_encode_can_meet_is_one_error_line(runs: CliRuns) -> None:
    run = runs["unfittable"]
    assert run.returncode == 1
    assert run.stdout == ""
    assert "Traceback" not in run.stderr, run.stderr
    errors = [line for line in run.stderr.splitlines() if not line.startswith("tiny seed ")]
    assert len(errors) == 1 and errors[0].startswith("error: ") and "100 bytes" in errors[0]
    assert not runs.out("unfittable", "c.mp4").exists()


# --- refusals ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(BAD_ARGS))
def test_bad_arguments_exit_2_with_one_error_line(runs: CliRuns, name: str) -> None:
    run = runs[f"bad-{name}"]
    assert run.returncode == 2, run.stderr
    assert_one_error_line(run)
    assert not (runs.data_dir(f"bad-{name}") / "clips").exists()


def test_bad_argument_messages_say_what_is_wrong(runs: CliRuns) -> None:
    def line(name: str) -> str:
        return runs[f"bad-{name}"].stderr.strip()

    assert "Frames" in line("frames-negative")
    assert "'nope'" in line("unknown-model") and "tiny" in line("unknown-model")
    assert "Width" in line("width-huge")
    assert "max-bytes" in line("max-bytes-zero")
    assert "--bogus" in line("unknown-flag")
    assert "describe" in line("empty-prompt")
    assert "avi" in line("unknown-suffix")


def test_presets_lists_every_preset(runs: CliRuns) -> None:
    run = runs["presets"]
    assert run.returncode == 0 and run.stderr == ""
    names = {line.split()[0] for line in run.stdout.splitlines() if line and not line.startswith(" ")}
    assert names == {
        "tiny",
        "tiny-i2v",
        "ltx-video",
        "ltx-video-i2v",
        "wan2.1-1.3b",
        "cogvideox-2b",
        "modelscope",
        "zeroscope",
    }


def test_real_preset_without_weights_fails_in_one_line(runs: CliRuns) -> None:
    run = runs["no-weights"]
    assert run.returncode not in (0, 2)
    line = assert_one_error_line(run)
    assert "'ltx-video'" in line and "hf download Lightricks/LTX-Video" in line
