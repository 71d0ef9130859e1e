"""tus uploads: happy paths, offsets, and the server's second opinion on content."""

from __future__ import annotations

import hashlib
import os

import pytest

from .conftest import EXE, STORAGES, PDF, PNG, TUS, offset_of, patch, send, start_upload, upload, upload_id


@pytest.fixture(params=STORAGES)
def storage(request) -> str:
    """Every test here runs against the --data folder and an S3 bucket (moto)."""
    return request.param


def attachment(client, uid: str) -> dict:
    """What a message says of the upload (its stored name and believed type)."""
    return send(client, "", [uid]).json()["attachments"][0]


def test_small_upload_in_one_patch(server, agent):
    r = start_upload(agent, "pixel.png", len(PNG), "image/png")
    assert r.status_code == 201 and r.content == b""
    uid = upload_id(r)
    assert r.headers["location"] == f"/api/uploads/{uid}"
    assert r.headers["tus-resumable"] == "1.0.0" and r.headers["upload-expires"].endswith(" GMT")
    assert offset_of(agent, uid) == 0
    r = patch(agent, uid, 0, PNG)
    assert r.status_code == 204 and r.content == b""
    assert r.headers["upload-offset"] == str(len(PNG)) and r.headers["tus-resumable"] == "1.0.0"
    assert server.stored.media(hashlib.sha256(PNG).hexdigest()) == PNG
    assert server.stored.partials() == []
    att = attachment(agent, uid)
    assert (att["id"], att["name"], att["size"], att["content_type"]) == (uid, "pixel.png", len(PNG), "image/png")


def test_multi_chunk_upload_with_head_between_chunks(server, agent):
    data = PDF + os.urandom(3 * 1024 * 1024 + 17)
    uid = upload_id(start_upload(agent, "report.pdf", len(data), "application/pdf"))
    off = 0
    for size in (1, 10, 5000, 1024 * 1024, 10**9):     # tiny chunks too: the head is judged across them
        r = patch(agent, uid, off, data[off:off + size])
        assert r.status_code == 204, r.text
        off = int(r.headers["upload-offset"])
        assert offset_of(agent, uid) == off
        if off == len(data):
            break
    assert off == len(data)
    assert attachment(agent, uid)["content_type"] == "application/pdf"
    assert server.stored.media(hashlib.sha256(data).hexdigest()) == data
    assert server.stored.partials() == []


def test_wrong_offset_is_409_with_the_server_offset(agent):
    uid = upload_id(start_upload(agent, "a.txt", 10, "text/plain"))
    assert patch(agent, uid, 0, b"hello").status_code == 204
    r = patch(agent, uid, 2, b"world")
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "offset_mismatch" and r.json()["error"]["offset"] == 5
    assert offset_of(agent, uid) == 5                    # the upload was not modified
    r = patch(agent, uid, 5, b"world")
    assert r.status_code == 204 and r.headers["upload-offset"] == "10"


def test_more_bytes_than_declared_is_413_and_keeps_the_upload(agent):
    uid = upload_id(start_upload(agent, "a.txt", 10, "text/plain"))
    assert patch(agent, uid, 0, b"12345").status_code == 204
    r = patch(agent, uid, 5, b"6789012345")
    assert r.status_code == 413 and r.json()["error"]["code"] == "exceeds_declared_size"
    assert offset_of(agent, uid) == 5
    # without Content-Length (chunked), the limit is enforced while streaming
    r = patch(agent, uid, 5, iter([b"678", b"90123"]))
    assert r.status_code == 413
    assert offset_of(agent, uid) == 5
    assert patch(agent, uid, 5, b"67890").headers["upload-offset"] == "10"


@pytest.mark.parametrize("headers,status,code", [
    ({"Upload-Offset": ""}, 400, "bad_upload_offset"),
    ({"Upload-Offset": "-1"}, 400, "bad_upload_offset"),
    ({"Content-Type": "application/octet-stream"}, 415, "bad_content_type"),
])
def test_patch_needs_an_offset_and_the_tus_content_type(agent, headers, status, code):
    uid = upload_id(start_upload(agent, "a.txt", 3))
    r = patch(agent, uid, 0, b"abc", **headers)
    assert r.status_code == status and r.json()["error"]["code"] == code
    assert offset_of(agent, uid) == 0


def test_unknown_upload_is_404(agent):
    missing = "0123456789abcdef0123456789abcdef"
    r = agent.head(f"/api/uploads/{missing}", headers=TUS)
    assert r.status_code == 404 and "upload-offset" not in r.headers
    assert agent.head("/api/uploads/..%2F..%2Fsecret", headers=TUS).status_code == 404
    assert patch(agent, missing, 0, b"x").status_code == 404
    assert agent.delete(f"/api/uploads/{missing}", headers=TUS).status_code == 404


