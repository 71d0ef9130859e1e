"""The reference server (`python -m server`) in a subprocess, for the tests and the benches."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from tools.services.process import answers_http, await_answer, free_port

ROOT = Path(__file__).resolve().parents[2]
AGENT_TOKEN = "agent-dev-token"          # the development identities' tokens (server/config defaults)
CUSTOMER_TOKEN = "customer-dev-token"


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

    def start(self, timeout: float = 20) -> RunningServer:
        cmd = [sys.executable, "-m", "server", "--host", "127.0.0.1", "--port", str(self.port),
               "--data", str(self.data), "--log-level", "warning", *self.extra]
        if self.config is not None:
            cmd += ["--config", str(self.config)]
        if self.static_root is not None:
            cmd += ["--static-root", str(self.static_root)]
        with open(self.log, "ab") as log:   # the server writes to its own copy of the descriptor
            self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                         env={**os.environ, "PYTHONUNBUFFERED": "1"})
        await_answer(self.proc, answers_http(self.url + "/api/restrictions"), "the server", self.log, timeout)
        return self

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

    def restart(self) -> None:
        self.stop()
        self.start()

    def client(self, headers: dict[str, str] | None = None, timeout: float = 10) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=headers or {}, timeout=timeout)
