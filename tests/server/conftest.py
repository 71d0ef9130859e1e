"""Fixtures that run the real server (`python -m server`) in a subprocess.

Every test talks HTTP to a real uvicorn on 127.0.0.1, so what is tested is
what ships: routing, middleware, streaming, signals.
"""

from __future__ import annotations

import base64
import hashlib
import os
import signal
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT as REPO
from tests.conftest import RunningServer
from tests.services.postgres import database_table, postgres, url_for  # noqa: F401  (postgres: a fixture)
from tests.services.s3 import moto, s3_bucket  # noqa: F401  (fixtures: moto_server once, a bucket per module)

from .stored import FolderStored, S3Stored, Stored

STORAGES = ["folder", "s3"]   # a module that tests bytes runs with both: `storage` fixture over STORAGES
AGENT = {"Authorization": "Bearer agent-dev-token"}
CUSTOMER = {"Authorization": "Bearer customer-dev-token"}

TEST_CONFIG = """
[attachments]
max_file_size = "300 MB"
accepted_types = ["image/*", ".pdf", ".txt", ".docx", ".html"]
max_files_per_message = 2

[identities]
agent = "agent-dev-token"
customer = "customer-dev-token"

[server]
cors_allow_origins = ["https://portal.example.com"]
"""

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
       b"\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84\x00\x00\x00\x00IEND\xaeB`\x82")
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 44 + b"\x80\x00\x00\x00" + \
      b"\x00" * 64 + b"PE\x00\x00L\x01" + b"\x00" * 200


