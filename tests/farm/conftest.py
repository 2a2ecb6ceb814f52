"""Fixtures for the render farm: a real Redis server and real farm worker processes.

- `redis_server` (session): Debian's `redis-server`, installed with apt-get when missing, on a
  free loopback port in a folder of its own, no persistence; stopped at the end. Its
  `restart()` stops it and starts it again on the same port (empty, as after a crash).
- `redis_url` (each test): the server's URL, emptied before the test.
- `make_settings(**overrides)`: bot `Settings` on the redis backend, this test's data dir and
  the tiny model.
- `start_worker(name, **env)`: a `python -m engine worker --redis` process, returned once it is
  reporting (its key in Redis); stopped (SIGTERM, then SIGKILL) at teardown.
"""

from __future__ import annotations

import faulthandler
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from bot.config import Settings
from tests.helpers import child_env, isolated_settings

STARTUP_S = 30.0
# No farm test takes a minute here; one that hangs ends the run with every thread's stack
# instead of holding CI for its 90 minutes (`kill -USR1` shows the asyncio tasks before that).
HANG_S = 300


@pytest.fixture(autouse=True)
def _no_hang() -> Iterator[None]:
    faulthandler.dump_traceback_later(HANG_S, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


def _redis_binary() -> str:
    found = shutil.which("redis-server") or (
        "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None
    )
    if found:
        return found
    # A fresh CI machine: Debian's package (7 MB), as the README's "N boxes" section says.
    apt = ["apt-get", "install", "-y", "-q", "redis-server"]
    if os.geteuid() != 0:
        apt = ["sudo", "-n", *apt]
    subprocess.run([*apt[:-4], "update", "-q"], check=False, capture_output=True, timeout=300)
    subprocess.run(
        apt,
        check=True,
        capture_output=True,
        timeout=600,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
    )
    found = shutil.which("redis-server") or "/usr/bin/redis-server"
    assert Path(found).exists(), "apt-get installed redis-server but it is not on PATH"
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """One redis-server process on loopback; `restart()` keeps the port, loses the data."""

    def __init__(self, binary: str, folder: Path, *, password: str | None = None) -> None:
        self.password = password
        self.binary = binary
        self.folder = folder
        self.port = _free_port()
        auth = f":{password}@" if password else ""
        self.url = f"redis://{auth}127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder)]
        args += ["--save", "", "--appendonly", "no", "--daemonize", "no", "--logfile", "redis.log"]
        args += ["--requirepass", self.password] if self.password else []
        self.proc = subprocess.Popen(
            args, cwd=self.folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + STARTUP_S
        while not self.ping():
            assert self.proc.poll() is None, (self.folder / "redis.log").read_text()
            assert time.monotonic() < deadline, "redis-server did not answer PING"
            time.sleep(0.02)

    def ping(self) -> bool:
        import redis

        try:
            return bool(redis.Redis(port=self.port, password=self.password, socket_timeout=0.5).ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.proc = None

    def restart(self) -> None:
        """A crash without persistence: queues, liveness keys and results are gone."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(timeout=10)
        self.start()

    def client(self) -> Any:
        import redis

        return redis.Redis(port=self.port, password=self.password, socket_timeout=5)


@pytest.fixture
def make_redis_server(tmp_path: Path) -> Iterator[Callable[..., RedisServer]]:
    """`make_redis_server(password=...)`: another server for this test only."""
    made: list[RedisServer] = []

    def make(**kwargs: Any) -> RedisServer:
        folder = tmp_path / f"redis-{len(made)}"
        folder.mkdir()
        server = RedisServer(_redis_binary(), folder, **kwargs)
        server.start()
        made.append(server)
        return server

    yield make
    for server in made:
        server.stop()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(_redis_binary(), tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    redis_server.client().flushall()
    return redis_server.url


@pytest.fixture
def make_settings(tmp_path: Path, tiny_models_dir: Path, redis_url: str) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "data_dir": tmp_path / "data",
            "models_dir": tiny_models_dir,
            "render_backend": "redis",
            "redis_url": redis_url,
            "in_process_worker": False,
            "rate_burst": 50,
            "rate_per_minute": 60.0,
            "max_waiting_per_user": 50,
            "max_waiting_per_guild": 1000,
            "lease_seconds": 30.0,
            # Long enough that a worker starting a job on a loaded 2-core CI runner is not taken
            # for lost three times over (a lost attempt counts, by design), short enough for tests.
            "farm_liveness_seconds": 4.0,
        }
        return isolated_settings(Settings, **{**values, **overrides})

    return make


class WorkerProcess:
    def __init__(self, name: str, proc: subprocess.Popen[bytes], log: Path) -> None:
        self.name = name
        self.proc = proc
        self.log = log

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def start_worker(
    tmp_path: Path, tiny_models_dir: Path, redis_url: str, redis_server: RedisServer
) -> Iterator[Callable[..., WorkerProcess]]:
    started: list[WorkerProcess] = []

    def start(name: str, *, model: str = "tiny", wait: bool = True, **env: str) -> WorkerProcess:
        log = tmp_path / f"worker-{name}.log"
        values = {
            "PROMPTREEL_MODELS_DIR": str(tiny_models_dir),
            "PROMPTREEL_DATA_DIR": str(tmp_path / f"worker-{name}"),
            "PROMPTREEL_OFFLINE": "true",
            "PROMPTREEL_DEVICE": "cpu",
            "PROMPTREEL_FARM_LIVENESS_SECONDS": "4",
            **env,
        }
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "engine",
                    "worker",
                    "--redis",
                    redis_url,
                    "--model",
                    model,
                    "--name",
                    name,
                ],
                env=child_env(**values),
                cwd=tmp_path,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        worker = WorkerProcess(name, proc, log)
        started.append(worker)
        if wait:
            client = redis_server.client()
            deadline = time.monotonic() + STARTUP_S * 2
            while not client.exists(f"promptreel:worker:{name}"):
                assert proc.poll() is None, worker.output()
                assert time.monotonic() < deadline, f"worker {name} never reported:\n{worker.output()}"
                time.sleep(0.05)
        return worker

    yield start
    for worker in started:  # all at once: each takes seconds to unload torch on a busy machine
        if worker.proc.poll() is None:
            worker.proc.terminate()
    for worker in started:
        try:
            worker.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()


@pytest.fixture(scope="session")
def tiny_renderer(tiny_models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A warm Renderer for the tiny preset, for the in-process worker tests."""
    from engine.render import Renderer
    from engine.settings import EngineSettings

    settings = isolated_settings(
        EngineSettings, data_dir=tmp_path_factory.mktemp("data"), models_dir=tiny_models_dir
    )
    return Renderer(settings, "tiny")


class S3Server:
    """moto's S3 server on loopback: boto3 talks to it as to AWS (credentials are made up)."""

    ENV: ClassVar[dict[str, str]] = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        self.port = _free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name="us-east-1",
        )

    def keys(self, bucket: str) -> list[str]:
        return [o["Key"] for o in self.client().list_objects_v2(Bucket=bucket).get("Contents", [])]


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    server = S3Server()
    server.server.start()
    yield server
    server.server.stop()


@pytest.fixture
def s3_bucket(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> str:
    """A fresh bucket for this test, its name; this process gets the made-up credentials."""
    for name, value in S3Server.ENV.items():
        monkeypatch.setenv(name, value)
    bucket = f"clips-{abs(hash(request.node.nodeid)) % 10**8}"
    s3_server.client().create_bucket(Bucket=bucket)
    return bucket
