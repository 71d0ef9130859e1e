"""A real redis-server (Debian's) on a free port of 127.0.0.1, for the tests and the benches.

Installed with apt-get when missing (the machines run as root). The tests start one
per session (the `redis_service` fixture); a test may `stop()` and `start()`
it again on the same port (Redis lost and back under a running server), and
must leave it running. Nothing is saved to disk: each start is empty, as a
Redis restarted without persistence would be.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

from tools.services.process import await_answer, free_port, stop_process


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

    def start(self, timeout: float = 10) -> RedisService:
        with open(self.dir / "redis.log", "ab") as log:   # the server writes to its own copy of the descriptor
            self.proc = subprocess.Popen(
                [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                 "--dir", str(self.dir), "--protected-mode", "yes"], stdout=log, stderr=subprocess.STDOUT)
        await_answer(self.proc, self.answers, "redis-server", self.dir / "redis.log", timeout)
        return self

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
