"""Fixtures shared by the server and end-to-end tests: a real reference server."""
from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

# The Twilio rig's session fixtures (Prism, stand-ins, a kind = "twilio" server), for tests/twilio and tests/e2e alike.
pytest_plugins = ["tests.twilio.rig"]

ROOT = Path(__file__).resolve().parent.parent
AGENT_TOKEN = "agent-dev-token"
CUSTOMER_TOKEN = "customer-dev-token"


def run_async(coro):
    """`asyncio.run(coro)` on a thread of its own: in a full run the browser tests' Playwright loop
    may be running in this thread, where asyncio.run refuses to start another."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()



def stop_process(proc: subprocess.Popen, timeout: float = 10) -> None:
    """Terminate a helper process (Node, Prism), killing it if it will not go."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RunningServer:
    """`python -m server` in a subprocess on a fixed free port, restartable on the
    same data dir (so a page that was open reconnects to the same address)."""

    def __init__(self, data: Path, config: Path | None = None, static_root: Path | None = None,
                 log: Path | None = None, extra: tuple[str, ...] = ()) -> None:
        self.data, self.config, self.static_root, self.extra = data, config, static_root, extra
        self.log = log or data.parent / f"server-{data.name}.log"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self._log = None

    def start(self, timeout: float = 20) -> "RunningServer":
        cmd = [sys.executable, "-m", "server", "--host", "127.0.0.1", "--port", str(self.port),
               "--data", str(self.data), "--log-level", "warning", *self.extra]
        if self.config is not None:
            cmd += ["--config", str(self.config)]
        if self.static_root is not None:
            cmd += ["--static-root", str(self.static_root)]
        self._log = open(self.log, "ab")
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT,
                                     env={**os.environ, "PYTHONUNBUFFERED": "1"})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.output()}")
            try:
                if httpx.get(self.url + "/api/restrictions", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        self.stop(signal.SIGKILL)
        raise RuntimeError(f"server did not answer within {timeout}s:\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10) -> int | None:
        """Signal the server and wait; its exit code (None if it never ran)."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise
        finally:
            self._log.close()

    def restart(self) -> None:
        self.stop()
        self.start()

    def client(self, headers: dict[str, str] | None = None, timeout: float = 10) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=headers or {}, timeout=timeout)


def pytest_addoption(parser):
    parser.addoption("--mode", choices=("development", "production"), default="development",
                     help="browser tests against a development server, or a production one (signed tokens "
                          "from a portal on another origin; see tests/e2e/production.py)")


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
