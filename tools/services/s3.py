"""An S3 stand-in for the tests and the benches: `moto_server` (moto[server], from the venv).

Why moto: no MinIO server is installable here, and moto's S3 is faithful where
it matters to us (multipart uploads, the 5 MiB minimum part size, ranges,
copies). It takes any credentials; the server processes started by the tests
find them in the standard AWS variables, set here for the session, as a real
deployment would.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tools.services.process import answers_http, await_answer, free_port, stop_process

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
        stop_process(self.proc)


def moto_binary() -> str:
    found = Path(sys.executable).with_name("moto_server")
    if not found.exists():         # a venv made before moto was pinned: install what requirements.txt names
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "moto[server]==5.2.6"], check=True)
    return str(found if found.exists() else shutil.which("moto_server"))


def start_moto(log: Path, port: int | None = None, timeout: float = 30) -> MotoServer:
    """`moto_server -H 127.0.0.1 -p PORT` on a free port (or `port`), once it answers."""
    port = port or free_port()
    with open(log, "ab") as out:   # the server writes to its own copy of the descriptor
        proc = subprocess.Popen([moto_binary(), "-H", "127.0.0.1", "-p", str(port)], stdout=out,
                                stderr=subprocess.STDOUT)
    server = MotoServer(f"http://127.0.0.1:{port}", proc, log)
    await_answer(proc, answers_http(server.endpoint + "/moto-api/", lambda status: True), "moto_server", log, timeout)
    return server


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


@dataclass(frozen=True)
class Bucket:
    moto: MotoServer
    name: str

    def config(self, prefix: str = "attache", endpoint: str | None = None) -> str:
        """The [storage] table that points a server at this bucket (through `endpoint`, when given)."""
        return f'\n[storage]\nurl = "s3://{self.name}/{prefix}"\nendpoint_url = "{endpoint or self.moto.endpoint}"\n'