class Server(RunningServer):
    """A test server and a view of what it stored (`stored`), in the folder or the bucket."""

    def __init__(self, *args, stored: Stored, database_url: str | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.stored, self.database_url = stored, database_url     # database_url None: SQLite in `data`


@pytest.fixture
def storage() -> str:
    """Where servers keep bytes: "folder" (--data) here; modules that test bytes also run "s3"
    (they define `storage` over STORAGES)."""
    return "folder"


@pytest.fixture(scope="module")
def database_kind() -> str:
    """The servers' database: SQLite (the default); a module that imports
    tests.services.postgres.both_databases runs on PostgreSQL too."""
    return "sqlite"


@pytest.fixture
def database_url(database_kind: str, request: pytest.FixtureRequest) -> str | None:
    """None (SQLite in the data dir), or a fresh PostgreSQL database for this test's servers."""
    return url_for(database_kind, request)


@pytest.fixture
def make_server(tmp_path: Path, storage: str, database_url: str | None, request) -> Iterator:
    """Factory: `make_server(data=..., config_text=..., static_root=...)`; all are stopped at the end.

    With storage "s3", the config gains a [storage] table: this module's bucket, a key
    prefix per data folder (a restarted server finds its files again); and, as files in a
    bucket need a shared database, a PostgreSQL one. Every server of a test shares its database."""
    servers: list[Server] = []
    bucket = request.getfixturevalue("s3_bucket") if storage == "s3" else None
    if bucket is not None and database_url is None:
        database_url = url_for("postgresql", request)
    tables: dict[bool, str] = {}

    def shared_tables(config_text: str) -> str:
        """[database] (and a [broker] unless the config names one): the same for every server of the test."""
        own_broker = "[broker]" in config_text
        if own_broker not in tables:
            tables[own_broker] = database_table(database_url, request, config_text)
        return tables[own_broker]

    def make(data: Path | None = None, config_text: str | None = TEST_CONFIG, static_root: Path | None = None,
             extra: tuple[str, ...] = (), start: bool = True, s3_endpoint: str | None = None,
             s3_prefix: str | None = None) -> Server:
        data = data or tmp_path / "data"
        config = None
        stored: Stored = FolderStored(data)
        if bucket is not None:
            prefix = s3_prefix or "t-" + hashlib.sha256(str(data).encode()).hexdigest()[:16]
            config_text = (config_text or "") + bucket.config(prefix, s3_endpoint)
            stored = S3Stored(bucket.moto.client(), bucket.name, prefix)
        if database_url is not None:
            config_text = (config_text or "") + shared_tables(config_text or "")
        if config_text is not None:
            config = tmp_path / f"config{len(servers)}.toml"
            config.write_text(config_text)
        server = Server(data, config, static_root, tmp_path / f"server{len(servers)}.log", extra, stored=stored,
                        database_url=database_url)
        servers.append(server)
        return server.start() if start else server

    yield make
    for server in servers:
        try:
            server.stop(signal.SIGKILL)
        except Exception:
            pass


@pytest.fixture
def server(make_server) -> Server:
    return make_server()


@pytest.fixture
def agent(server: Server) -> Iterator[httpx.Client]:
    with server.client(AGENT) as c:
        yield c


@pytest.fixture
def customer(server: Server) -> Iterator[httpx.Client]:
    with server.client(CUSTOMER) as c:
        yield c


TUS = {"Tus-Resumable": "1.0.0"}
OCTETS = "application/offset+octet-stream"


def metadata(name: str, content_type: str = "") -> str:
    """Upload-Metadata as tus-js-client and Uppy send it: `filename`, `filetype`, base64."""
    pairs = {"filename": name, "filetype": content_type}
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" if v else k for k, v in pairs.items())


def start_upload(client: httpx.Client, name: str, size: int, content_type: str = "") -> httpx.Response:
    """tus creation: POST /api/uploads with Upload-Length and Upload-Metadata."""
    return client.post("/api/uploads", headers={**TUS, "Upload-Length": str(size),
                                                "Upload-Metadata": metadata(name, content_type)})


def upload_id(response: httpx.Response) -> str:
    """The id a message refers to: the last segment of Location."""
    return response.headers["location"].rsplit("/", 1)[-1]


def patch(client: httpx.Client, upload_id: str, offset: int, data, **headers: str) -> httpx.Response:
    return client.patch(f"/api/uploads/{upload_id}", content=data,
                        headers={**TUS, "Upload-Offset": str(offset), "Content-Type": OCTETS, **headers})


def offset_of(client: httpx.Client, upload_id: str) -> int:
    r = client.head(f"/api/uploads/{upload_id}", headers=TUS)
    assert r.status_code == 200, r.status_code
    return int(r.headers["upload-offset"])


def upload(client: httpx.Client, name: str, data: bytes, content_type: str = "", chunk: int | None = None) -> dict:
    """Upload `data` in chunks of `chunk` bytes (default: one PATCH); returns what the tus answers said."""
    r = start_upload(client, name, len(data), content_type)
    assert r.status_code == 201, r.text
    uid, offset = upload_id(r), 0
    chunk = chunk or len(data)
    while offset < len(data):
        r = patch(client, uid, offset, data[offset:offset + chunk])
        assert r.status_code == 204, r.text
        offset = int(r.headers["upload-offset"])
    return {"upload_id": uid, "location": f"/api/uploads/{uid}", "offset": offset, "size": len(data)}


class BigPdf:
    """`size` bytes that sniff as a PDF, generated as they are sent (never held whole); `sha256` once sent."""

    def __init__(self, size: int) -> None:
        self.size, self._hash = size, hashlib.sha256()
        self._block = os.urandom(1024 * 1024)

    def __iter__(self) -> Iterator[bytes]:
        head = PDF + self._block[len(PDF):]
        for i in range(self.size // len(self._block)):
            piece = head if i == 0 else self._block
            self._hash.update(piece)
            yield piece

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()


def peak_rss_kb(server: RunningServer) -> int:
    return int(open(f"/proc/{server.proc.pid}/status").read().split("VmHWM:")[1].split()[0])


@contextmanager
def partial_patch(server: Server, upload_id: str, data: bytes, sent: int) -> Iterator[socket.socket]:
    """A PATCH that declares all of `data` but sends only its first `sent` bytes,
    over a raw socket kept open inside the block (a client that drops or stalls)."""
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as s:
        s.sendall((f"PATCH /api/uploads/{upload_id} HTTP/1.1\r\nHost: x\r\n"
                   f"Authorization: Bearer agent-dev-token\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\n"
                   f"Content-Type: {OCTETS}\r\nContent-Length: {len(data)}\r\n\r\n").encode() + data[:sent])
        yield s


def send(client: httpx.Client, text: str = "", attachments: list[str] = (), key: str = "",
         cid: str = "default") -> httpx.Response:
    """POST a message; a fresh idempotency key unless `key` is given (the server requires one)."""
    return client.post(f"/api/conversations/{cid}/messages",
                       json={"idempotency_key": key or uuid.uuid4().hex, "text": text, "attachments": list(attachments)})


def lines(response: httpx.Response) -> Iterator[str]:
    """One line iterator per streaming response (httpx streams a body only once)."""
    if not hasattr(response, "_sse_lines"):
        response._sse_lines = response.iter_lines()
    return response._sse_lines


def read_events(response: httpx.Response, count: int) -> list[dict]:
    """Parse SSE frames from a streaming response until `count` message events arrived."""
    import json

    events: list[dict] = []
    current: dict = {}
    for line in lines(response):
        if line == "":
            if current.get("event") == "message":
                events.append({"id": int(current["id"]), "data": json.loads(current["data"])})
                if len(events) >= count:
                    return events
            current = {}
        elif line.startswith(":"):
            current.setdefault("comments", []).append(line)
        else:
            field, _, value = line.partition(":")
            current[field] = value[1:] if value.startswith(" ") else value
    return events
