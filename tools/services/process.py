"""Starting and stopping helper processes: a free port, a process that must answer before it is used."""
from __future__ import annotations

import socket
import subprocess
from collections.abc import Callable
from pathlib import Path

from tools.waiting import wait_until


class ServiceUnavailable(RuntimeError):
    """A service cannot run on this machine (not installed and not installable): tests skip, benches say so."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop_process(proc: subprocess.Popen, timeout: float = 10) -> None:
    """Terminate a helper process, killing it if it will not go."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def await_answer(proc: subprocess.Popen, answers: Callable[[], bool], name: str, log: Path | None,
                 timeout: float) -> None:
    """Wait until `answers()`; a RuntimeError with the log's tail if the process exits or never answers
    (the process is then stopped)."""
    def tail() -> str:
        return log.read_text(errors="replace")[-3000:] if log is not None and log.exists() else ""

    def ready() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}:\n{tail()}")
        return answers()

    try:
        wait_until(ready, f"{name} answers", timeout)
    except AssertionError:
        stop_process(proc)
        raise RuntimeError(f"{name} did not answer within {timeout} s:\n{tail()}") from None


def answers_http(url: str, ok: Callable[[int], bool] = lambda status: status == 200) -> Callable[[], bool]:
    """A check for `await_answer`: a GET of `url` answers with a status `ok` accepts."""
    import httpx

    def check() -> bool:
        try:
            return ok(httpx.get(url, timeout=1).status_code)
        except httpx.TransportError:
            return False
    return check
