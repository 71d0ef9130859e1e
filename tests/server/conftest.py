"""The server tests' clients and tus helpers; the servers come from `make_server` (tests/servers.py)."""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from tests.files import EXE, PDF, PNG  # noqa: F401  (the modules here import them from here)
from tests.servers import STORAGES, TEST_CONFIG, Server  # noqa: F401  (the modules here import them from here)
from tools.services.attache import ROOT as REPO, RunningServer  # noqa: F401  (REPO: the modules here import it)

AGENT = {"Authorization": "Bearer agent-dev-token"}
CUSTOMER = {"Authorization": "Bearer customer-dev-token"}



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