@pytest.mark.parametrize("name,size,ctype,status,code", [
    ("big.pdf", 300_000_001, "application/pdf", 413, "too_large"),
    ("setup.exe", 1000, "application/x-msdownload", 415, "type_not_accepted"),
    ("notes.txt", 0, "text/plain", 422, "empty"),
    ("", 10, "", 422, "invalid_name"),
])
def test_creation_is_judged_by_core_restrictions(agent, name, size, ctype, status, code):
    r = start_upload(agent, name, size, ctype)
    assert r.status_code == status, r.text
    assert "location" not in r.headers
    err = r.json()["error"]
    assert err["code"] == code and err["message"]
    if code in ("too_large", "type_not_accepted", "empty"):
        assert name in err["message"] and err["hint"]      # core's sentence, naming the file


@pytest.mark.parametrize("headers,code", [
    ({}, "bad_upload_length"),
    ({"Upload-Length": "ten"}, "bad_upload_length"),
    ({"Upload-Length": "-3"}, "bad_upload_length"),
    ({"Upload-Defer-Length": "1"}, "length_required"),
    ({"Upload-Length": "3", "Upload-Metadata": "filename not-base64!"}, "bad_metadata"),
    ({"Upload-Length": "3", "Upload-Metadata": "filename YS50eHQ=,filename YS50eHQ="}, "bad_metadata"),
    ({"Upload-Length": "3", "Upload-Metadata": "filename //79"}, "bad_metadata"),     # not UTF-8
])
def test_malformed_creation_is_400(agent, headers, code):
    r = agent.post("/api/uploads", headers={**TUS, **headers})
    assert r.status_code == 400 and r.json()["error"]["code"] == code, r.text


def test_renamed_exe_is_refused_at_the_first_patch_and_terminated(server, agent):
    uid = upload_id(start_upload(agent, "photo.png", len(EXE), "image/png"))
    r = patch(agent, uid, 0, EXE)
    assert r.status_code == 415
    err = r.json()["error"]
    assert err["code"] == "type_mismatch" and "photo.png" in err["message"]
    assert agent.head(f"/api/uploads/{uid}", headers=TUS).status_code == 404
    assert server.stored.partials() == []
    assert server.stored.media_names() == []


def test_content_is_judged_even_when_the_head_arrives_in_pieces(server, agent):
    uid = upload_id(start_upload(agent, "notes.txt", len(EXE), "text/plain"))
    assert patch(agent, uid, 0, EXE[:10]).status_code == 204
    r = patch(agent, uid, 10, EXE[10:])
    assert r.status_code == 415 and r.json()["error"]["code"] == "type_mismatch"
    assert server.stored.partials() == []


def test_unknown_name_is_judged_by_content(agent):
    # no extension: the creation cannot judge the type, the first bytes do
    uid = upload_id(start_upload(agent, "README", len(EXE)))
    r = patch(agent, uid, 0, EXE)
    assert r.status_code == 415 and r.json()["error"]["code"] == "type_not_accepted"
    ok = upload(agent, "picture", PNG)
    assert attachment(agent, ok["upload_id"])["content_type"] == "image/png"


def test_a_big_refused_body_still_gets_its_answer(agent):
    """The server reads (and drops) the rest of a refused chunk so the client sees 415, not a reset."""
    data = EXE + b"\x00" * (8 * 1024 * 1024)
    uid = upload_id(start_upload(agent, "photo.png", len(data), "image/png"))
    assert patch(agent, uid, 0, data).status_code == 415


def test_same_content_twice_is_stored_once(server, agent):
    a = upload(agent, "a.png", PNG)
    b = upload(agent, "b.png", PNG)
    assert a["upload_id"] != b["upload_id"]
    assert len(server.stored.media_names()) == 1


def test_names_lose_directories_and_control_characters(agent):
    uid = upload(agent, "../../etc/pa\x00ss\nwd.txt", b"abc", "text/plain")["upload_id"]
    assert attachment(agent, uid)["name"] == "passwd.txt"
    uid = upload(agent, "C:\\Users\\me\\r\u00e9sum\u00e9.pdf", PDF)["upload_id"]
    assert attachment(agent, uid)["name"] == "r\u00e9sum\u00e9.pdf"


def test_retried_final_patch_and_patch_after_completion(agent):
    uid = upload(agent, "done.txt", b"done", "text/plain")["upload_id"]
    r = patch(agent, uid, 4, b"")
    assert r.status_code == 204 and r.headers["upload-offset"] == "4"
    r = patch(agent, uid, 0, b"done")
    assert r.status_code == 409 and r.json()["error"]["offset"] == 4
    assert patch(agent, uid, 4, b"more").status_code == 413
