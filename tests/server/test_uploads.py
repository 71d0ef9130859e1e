"""Resumable uploads: happy paths, offsets, and the server's second opinion on content."""

from __future__ import annotations

import hashlib
import os

import pytest

from .conftest import EXE, PDF, PNG, start_upload, upload


def patch(client, upload_id, offset, data, **headers):
    return client.patch(f"/api/uploads/{upload_id}", content=data, headers={"Upload-Offset": str(offset), **headers})


def test_small_upload_in_one_patch(server, agent):
    r = start_upload(agent, "pixel.png", len(PNG), "image/png")
    assert r.status_code == 201
    state = r.json()
    assert set(state) == {"upload_id", "name", "size", "content_type", "offset", "complete"}
    assert (state["offset"], state["complete"], state["content_type"]) == (0, False, "image/png")
    assert r.headers["location"] == f"/api/uploads/{state['upload_id']}"
    r = patch(agent, state["upload_id"], 0, PNG)
    assert r.status_code == 200
    assert r.json()["complete"] is True and r.json()["offset"] == len(PNG)
    media = server.data / "media" / hashlib.sha256(PNG).hexdigest()
    assert media.read_bytes() == PNG
    assert not (server.data / "uploads" / f"{state['upload_id']}.part").exists()


def test_multi_chunk_upload_with_status_between_chunks(server, agent):
    data = PDF + os.urandom(3 * 1024 * 1024 + 17)
    state = start_upload(agent, "report.pdf", len(data), "application/pdf").json()
    uid, off = state["upload_id"], 0
    for size in (1, 10, 5000, 1024 * 1024, 10**9):     # tiny chunks too: the head is judged across them
        r = patch(agent, uid, off, data[off:off + size])
        assert r.status_code == 200, r.text
        off = r.json()["offset"]
        assert agent.get(f"/api/uploads/{uid}").json()["offset"] == off
        if off == len(data):
            break
    assert r.json()["complete"] is True and r.json()["content_type"] == "application/pdf"
    assert (server.data / "media" / hashlib.sha256(data).hexdigest()).read_bytes() == data


def test_wrong_offset_is_409_with_the_server_offset(agent):
    state = start_upload(agent, "a.txt", 10, "text/plain").json()
    assert patch(agent, state["upload_id"], 0, b"hello").status_code == 200
    r = patch(agent, state["upload_id"], 2, b"world")
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "offset_mismatch" and r.json()["error"]["offset"] == 5
    r = patch(agent, state["upload_id"], 5, b"world")
    assert r.status_code == 200 and r.json()["complete"] is True


def test_more_bytes_than_declared_is_413_and_keeps_the_upload(agent):
    state = start_upload(agent, "a.txt", 10, "text/plain").json()
    assert patch(agent, state["upload_id"], 0, b"12345").status_code == 200
    r = patch(agent, state["upload_id"], 5, b"6789012345")
    assert r.status_code == 413 and r.json()["error"]["code"] == "exceeds_declared_size"
    assert agent.get(f"/api/uploads/{state['upload_id']}").json()["offset"] == 5
    # without Content-Length (chunked), the limit is enforced while streaming
    r = agent.patch(f"/api/uploads/{state['upload_id']}", content=iter([b"678", b"90123"]),
                    headers={"Upload-Offset": "5"})
    assert r.status_code == 413
    assert patch(agent, state["upload_id"], 5, b"67890").json()["complete"] is True


def test_missing_upload_offset_is_400(agent):
    state = start_upload(agent, "a.txt", 3).json()
    r = agent.patch(f"/api/uploads/{state['upload_id']}", content=b"abc")
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad_offset"


def test_unknown_upload_is_404(agent):
    assert agent.get("/api/uploads/0123456789abcdef0123456789abcdef").status_code == 404
    assert agent.get("/api/uploads/..%2F..%2Fsecret").status_code == 404
    assert patch(agent, "0123456789abcdef0123456789abcdef", 0, b"x").status_code == 404


