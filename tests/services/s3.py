"""An S3 stand-in for the tests: `moto_server` (moto[server], from the venv) once per session.

Why moto: no MinIO server is installable here, and moto's S3 is faithful where
it matters to us (multipart uploads, the 5 MiB minimum part size, ranges,
copies). It takes any credentials; the server processes started by the tests
find them in the standard AWS variables, set here for the session, as a real
deployment would. Each test module gets a bucket of its own (`s3_bucket`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


@dataclass
class MotoServer:
    endpoint: str
    proc: subprocess.Popen
    log: Path

    def client(self):
        import boto3
        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def moto_binary() -> str:
    found = Path(sys.executable).with_name("moto_server")
    if not found.exists():         # a venv made before moto was pinned: install what requirements.txt names
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "moto[server]==5.2.6"], check=True)
    return str(found if found.exists() else shutil.which("moto_server"))


def start_moto(log: Path, port: int | None = None, timeout: float = 30) -> MotoServer:
    """`moto_server -H 127.0.0.1 -p PORT` on a free port (or `port`), once it answers."""
    from tests.conftest import free_port
    port = port or free_port()
    out = open(log, "ab")
    proc = subprocess.Popen([moto_binary(), "-H", "127.0.0.1", "-p", str(port)], stdout=out, stderr=subprocess.STDOUT)
    server = MotoServer(f"http://127.0.0.1:{port}", proc, log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"moto_server exited with {proc.returncode}:\n{log.read_text(errors='replace')}")
        try:
            httpx.get(server.endpoint + "/moto-api/", timeout=1)
            return server
        except httpx.TransportError:
            time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"moto_server did not answer within {timeout} s:\n{log.read_text(errors='replace')}")


@contextmanager
def aws_credentials() -> Iterator[None]:
    """The AWS variables a server process reads (as in a deployment), set while the block runs."""
    saved = {k: os.environ.get(k) for k in CREDENTIALS}
    os.environ.update(CREDENTIALS)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="session")
def moto(tmp_path_factory) -> Iterator[MotoServer]:
    """One moto_server for the session, with the AWS variables the server processes read."""
    with aws_credentials():
        server = start_moto(tmp_path_factory.mktemp("moto") / "moto.log")
        yield server
        server.stop()


@dataclass(frozen=True)
class Bucket:
    moto: MotoServer
    name: str

    def config(self, prefix: str = "attache", endpoint: str | None = None) -> str:
        """The [storage] table that points a server at this bucket (through `endpoint`, when given)."""
        return f'\n[storage]\nurl = "s3://{self.name}/{prefix}"\nendpoint_url = "{endpoint or self.moto.endpoint}"\n'


@pytest.fixture(scope="module")
def s3_bucket(moto: MotoServer) -> Bucket:
    """A fresh bucket for each test module."""
    name = f"attache-{uuid.uuid4().hex[:12]}"
    moto.client().create_bucket(Bucket=name)
    return Bucket(moto, name)
