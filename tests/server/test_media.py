"""Media downloads: signed links and the headers that keep uploaded files harmless."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from .conftest import PDF, PNG, STORAGES, send, upload


@pytest.fixture(params=STORAGES)
def storage(request) -> str:
    """Every test here runs against the --data folder and an S3 bucket (moto)."""
    return request.param


MEDIA_CSP = "sandbox; default-src 'none'; img-src 'self'; media-src 'self'; style-src 'unsafe-inline'"
HTML = b"<!doctype html><html><script>alert(document.cookie)</script></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><circle r="5"/></svg>'


def attach(client, name, data, content_type=""):
    state = upload(client, name, data, content_type)
    return send(client, "", [state["upload_id"]]).json()["attachments"][0]


@pytest.mark.parametrize("name,data,declared,content_type,disposition", [
    ("pixel.png", PNG, "image/png", "image/png", "inline"),
    ("report.pdf", PDF, "application/pdf", "application/pdf", "inline"),
    ("notes.txt", b"plain words\n", "text/plain", "text/plain; charset=utf-8", "inline"),
    ("page.html", HTML, "text/html", "text/html; charset=utf-8", "attachment"),
    ("drawing.svg", SVG, "image/svg+xml", "image/svg+xml", "attachment"),
])
def test_media_headers(agent, name, data, declared, content_type, disposition):
    att = attach(agent, name, data, declared)
    r = agent.get(att["url"], headers={"Authorization": ""})   # img tags send no token
    assert r.status_code == 200
    assert r.content == data
    assert r.headers["content-type"] == content_type
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["content-security-policy"] == MEDIA_CSP
    assert r.headers["content-disposition"].split(";")[0] == disposition
    assert f"filename*=UTF-8''{quote(name)}" in r.headers["content-disposition"]
    assert "immutable" in r.headers["cache-control"]


def test_html_named_txt_is_served_as_plain_text(agent):
    att = attach(agent, "harmless.txt", HTML, "text/plain")
    r = agent.get(att["url"])
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
    assert r.headers["x-content-type-options"] == "nosniff"


def test_unicode_and_quotes_in_file_names(agent):
    name = 'r\u00e9sum\u00e9 "final" \u6587\u4ef6.pdf'
    att = attach(agent, name, PDF, "application/pdf")
    r = agent.get(att["url"])
    assert r.status_code == 200
    cd = r.headers["content-disposition"]
    assert cd.startswith('inline; filename="') and "filename*=UTF-8''" + quote(name, safe="") in cd
    fallback = cd.split('filename="')[1].split('"')[0]
    assert fallback.isascii() and '"' not in fallback


def test_signature_is_required_and_bound_to_the_name(agent):
    att = attach(agent, "pixel.png", PNG, "image/png")
    path, _, query = att["url"].partition("?")
    assert agent.get(path).status_code == 403
    assert agent.get(path + "?sig=" + "0" * 32).status_code == 403
    renamed = path.rsplit("/", 1)[0] + "/pixel.exe?" + query
    assert agent.get(renamed).status_code == 403
    assert agent.get("/media/../../data/secret?" + query).status_code in (403, 404)


def test_range_requests_for_media(agent):
    att = attach(agent, "report.pdf", PDF, "application/pdf")
    r = agent.get(att["url"], headers={"Range": "bytes=0-3"})
    assert r.status_code == 206 and r.content == PDF[:4]


def test_ranges_conditionals_and_head_are_answered_from_either_store(agent):
    att = attach(agent, "report.pdf", PDF, "application/pdf")
    r = agent.get(att["url"], headers={"Range": "bytes=-5"})
    assert r.status_code == 206 and r.content == PDF[-5:]
    assert r.headers["content-range"] == f"bytes {len(PDF) - 5}-{len(PDF) - 1}/{len(PDF)}"
    assert r.headers["x-content-type-options"] == "nosniff" and r.headers["content-security-policy"] == MEDIA_CSP
    r = agent.get(att["url"], headers={"Range": f"bytes={len(PDF)}-"})
    assert r.status_code == 416 and r.headers["content-range"] == f"bytes */{len(PDF)}"
    assert agent.get(att["url"], headers={"Range": "pages=1-2"}).status_code == 400
    whole = agent.get(att["url"], headers={"Range": "bytes=0-1,4-5"})          # several ranges: the whole file
    assert whole.status_code == 200 and whole.content == PDF
    r = agent.get(att["url"], headers={"If-None-Match": whole.headers["etag"]})
    assert r.status_code == 304 and r.content == b""
    r = agent.head(att["url"])
    assert r.status_code == 200 and r.content == b"" and r.headers["content-length"] == str(len(PDF))