@pytest.mark.parametrize("body,status,code", [
    ({"name": "big.pdf", "size": 300_000_001, "content_type": "application/pdf"}, 413, "too_large"),
    ({"name": "setup.exe", "size": 1000, "content_type": "application/x-msdownload"}, 415, "type_not_accepted"),
    ({"name": "notes.txt", "size": 0, "content_type": "text/plain"}, 422, "empty"),
    ({"name": "", "size": 10}, 422, "invalid_name"),
    ({"name": "a.txt", "size": -1}, 422, "invalid_size"),
    ({"name": "a.txt", "size": "10"}, 422, "invalid_size"),
    ({"name": "a.txt", "size": True}, 422, "invalid_size"),
])
def test_upload_start_is_judged_by_core_restrictions(agent, body, status, code):
    r = agent.post("/api/uploads", json=body)
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["code"] == code and err["message"]
    if code in ("too_large", "type_not_accepted", "empty"):
        assert body["name"] in err["message"] and err["hint"]    # core's sentence, naming the file


def test_renamed_exe_is_refused_at_the_first_chunk_and_discarded(server, agent):
    state = start_upload(agent, "photo.png", len(EXE), "image/png").json()
    r = patch(agent, state["upload_id"], 0, EXE)
    assert r.status_code == 415
    err = r.json()["error"]
    assert err["code"] == "type_mismatch" and "photo.png" in err["message"]
    assert agent.get(f"/api/uploads/{state['upload_id']}").status_code == 404
    assert list((server.data / "uploads").iterdir()) == []
    assert list((server.data / "media").iterdir()) == []


def test_content_is_judged_even_when_the_head_arrives_in_pieces(server, agent):
    state = start_upload(agent, "notes.txt", len(EXE), "text/plain").json()
    assert patch(agent, state["upload_id"], 0, EXE[:10]).status_code == 200
    r = patch(agent, state["upload_id"], 10, EXE[10:])
    assert r.status_code == 415 and r.json()["error"]["code"] == "type_mismatch"
    assert list((server.data / "uploads").iterdir()) == []


def test_unknown_name_is_judged_by_content(agent):
    # no extension: the POST cannot judge the type, the first bytes do
    state = start_upload(agent, "README", len(EXE)).json()
    r = patch(agent, state["upload_id"], 0, EXE)
    assert r.status_code == 415 and r.json()["error"]["code"] == "type_not_accepted"
    ok = upload(agent, "picture", PNG)
    assert ok["content_type"] == "image/png"


def test_a_big_refused_body_still_gets_its_answer(agent):
    """The server reads (and drops) the rest of a refused chunk so the client sees 415, not a reset."""
    data = EXE + b"\x00" * (8 * 1024 * 1024)
    state = start_upload(agent, "photo.png", len(data), "image/png").json()
    r = patch(agent, state["upload_id"], 0, data)
    assert r.status_code == 415


def test_same_content_twice_is_stored_once(server, agent):
    a = upload(agent, "a.png", PNG)
    b = upload(agent, "b.png", PNG)
    assert a["upload_id"] != b["upload_id"]
    assert len(list((server.data / "media").iterdir())) == 1


def test_names_lose_directories_and_control_characters(agent):
    state = start_upload(agent, "../../etc/pa\x00ss\nwd.txt", 3, "text/plain").json()
    assert state["name"] == "passwd.txt"
    state = start_upload(agent, "C:\\Users\\me\\r\u00e9sum\u00e9.pdf", 3).json()
    assert state["name"] == "r\u00e9sum\u00e9.pdf"


def test_retried_final_patch_and_patch_after_completion(agent):
    state = upload(agent, "done.txt", b"done", "text/plain")
    r = patch(agent, state["upload_id"], 4, b"")
    assert r.status_code == 200 and r.json()["complete"] is True
    r = patch(agent, state["upload_id"], 0, b"done")
    assert r.status_code == 409 and r.json()["error"]["offset"] == 4


def test_json_bodies_are_capped(agent):
    r = agent.post("/api/uploads", content=b'{"name": "' + b"x" * 2_000_000 + b'"}',
                   headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and "error" in r.json()
