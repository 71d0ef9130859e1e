"""The tus 1.0.0 protocol itself: discovery, versions, headers, override, termination, concurrency."""

from __future__ import annotations

import base64
import hashlib
import itertools
import threading
import time
from email.utils import parsedate_to_datetime

import pytest

from .conftest import (AGENT, CUSTOMER, PDF, PNG, STORAGES, TUS, offset_of, partial_patch, patch, send, start_upload,
                       upload, upload_id)


@pytest.fixture(params=STORAGES)
def storage(request) -> str:
    """Every test here runs against the --data folder and an S3 bucket (moto)."""
    return request.param


UPLOAD = "/api/uploads/0123456789abcdef0123456789abcdef"


def test_options_says_what_the_server_speaks_without_a_token(server):
    with server.client() as c:
        for path in ("/api/uploads", UPLOAD):
            r = c.options(path)
            assert r.status_code == 204
            assert r.headers["tus-version"] == "1.0.0" and r.headers["tus-resumable"] == "1.0.0"
            assert set(r.headers["tus-extension"].split(",")) == {"creation", "expiration", "termination"}
            assert r.headers["tus-max-size"] == "300000000"             # [attachments] max_file_size
            # a plain OPTIONS from another page (no Access-Control-Request-Method) is tus, not a preflight
            r = c.options(path, headers={"Origin": "https://portal.example.com"})
            assert r.status_code == 204 and r.headers["tus-max-size"] == "300000000"
            assert r.headers["access-control-allow-origin"] == "https://portal.example.com"


def test_other_tus_versions_get_412_and_nothing_happens(server, agent, storage):
    """tus: another version is 412; a missing or garbled header is a malformed request (400). Both say
    which version to speak (Tus-Version)."""
    uid = upload_id(start_upload(agent, "a.txt", 3, "text/plain"))
    answers = {"0.2.2": (412, "tus_version_unsupported"), "2.0.0": (412, "tus_version_unsupported"),
               None: (400, "bad_tus_resumable"), "": (400, "bad_tus_resumable"), "banana": (400, "bad_tus_resumable")}
    for (version, (status, code)), method, path in itertools.product(
            answers.items(), ["POST", "HEAD", "PATCH", "DELETE"], ["/api/uploads", f"/api/uploads/{uid}"]):
        headers = {"Upload-Length": "3", "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"}
        if version is not None:
            headers["Tus-Resumable"] = version
        r = agent.request(method, path, headers=headers, content=b"abc" if method == "PATCH" else None)
        assert r.status_code == status, (version, method, path)
        assert r.headers["tus-version"] == "1.0.0" and r.headers["tus-resumable"] == "1.0.0"
        if method != "HEAD":
            assert r.json()["error"]["code"] == code
    assert server.stored.partials() == ([f"{uid}.part"] if storage == "folder" else [])   # S3: no byte, no object
    assert offset_of(agent, uid) == 0


def test_every_answer_on_upload_urls_carries_tus_resumable(server, agent):
    with server.client(TUS) as anonymous:
        assert anonymous.post("/api/uploads").headers["tus-resumable"] == "1.0.0"          # 401
    assert agent.head(UPLOAD, headers=TUS).headers["tus-resumable"] == "1.0.0"            # 404
    assert "tus-resumable" not in agent.get("/api/restrictions").headers                  # not elsewhere


def test_head_reports_offset_length_metadata_and_expiry(agent):
    r = start_upload(agent, "résumé.pdf", len(PDF), "application/pdf")
    created_expires = parsedate_to_datetime(r.headers["upload-expires"])
    uid = upload_id(r)
    assert patch(agent, uid, 0, PDF[:10]).status_code == 204
    r = agent.head(f"/api/uploads/{uid}", headers=TUS)
    assert r.status_code == 200 and r.content == b""
    assert (r.headers["upload-offset"], r.headers["upload-length"]) == ("10", str(len(PDF)))
    assert r.headers["cache-control"] == "no-store"
    pairs = dict(p.split(" ") for p in r.headers["upload-metadata"].split(","))
    assert {k: base64.b64decode(v).decode() for k, v in pairs.items()} == {
        "filename": "résumé.pdf", "filetype": "application/pdf"}
    expires = parsedate_to_datetime(r.headers["upload-expires"])
    assert expires >= created_expires                      # activity moves the expiry, never back
    assert (expires - created_expires).total_seconds() < 3600   # 24 h from now, not from some other time


def test_a_sent_upload_no_longer_expires(agent):
    uid = upload(agent, "p.png", PNG, "image/png")["upload_id"]
    assert "upload-expires" in agent.head(f"/api/uploads/{uid}", headers=TUS).headers
    send(agent, "pic", [uid])
    r = agent.head(f"/api/uploads/{uid}", headers=TUS)
    assert r.status_code == 200 and "upload-expires" not in r.headers


def test_metadata_may_name_the_file_the_way_uppy_does(agent):
    meta = f"name {base64.b64encode(b'shot.png').decode()},type {base64.b64encode(b'image/png').decode()},private"
    r = agent.post("/api/uploads", headers={**TUS, "Upload-Length": str(len(PNG)), "Upload-Metadata": meta})
    assert r.status_code == 201, r.text
    uid = upload_id(r)
    assert patch(agent, uid, 0, PNG).status_code == 204
    assert send(agent, "", [uid]).json()["attachments"][0]["name"] == "shot.png"


