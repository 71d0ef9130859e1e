"""Interop with a tus client nobody here wrote: tus-js-client (npm, pinned), run by Node.

Each test runs tests/server/tus_client.cjs, which uploads with the agent's
token in a custom header and reports every PATCH's Upload-Offset; the upload
is then sent in a message and downloaded byte for byte.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from .conftest import AGENT, STORAGES, EXE, PDF, REPO, TUS, offset_of, partial_patch, send, start_upload, upload_id
from tools.waiting import wait_until


@pytest.fixture(params=STORAGES)
def storage(request) -> str:
    """Every test here runs against the --data folder and an S3 bucket (moto)."""
    return request.param


SCRIPT = REPO / "tests" / "server" / "tus_client.cjs"
CONFIG = """
[attachments]
max_file_size = "3 MB"
accepted_types = ["image/*", ".pdf"]
"""


@pytest.fixture(scope="module")
def node() -> str:
    found = shutil.which("node")
    assert found, "Node.js is needed for the tus interop tests (python3 build.py setup installs tus-js-client)"
    assert (REPO / "node_modules" / "tus-js-client").is_dir(), "run `python3 build.py setup` (npm ci) first"
    return found


@pytest.fixture
def tus_server(make_server):
    return make_server(config_text=CONFIG)


def tus_js(node: str, server, tmp_path, data: bytes, name: str, type_: str, mode: str = "upload", **extra) -> dict:
    path = tmp_path / "payload.bin"
    path.write_bytes(data)
    args = {"endpoint": server.url + "/api/uploads", "token": "agent-dev-token", "file": str(path),
            "name": name, "type": type_, "mode": mode, **extra}
    done = subprocess.run([node, str(SCRIPT), json.dumps(args)], cwd=REPO, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def sent_and_downloaded(server, url: str, name: str) -> bytes:
    """Attach the upload (its id is the last segment of the URL) to a message and download it."""
    uid = url.rsplit("/", 1)[-1]
    with server.client(AGENT) as c:
        r = send(c, "from tus-js-client", [uid])
        assert r.status_code == 201, r.text
        att = r.json()["attachments"][0]
        assert (att["id"], att["name"]) == (uid, name)
        return c.get(att["url"]).content


def test_tus_js_client_uploads_and_the_file_is_sendable(node, tus_server, tmp_path):
    data = PDF + os.urandom(1_500_000)
    result = tus_js(node, tus_server, tmp_path, data, "report.pdf", "application/pdf")
    assert result["ok"] is True, result
    assert result["url"].startswith(tus_server.url + "/api/uploads/")     # our relative Location, resolved
    assert result["patches"] == [0]
    assert sent_and_downloaded(tus_server, result["url"], "report.pdf") == data


def test_tus_js_client_resumes_from_the_stored_url_after_an_abort(node, tus_server, tmp_path):
    data = PDF + os.urandom(1_000_000)
    chunk = 256 * 1024
    result = tus_js(node, tus_server, tmp_path, data, "resumed.pdf", "application/pdf", "chunks", chunkSize=chunk)
    first, second = result["first"], result["second"]
    assert first["aborted"] and first["accepted"] == chunk and first["patches"] == [0]
    assert second["ok"] is True and second["url"] == first["url"]
    # the new client asked the server (HEAD) and sent only what it did not have
    assert second["patches"] == list(range(chunk, len(data), chunk))
    assert sent_and_downloaded(tus_server, second["url"], "resumed.pdf") == data


def test_tus_js_client_resumes_an_upload_cut_mid_request(node, tus_server, tmp_path):
    """A PATCH dropped after 1 MB (raw socket); tus-js-client, given the URL, sends only the rest."""
    data = PDF + os.urandom(2_500_000)
    sent = 1_000_000
    with tus_server.client(AGENT) as c:
        uid = upload_id(start_upload(c, "cut.pdf", len(data), "application/pdf"))
        with partial_patch(tus_server, uid, data, sent):
            pass
        wait_until(lambda: offset_of(c, uid) == sent, "the server keeps what the dropped PATCH sent", 10)
    url = f"{tus_server.url}/api/uploads/{uid}"
    result = tus_js(node, tus_server, tmp_path, data, "cut.pdf", "application/pdf", "resume", uploadUrl=url)
    assert result["ok"] is True and result["url"] == url, result
    assert result["patches"] == [sent]
    assert sent_and_downloaded(tus_server, url, "cut.pdf") == data


def test_tus_js_client_terminates(node, tus_server, tmp_path):
    data = PDF + os.urandom(600_000)
    result = tus_js(node, tus_server, tmp_path, data, "gone.pdf", "application/pdf", "terminate", chunkSize=200_000)
    assert result["aborted"] is True
    uid = result["url"].rsplit("/", 1)[-1]
    with tus_server.client(AGENT) as c:
        assert c.head(f"/api/uploads/{uid}", headers=TUS).status_code == 404
    assert tus_server.stored.partials() == []


@pytest.mark.parametrize("data,name,type_,status,code", [
    (EXE, "photo.png", "image/png", 415, "type_mismatch"),                 # judged by content, first PATCH
    (EXE, "setup.exe", "application/x-msdownload", 415, "type_not_accepted"),   # judged at creation
    (PDF + bytes(3_100_000), "huge.pdf", "application/pdf", 413, "too_large"),   # Upload-Length over the limit
])
def test_tus_js_client_sees_our_refusals(node, tus_server, tmp_path, data, name, type_, status, code):
    result = tus_js(node, tus_server, tmp_path, data, name, type_)
    assert result["ok"] is False and result["status"] == status, result
    assert result["tusResumable"] == "1.0.0"
    error = json.loads(result["body"])["error"]
    assert error["code"] == code and name in error["message"] and error["hint"]
    assert tus_server.stored.partials() == []
