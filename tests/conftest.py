"""Fixtures shared by the server and end-to-end tests: a real reference server."""
from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
AGENT_TOKEN = "agent-dev-token"
CUSTOMER_TOKEN = "customer-dev-token"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RunningServer:
    """`python -m server` in a subprocess, restartable on the same data dir."""

    def __init__(self, data_dir: Path, config: Path | None = None) -> None:
        self.data_dir = data_dir
        self.config = config
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "RunningServer":
        cmd = [sys.executable, "-m", "server", "--host", "127.0.0.1", "--port", str(self.port), "--data", str(self.data_dir)]
        if self.config:
            cmd += ["--config", str(self.config)]
        log = open(self.data_dir.parent / f"server-{self.port}.log", "ab")
        self.process = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}; see {log.name}")
            try:
                if httpx.get(f"{self.url}/api/restrictions", headers={"Authorization": f"Bearer {AGENT_TOKEN}"}, timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("server did not start within 20 s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture(scope="session")
def reference_server(tmp_path_factory):
    """One server for the session; tests isolate themselves by conversation id."""
    data = tmp_path_factory.mktemp("server") / "data"
    data.mkdir()
    server = RunningServer(data).start()
    yield server
    server.stop()


@pytest.fixture()
def make_server(tmp_path):
    """A server of the test's own (custom config, restarts)."""
    started: list[RunningServer] = []

    def make(config_text: str | None = None) -> RunningServer:
        data = tmp_path / f"data{len(started)}"
        data.mkdir()
        config = None
        if config_text is not None:
            config = tmp_path / f"config{len(started)}.toml"
            config.write_text(config_text)
        server = RunningServer(data, config).start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()