def test_x_http_method_override_turns_a_post_into_patch_and_delete(server, agent):
    uid = upload_id(start_upload(agent, "a.txt", 6, "text/plain"))
    r = agent.post(f"/api/uploads/{uid}", content=b"abc",
                   headers={**TUS, "X-HTTP-Method-Override": "PATCH", "Upload-Offset": "0",
                            "Content-Type": "application/offset+octet-stream"})
    assert r.status_code == 204 and r.headers["upload-offset"] == "3"
    r = agent.post(f"/api/uploads/{uid}", headers={**TUS, "X-HTTP-Method-Override": "DELETE"})
    assert r.status_code == 204
    assert agent.head(f"/api/uploads/{uid}", headers=TUS).status_code == 404


def test_termination_frees_partial_and_unsent_uploads_but_not_sent_ones(server, agent):
    partial = upload_id(start_upload(agent, "half.pdf", len(PDF), "application/pdf"))
    assert patch(agent, partial, 0, PDF[:20]).status_code == 204
    unsent = upload(agent, "unsent.pdf", PDF)["upload_id"]
    sent = upload(agent, "sent.png", PNG)["upload_id"]
    url = send(agent, "keep", [sent]).json()["attachments"][0]["url"]
    assert agent.delete(f"/api/uploads/{partial}", headers=TUS).status_code == 204
    assert agent.delete(f"/api/uploads/{unsent}", headers=TUS).status_code == 204
    for uid in (partial, unsent):
        assert agent.head(f"/api/uploads/{uid}", headers=TUS).status_code == 404
        assert patch(agent, uid, 0, PDF).status_code == 404
    assert server.stored.partials() == []
    assert server.stored.media(hashlib.sha256(PDF).hexdigest()) is None
    r = agent.delete(f"/api/uploads/{sent}", headers=TUS)
    assert r.status_code == 409 and r.json()["error"]["code"] == "upload_attached"
    assert agent.get(url).content == PNG


def test_terminating_an_upload_shared_by_content_keeps_the_other(server, agent):
    a = upload(agent, "a.pdf", PDF)["upload_id"]
    b = upload(agent, "b.pdf", PDF)["upload_id"]
    assert agent.delete(f"/api/uploads/{a}", headers=TUS).status_code == 204
    assert server.stored.media(hashlib.sha256(PDF).hexdigest()) == PDF
    assert send(agent, "", [b]).status_code == 201


def test_head_answers_while_a_patch_runs_and_a_second_patch_waits_its_turn(server, agent):
    data = PDF + bytes(3 * 1024 * 1024)
    uid = upload_id(start_upload(agent, "busy.pdf", len(data), "application/pdf"))
    sent = 1024 * 1024
    answers: list = []
    with server.client(AGENT) as other:
        with partial_patch(server, uid, data, sent):
            time.sleep(0.3)                        # the first PATCH holds the upload, stalled
            assert offset_of(agent, uid) == 0      # what is recorded; HEAD does not wait for the PATCH
            second = threading.Thread(target=lambda: answers.append(patch(other, uid, 0, data)))
            second.start()
            time.sleep(0.3)
            assert answers == []                   # still waiting for the first one
        second.join(10)
    r = answers[0]
    assert r.status_code == 409 and r.json()["error"]["offset"] == sent   # the first one's bytes count
    assert offset_of(agent, uid) == sent


def test_delete_stops_a_running_patch(server, agent):
    data = PDF + bytes(3 * 1024 * 1024)
    uid = upload_id(start_upload(agent, "stop.pdf", len(data), "application/pdf"))
    answers: list = []
    with server.client(AGENT) as other, partial_patch(server, uid, data, 1024 * 1024) as sock:
        time.sleep(0.3)
        deleting = threading.Thread(target=lambda: answers.append(other.delete(f"/api/uploads/{uid}", headers=TUS)))
        deleting.start()
        time.sleep(0.3)
        assert answers == []                                     # waits for the running PATCH
        sock.sendall(data[1024 * 1024:1024 * 1024 + 1000])       # the PATCH sees the termination here
        deleting.join(10)
        sock.sendall(data[1024 * 1024 + 1000:])                  # the rest of the declared body
        reply = sock.recv(65536)
    assert answers[0].status_code == 204
    assert reply.startswith(b"HTTP/1.1 404")
    assert agent.head(f"/api/uploads/{uid}", headers=TUS).status_code == 404
    assert server.stored.partials() == []


def test_other_identities_cannot_see_or_end_an_upload(server, agent):
    uid = upload_id(start_upload(agent, "mine.pdf", len(PDF), "application/pdf"))
    with server.client(CUSTOMER) as customer:
        assert customer.options(f"/api/uploads/{uid}").status_code == 204     # discovery is public
        assert customer.delete(f"/api/uploads/{uid}", headers=TUS).status_code == 404
    assert offset_of(agent, uid) == 0
