"""The page and its files: right types, the page CSP, nothing outside the allowed roots."""

from __future__ import annotations

import os

import httpx
import pytest

PAGE_CSP = ("default-src 'self'; script-src 'self' 'unsafe-eval' 'wasm-unsafe-eval'; style-src 'self'; "
            "img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; worker-src 'self' blob:; "
            "object-src 'none'; base-uri 'self'; form-action 'self'")


@pytest.fixture
def site(tmp_path, make_server):
    root = tmp_path / "site"
    (root / "app" / "core" / "__pycache__").mkdir(parents=True)
    (root / "static" / "vendor").mkdir(parents=True)
    (root / "index.html").write_text("<!doctype html><title>Attache</title>")
    (root / "pyscript.toml").write_text('name = "attache"\n')
    (root / "app" / "main.py").write_text("print('hi')\n")
    (root / "app" / "core" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\x00")
    (root / "app" / ".hidden").write_text("secret")
    (root / "static" / "vendor" / "pyodide.asm.wasm").write_bytes(b"\x00asm\x01\x00\x00\x00")
    (root / "static" / "vendor" / "pyodide.mjs").write_text("export {}\n")
    (root / "static" / "style.css").write_text("body{}\n")
    (root / ".venv").mkdir()
    (root / ".venv" / "pyvenv.cfg").write_text("home = /usr\n")
    (root / "secret.txt").write_text("top secret")
    os.symlink(root / "secret.txt", root / "static" / "link.txt")
    server = make_server(data=root / "data", static_root=root)
    return server


@pytest.mark.parametrize("path,content_type", [
    ("/", "text/html; charset=utf-8"),
    ("/index.html", "text/html; charset=utf-8"),
    ("/pyscript.toml", "application/toml"),
    ("/app/main.py", "text/x-python; charset=utf-8"),
    ("/static/style.css", "text/css; charset=utf-8"),
    ("/static/vendor/pyodide.asm.wasm", "application/wasm"),
    ("/static/vendor/pyodide.mjs", "text/javascript; charset=utf-8"),
])
def test_page_files_have_types_and_page_headers(site, path, content_type):
    r = httpx.get(site.url + path)
    assert r.status_code == 200
    assert r.headers["content-type"] == content_type
    assert r.headers["content-security-policy"] == PAGE_CSP + "; frame-ancestors 'self'"
    assert r.headers["x-frame-options"] == "SAMEORIGIN"
    assert r.headers["x-content-type-options"] == "nosniff"


def test_conditional_get_answers_304(site):
    r = httpx.get(site.url + "/static/style.css")
    again = httpx.get(site.url + "/static/style.css", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304


@pytest.mark.parametrize("raw_path", [
    b"/app/../secret.txt",
    b"/app/%2e%2e/secret.txt",
    b"/static/..%2fsecret.txt",
    b"/static/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    b"/app/..%5csecret.txt",
    b"/static/link.txt",                # symlink pointing outside static/
    b"/app/.hidden",
    b"/app/core/__pycache__/x.cpython-311.pyc",
    b"/.venv/pyvenv.cfg",
    b"/static/../.venv/pyvenv.cfg",
    b"/data/secret",
    b"/app/../data/secret",
    b"/secret.txt",
    b"/app/",
    b"/app//main.py",
    b"/static/vendor",
])
def test_nothing_outside_the_allowed_roots(site, raw_path):
    """Raw paths, sent as-is (no client-side normalisation of '..')."""
    import socket

    host, port = site.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(b"GET " + raw_path + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    status = answer.split(b" ", 2)[1]
    assert status == b"404", answer[:300]
    assert b"top secret" not in answer and b"home = /usr" not in answer


def test_page_config_lists_identities(site):
    r = httpx.get(site.url + "/attache-config.json")
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    assert r.json() == {"mode": "development", "backend": {"adapter": "reference", "base_url": "",
                                                           "conversation": "default",
                                    "identities": {"agent": {"token": "agent-dev-token", "name": "Agent"},
                                                   "customer": {"token": "customer-dev-token", "name": "Customer"}}}}
