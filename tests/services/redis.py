"""A real redis-server (Debian's) for the test session, on a free port of 127.0.0.1.

Installed with apt-get when missing (the machines run as root). Started once
per session by the `redis_service` fixture; a test may `stop()` and `start()`
it again on the same port (Redis lost and back under a running server), and
must leave it running. Nothing is saved to disk: each start is empty, as a
Redis restarted without persistence would be.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import free_port, stop_process


def redis_binary() -> str:
    found = shutil.which("redis-server")
    if found is None:
        install = ["apt-get", "install", "-y", "redis-server"]
        if subprocess.run(install, capture_output=True).returncode != 0:     # package lists not fetched yet
            subprocess.run(["apt-get", "update"], check=True, capture_output=True)
            subprocess.run(install, check=True, capture_output=True)
        found = shutil.which("redis-server")
    if found is None:
        raise RuntimeError("redis-server is not installed and apt-get could not install it")
    return found


class RedisService:
    def __init__(self) -> None:
        self.binary = redis_binary()
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.dir = Path(tempfile.mkdtemp(prefix="attache-redis-"))
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 10) -> "RedisService":
        log = open(self.dir / "redis.log", "ab")
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.dir), "--protected-mode", "yes"], stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited: {(self.dir / 'redis.log').read_text()}")
            if self.answers():
                return self
            time.sleep(0.05)
        raise RuntimeError(f"redis-server did not answer on {self.port} within {timeout}s")

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
            self.proc = None

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_service() -> Iterator[RedisService]:
    service = RedisService().start()
    yield service
    service.cleanup()
