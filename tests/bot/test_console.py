"""`python -m bot console --json` as a real subprocess: stdin in, one JSON event per line out.

Starting the console costs seconds (torch, the model), so one session is shared by the tests
that only read its transcript: a flood, a hostile corpus, a moderator's clear and a normal
conversation, in that order. The restart test runs two sessions of its own on one database.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from engine.journal import Job, JobState, Journal
from tests.helpers import child_env, decode_video

ANSWERS = ("queued", "refused", "info")
ENDINGS = ("delivered", "failed", "cancelled")
SMALL = "--frames 2 --steps 1 --width 16 --height 16"
TIMEOUT = 180


def console_env(data_dir: Path, models_dir: Path, **extra: str) -> dict[str, str]:
    return child_env(
        PROMPTREEL_DATA_DIR=str(data_dir),
        PROMPTREEL_MODELS_DIR=str(models_dir),
        # As on a server with a UTF-8 locale: undecodable input must not end the session.
        PYTHONIOENCODING="utf-8:strict",
        **extra,
    )


def console_cmd(db: Path, mods: str = "mod") -> list[str]:
    return [sys.executable, "-m", "bot", "console", "--json", "--db", str(db), "--mods", mods]


@dataclass
class Transcript:
    lines: list[bytes]
    events: list[dict[str, Any]]
    returncode: int | None
    stderr: str
    db: Path
    answers: list[dict[str, Any]] = field(init=False)

    def __post_init__(self) -> None:
        self.answers = [e for e in self.events if e["event"] in ANSWERS]

    def of(self, kind: str, job: int | None = None) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] == kind and (job is None or e.get("job") == job)]


def parse_events(stdout: bytes) -> list[dict[str, Any]]:
    text = stdout.decode("utf-8")  # strict: the console must write valid UTF-8
    return [json.loads(line) for line in text.splitlines()]


def run_console(db: Path, env: dict[str, str], lines: list[bytes], cwd: Path) -> Transcript:
    stdin = b"".join(line + b"\n" for line in lines)
    proc = subprocess.run(
        console_cmd(db), input=stdin, capture_output=True, env=env, cwd=cwd, timeout=TIMEOUT, check=False
    )
    stderr = proc.stderr.decode(errors="replace")
    return Transcript(lines, parse_events(proc.stdout), proc.returncode, stderr, db)


def assert_clean_exit(t: Transcript) -> None:
    assert t.returncode == 0, t.stderr[-3000:]
    assert "Traceback" not in t.stderr, t.stderr[-3000:]


def journal_jobs(db: Path) -> dict[int, Job]:
    journal = Journal(db)
    try:
        return {row["id"]: Job.from_row(row) for row in journal.conn.execute("SELECT * FROM jobs")}
    finally:
        journal.close()


# --- the shared session --------------------------------------------------------------------------

FLOOD = [f"A: a flood of prompts number {i} {SMALL}".encode() for i in range(100)]
AFTER_FLOOD = [f"B: a quiet pond {SMALL}".encode(), f"C: a busy market {SMALL}".encode()]
BURST = 3


@dataclass(frozen=True)
class Case:
    user: str  # as the console names the speaker; "?" for lines it cannot read
    line: bytes
    event: str
    reason: str | None = None
    category: str | None = None
    stored: str | None = None  # the prompt as it must be stored, for admitted lines


def case(user: str, text: str, event: str, reason: str | None = None, **kw: Any) -> Case:
    return Case(user, f"{user}: {text}".encode(), event, reason, **kw)


HOSTILE = [
    case("h01", "", "refused", "invalid"),
    case("h02", "x" * 10_000, "refused", "invalid"),
    case("h03", "   ", "refused", "invalid"),
    # Blocked words in disguise.
    case("h04", "a nude statue", "refused", "policy", category="sexual"),
    case("h05", "a nu\u200bde\u200d figure", "refused", "policy", category="sexual"),
    case("h06", "a \u202enude\u202c statue", "refused", "policy", category="sexual"),
    case("h07", "a nud3 model", "refused", "policy", category="sexual"),
    case("h08", "a n u d e model", "refused", "policy", category="sexual"),
    case("h09", "a n.u.d.e painting", "refused", "policy", category="sexual"),
    case("h10", "a nud\u0435 beach", "refused", "policy", category="sexual"),  # Cyrillic е
    case("h11", "ｎｕｄｅ art", "refused", "policy", category="sexual"),
    case("h12", "a bloody decapitation", "refused", "policy", category="violence"),
    case("h13", "mickey mouse dancing", "refused", "policy", category="trademarks"),
    case("mod", "/mod words add zorblax", "info"),
    case("h14", "a zorbl4x in space", "refused", "policy", category="custom"),
    # Innocent words that contain or resemble blocked ones.
    case("h15", f"a town called Scunthorpe {SMALL}", "queued", stored="a town called Scunthorpe"),
    case("h16", f"a cocktail at sunset {SMALL}", "queued", stored="a cocktail at sunset"),
    case("h17", f"a classic car {SMALL}", "queued", stored="a classic car"),
    case("h18", f"a therapist in her office {SMALL}", "queued", stored="a therapist in her office"),
    # Mentions and markdown are kept as typed: the console never pings anyone.
    case("h19", f"@everyone look at my cat {SMALL}", "queued", stored="@everyone look at my cat"),
    case("h20", f"@here a sunrise {SMALL}", "queued", stored="@here a sunrise"),
    case("h21", f"<@&123> a dog <@456> <#789> {SMALL}", "queued", stored="<@&123> a dog <@456> <#789>"),
    case("h22", f"**bold** ~~x~~ `code` a _cat_ {SMALL}", "queued", stored="**bold** ~~x~~ `code` a _cat_"),
    # Control characters and a harmless bidi override vanish from what is stored.
    case(
        "h23",
        "a cat\x00\x01\x02 in\x07 the\x1b[0m rain\x7f\x1f\x0b\x0c\r\t now " + SMALL,
        "queued",
        stored="a cat in the[0m rain now",
    ),
    case("h24", f"a \u202ecat\u202c sleeping {SMALL}", "queued", stored="a cat sleeping"),
    # Options out of range or malformed.
    case("h25", "a cat --frames 999", "refused", "invalid"),
    case("h26", "a cat --fps 0", "refused", "invalid"),
    case("h27", "a cat --steps -1", "refused", "invalid"),
    case("h28", "a cat --seed -5", "refused", "invalid"),
    case("h29", "a cat --seed abc", "refused", "invalid"),
    case("h30", "a cat --frames", "refused", "invalid"),
    case("h31", "a cat --bogus 3", "refused", "invalid"),
    case("h32", "a cat --seconds 99", "refused", "invalid"),
    case("h33", "a cat --ar 99:1", "refused", "invalid"),
    case("h34", "a cat --model not-a-model", "refused", "invalid"),
    case("h35", "a cat --neg " + "y" * 600, "refused", "invalid"),
    case("h36", "--seed 3", "refused", "invalid"),
    case("h37", f'a cat {SMALL} --neg "blurry', "queued", stored="a cat"),
    # Commands that make no sense.
    case("h38", "/", "refused", "invalid"),
    case("h39", "/cancel abc", "refused", "invalid"),
    case("h40", "/cancel 99999", "refused", "not_found"),
    case("h41", "/reroll 99999", "refused", "not_found"),
    case("h42", "/remix 99999 a dog", "refused", "not_found"),
    case("h43", "/frobnicate now", "refused", "invalid"),
    case("h44", "/mod ban x", "refused", "not_moderator"),
    case("h45", "/mod", "refused", "not_moderator"),
    case("h46", "   /queue   ", "info"),
    # Lines the console cannot read as `user: text`.
    Case("?", b"no colon here", "info"),
    Case("?", b"", "info"),
    Case("?", b": no user", "info"),
    Case("?", b"u" * 100 + b": a name far too long", "info"),
    # Bytes that are not UTF-8, and names that are not ASCII.
    Case("h47", b"h47: a caf\xff\xfe sunrise " + SMALL.encode(), "queued"),
    case("Zoë 🐱", f"a tiny cat {SMALL}", "queued", stored="a tiny cat"),
]
CLEAR = case("mod", "/mod clear", "info")
NORMAL = [
    case("alice", "a corgi surfing at sunset --seed 1 --frames 3 --steps 2", "queued"),
    case("bob", 'a paper boat on a rainy street --frames 4 --steps 2 --ar 16:9 --neg "blurry"', "queued"),
    case("alice", "/queue", "info"),
    case("carol", "a lighthouse in a storm —seed 5 —frames 2 —steps 2", "queued"),
    case("bob", "/history", "info"),
    case("dave", "/stats", "info"),
    case("alice", "/help", "info"),
    case("erin", "/cancel 99999", "refused", "not_found"),
]
SHARED_LINES = FLOOD + AFTER_FLOOD + [c.line for c in HOSTILE] + [CLEAR.line] + [c.line for c in NORMAL]
SHARED_USERS = ["A"] * len(FLOOD) + ["B", "C"] + [c.user for c in [*HOSTILE, CLEAR, *NORMAL]]


class Background:
    """A whole console session fed from a fixed stdin, running while other tests go on."""

    def __init__(self, db: Path, env: dict[str, str], lines: list[bytes], cwd: Path) -> None:
        self._args = (db, env, lines, cwd)
        self._result: Transcript | BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._result = run_console(*self._args)
        except BaseException as exc:  # handed to the test that asks for the transcript
            self._result = exc

    def wait(self) -> None:
        self._thread.join(TIMEOUT + 30)

    def result(self) -> Transcript:
        self.wait()
        if isinstance(self._result, BaseException):
            raise self._result
        assert self._result is not None, "the console session did not finish"
        return self._result


@pytest.fixture(scope="module")
def shared_session(tiny_models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Background]:
    """Started once per module; tests that need its transcript wait for it through `shared`."""
    home = tmp_path_factory.mktemp("console")
    env = console_env(
        home / "data",
        tiny_models_dir,
        PROMPTREEL_RATE_BURST=str(BURST),
        PROMPTREEL_RATE_PER_MINUTE="1",
        PROMPTREEL_MAX_WAITING_PER_USER=str(BURST),
        PROMPTREEL_MAX_WAITING_PER_GUILD="1000",
    )
    session = Background(home / "data" / "journal.db", env, SHARED_LINES, home)
    yield session
    session.wait()  # never leave it running past the module


@pytest.fixture(scope="module")
def shared(shared_session: Background) -> Transcript:
    return shared_session.result()


def answers_of(t: Transcript, start: int, cases: list[Case]) -> list[tuple[Case, dict[str, Any]]]:
    return list(zip(cases, t.answers[start : start + len(cases)], strict=True))


# --- restart ---------------------------------------------------------------------------------------


class Console:
    """A console subprocess whose stdout is read line by line as it arrives."""

    def __init__(self, db: Path, env: dict[str, str], cwd: Path) -> None:
        self.proc = subprocess.Popen(
            console_cmd(db), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=env, cwd=cwd, start_new_session=True,
        )  # fmt: skip
        self.events: list[dict[str, Any]] = []
        self._lines: queue.Queue[bytes | None] = queue.Queue()
        self._stderr: list[bytes] = []
        threading.Thread(target=self._pump, daemon=True).start()
        threading.Thread(target=lambda: self._stderr.append(self.proc.stderr.read()), daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def send(self, lines: list[bytes]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"".join(line + b"\n" for line in lines))
        self.proc.stdin.flush()

    def until(self, done: Any, timeout: float = TIMEOUT) -> None:
        while not done(self.events):
            line = self._lines.get(timeout=timeout)
            assert line is not None, b"".join(self._stderr).decode(errors="replace")[-3000:]
            self.events.append(json.loads(line))

    def kill(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        # Whatever it wrote before dying still counts.
        while (line := self._lines.get(timeout=30)) is not None:
            self.events.append(json.loads(line))


@pytest.fixture
def killable() -> Iterator[list[Console]]:
    started: list[Console] = []
    yield started
    for console in started:
        if console.proc.poll() is None:
            os.killpg(console.proc.pid, signal.SIGKILL)
            console.proc.wait(timeout=30)


def test_restart_after_a_kill_delivers_every_job_exactly_once(
    tiny_models_dir: Path, tmp_path: Path, killable: list[Console], shared_session: Background
) -> None:
    # `shared_session` only so that the long shared session runs alongside this one.
    env = console_env(tmp_path / "data", tiny_models_dir, PROMPTREEL_LEASE_SECONDS="3")
    db = tmp_path / "data" / "journal.db"
    lines = [
        b"r1: a slow comet --frames 8 --steps 10",  # long enough to be killed mid-render
        b"r2: a quick comet --frames 2 --steps 2",
        b"r3: another comet --frames 2 --steps 2",
    ]
    first = Console(db, env, tmp_path)
    killable.append(first)
    first.send(lines)  # stdin stays open: the session would go on
    first.until(
        lambda ev: sum(e["event"] == "queued" for e in ev) == 3 and any(e["event"] == "progress" for e in ev)
    )
    first.kill()
    assert first.proc.returncode == -signal.SIGKILL
    run1 = first.events
    job_ids = [e["job"] for e in run1 if e["event"] == "queued"]
    assert len(job_ids) == 3
    assert next(e for e in run1 if e["event"] == "progress")["job"] == job_ids[0]
    killed_at = journal_jobs(db)
    assert killed_at[job_ids[0]].state == JobState.RUNNING
    assert killed_at[job_ids[1]].state == JobState.QUEUED

    second = run_console(db, env, [], cwd=tmp_path)  # empty stdin: just finish what is owed
    assert_clean_exit(second)
    assert second.answers == []

    delivered = Counter(e["job"] for e in run1 + second.events if e["event"] == "delivered")
    assert delivered == Counter(job_ids)  # none lost, none twice
    assert [e for e in run1 + second.events if e["event"] in ("failed", "cancelled")] == []
    jobs = journal_jobs(db)
    assert set(jobs) == set(job_ids)
    # Each clip has the frame count its line asked for: 8, 2 and 2.
    for job_id, typed_frames in zip(job_ids, [8, 2, 2], strict=True):
        job = jobs[job_id]
        assert (job.state, job.delivery) == (JobState.DELIVERED, "sent")
        (event,) = [e for e in run1 + second.events if e["event"] == "delivered" and e["job"] == job_id]
        assert event["path"] == job.clip_path
        frames, _ = decode_video(job.clip_path)
        assert frames.shape[0] == typed_frames
    # The job that was rendering when the bot died was rendered again, by a second attempt.
    assert jobs[job_ids[0]].attempts == 2
    assert jobs[job_ids[0]].clip_path.endswith("-a2.mp4")


# --- the shared session's transcript ---------------------------------------------------------


def test_every_line_is_answered_once_in_order(shared: Transcript) -> None:
    assert_clean_exit(shared)
    assert len(shared.answers) == len(SHARED_LINES)
    assert [a["user"] for a in shared.answers] == SHARED_USERS
    # Nothing but answers and the jobs' own events.
    assert {e["event"] for e in shared.events} <= {*ANSWERS, "progress", *ENDINGS}


def test_every_admitted_job_ends_exactly_once(shared: Transcript) -> None:
    admitted = [a["job"] for a in shared.answers if a["event"] == "queued"]
    assert len(admitted) == len(set(admitted))
    endings = Counter(e["job"] for e in shared.events if e["event"] in ENDINGS)
    assert endings == Counter(admitted)
    assert shared.of("failed") == []
    jobs = journal_jobs(shared.db)
    assert not [j for j in jobs.values() if j.state in (JobState.QUEUED, JobState.RUNNING)]
    assert all(jobs[i].delivery == "sent" for i in admitted)


def test_normal_conversation(shared: Transcript) -> None:
    start = len(SHARED_LINES) - len(NORMAL)
    pairs = answers_of(shared, start, NORMAL)
    for c, answer in pairs:
        assert (answer["event"], answer.get("reason")) == (c.event, c.reason), (c, answer)
    jobs = journal_jobs(shared.db)
    queued = [a for c, a in pairs if a["event"] == "queued"]
    assert len(queued) == 3
    # What each line typed, as (frames, height, width, steps): the tiny preset's 64x64 unless an
    # aspect ratio was asked for, and 16:9 at about the same area is 88x48.
    typed = [(3, 64, 64, 2), (4, 48, 88, 2), (2, 64, 64, 2)]
    for answer, (n_frames, height, width, steps) in zip(queued, typed, strict=True):
        job_id = answer["job"]
        assert answer["position"] >= 0 and answer["eta_s"] >= 0
        (delivered,) = shared.of("delivered", job_id)
        assert delivered["user"] == answer["user"]
        frames, _ = decode_video(delivered["path"])
        assert frames.shape == (n_frames, height, width, 3)
        assert jobs[job_id].state == JobState.DELIVERED
        # Progress came first, step by step, up to the job's step count.
        progress = shared.of("progress", job_id)
        assert progress, f"no progress for job {job_id}"
        assert [p["step"] for p in progress] == sorted({p["step"] for p in progress})
        assert all(p["total"] == steps and 1 <= p["step"] <= p["total"] for p in progress)
        assert shared.events.index(progress[-1]) < shared.events.index(delivered)
    boat = jobs[queued[1]["job"]].request
    assert (boat.prompt, boat.negative_prompt, boat.width > boat.height) == (
        "a paper boat on a rainy street", "blurry", True,
    )  # fmt: skip
    lighthouse = jobs[queued[2]["job"]].request
    assert (lighthouse.seed, lighthouse.frames, lighthouse.steps) == (5, 2, 2)
    # /queue lists real jobs; /history has bob's boat; /stats counts states.
    assert set(pairs[2][1]["jobs"]) <= set(jobs)
    assert queued[1]["job"] in pairs[4][1]["jobs"]
    assert "states" in pairs[5][1]


def test_flood_admits_the_burst_and_keeps_others_in_front(shared: Transcript) -> None:
    flood = shared.answers[: len(FLOOD)]
    admitted = [a for a in flood if a["event"] == "queued"]
    assert [a["job"] for a in flood[:BURST]] == [a["job"] for a in admitted]
    assert len(admitted) == BURST
    for answer in flood[BURST:]:
        assert answer["event"] == "refused"
        assert answer["reason"] in ("rate_limited", "too_many_waiting")
        assert answer["retry_after_s"] > 0
    b, c = shared.answers[len(FLOOD) : len(FLOOD) + 2]
    assert (b["user"], b["event"], c["user"], c["event"]) == ("B", "queued", "C", "queued")
    # Round robin: the flood's backlog does not push B and C back.
    assert b["position"] <= 2
    assert c["position"] <= 3


def test_hostile_corpus(shared: Transcript) -> None:
    start = len(FLOOD) + len(AFTER_FLOOD)
    jobs = journal_jobs(shared.db)
    for c, answer in answers_of(shared, start, HOSTILE):
        assert answer["user"] == c.user, (c, answer)
        got = (answer["event"], answer.get("reason"), answer.get("category"))
        assert got == (c.event, c.reason, c.category), (c.line[:80], answer)
        if answer["event"] == "refused":
            assert answer["text"], c
        if c.stored is not None:
            assert jobs[answer["job"]].request.prompt == c.stored
        if answer["event"] == "queued":
            prompt = jobs[answer["job"]].request.prompt
            assert not any(ord(ch) < 32 or ch == "\x7f" or "\u202a" <= ch <= "\u202e" for ch in prompt)
    # The moderator's clear stopped what was still waiting (one already rendering may finish).
    clear = shared.answers[start + len(HOSTILE)]
    assert clear["event"] == "info" and clear["user"] == "mod"
    assert all(jobs[i].state in (JobState.CANCELLED, JobState.DELIVERED) for i in clear["jobs"])
    assert sum(jobs[i].state == JobState.CANCELLED for i in clear["jobs"]) >= len(clear["jobs"]) - 1
