"""The page and its files: right types, the page CSP, caching, precompressed
assets, nothing outside the built site's two pages and assets/."""

from __future__ import annotations

import gzip
import os

import brotli
import httpx
import pytest

from server.page.static_site import accepted_encodings

PAGE_CSP = ("default-src 'self'; script-src 'self' 'unsafe-eval' 'wasm-unsafe-eval'; style-src 'self'; "
            "img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; worker-src 'self' blob:; "
            "object-src 'none'; base-uri 'self'; form-action 'self'")


WASM = b"\x00asm\x01\x00\x00\x00" + bytes(4000)
IMMUTABLE = "public, max-age=31536000, immutable"
RAW = {"Accept-Encoding": "identity"}   # httpx asks for gzip/br by default


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A built site as build.py writes it (build/site), plus things that must never be served."""
    from tools.services.attache import RunningServer

    top = tmp_path_factory.mktemp("static")
    root = top / "site"
    assets = root / "assets"
    (assets / "pyodide-0123456789ab").mkdir(parents=True)
    (root / "index.html").write_text("<!doctype html><title>Attache</title>")
    (root / "pyscript.toml").write_text('name = "attache"\n')
    (root / "manifest.json").write_text("{}")
    wasm = assets / "pyodide-0123456789ab" / "pyodide.asm.wasm"
    wasm.write_bytes(WASM)
    wasm.with_name(wasm.name + ".br").write_bytes(brotli.compress(WASM))
    wasm.with_name(wasm.name + ".gz").write_bytes(gzip.compress(WASM))
    (assets / "pyodide-0123456789ab" / "pyodide.mjs").write_text("export {}\n")
    (assets / "attache.0123456789ab.css").write_text("body{}\n")
    (assets / "main.0123456789ab.py").write_text("print('hi')\n")
    (assets / "app.0123456789ab.zip").write_bytes(b"PK\x05\x06" + bytes(18))
    (assets / "__pycache__").mkdir()
    (assets / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\x00")
    (assets / ".hidden").write_text("secret")
    (assets / "half.css.tmp").write_text("unfinished")
    (top / "secret.txt").write_text("top secret")
    (top / ".venv").mkdir()
    (top / ".venv" / "pyvenv.cfg").write_text("home = /usr\n")
    os.symlink(top / "secret.txt", assets / "link.txt")
    data = top / "data"
    data.mkdir()
    server = RunningServer(data, static_root=root).start()
    yield server
    server.stop()


@pytest.mark.parametrize("path,content_type", [
    ("/", "text/html; charset=utf-8"),
    ("/index.html", "text/html; charset=utf-8"),
    ("/pyscript.toml", "application/toml"),
    ("/assets/main.0123456789ab.py", "text/x-python; charset=utf-8"),
    ("/assets/attache.0123456789ab.css", "text/css; charset=utf-8"),
    ("/assets/app.0123456789ab.zip", "application/zip"),
    ("/assets/pyodide-0123456789ab/pyodide.asm.wasm", "application/wasm"),
    ("/assets/pyodide-0123456789ab/pyodide.mjs", "text/javascript; charset=utf-8"),
])
def test_page_files_have_types_and_page_headers(site, path, content_type):
    r = httpx.get(site.url + path, headers=RAW)
    assert r.status_code == 200
    assert r.headers["content-type"] == content_type
    assert r.headers["content-security-policy"] == PAGE_CSP + "; frame-ancestors 'self'"
    assert r.headers["x-frame-options"] == "SAMEORIGIN"
    assert r.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("path", ["/", "/index.html", "/pyscript.toml"])
def test_the_pages_revalidate(site, path):
    r = httpx.get(site.url + path)
    assert r.headers["cache-control"] == "no-cache"
    again = httpx.get(site.url + path, headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304


@pytest.mark.parametrize("path", ["/assets/attache.0123456789ab.css", "/assets/pyodide-0123456789ab/pyodide.asm.wasm"])
def test_hashed_assets_are_cached_for_good(site, path):
    r = httpx.get(site.url + path)
    assert r.status_code == 200
    assert r.headers["cache-control"] == IMMUTABLE


@pytest.mark.parametrize("accept,encoding", [
    ("gzip, deflate, br, zstd", "br"),      # Chromium
    ("br;q=1.0, gzip;q=0.8", "br"),
    ("gzip", "gzip"),
    ("br;q=0, gzip", "gzip"),
    ("*", "br"),
    ("*, br;q=0", "gzip"),
])
def test_precompressed_asset_sent_when_accepted(site, accept, encoding):
    r = httpx.get(site.url + "/assets/pyodide-0123456789ab/pyodide.asm.wasm", headers={"Accept-Encoding": accept})
    assert r.status_code == 200
    assert r.headers["content-encoding"] == encoding
    assert "Accept-Encoding" in r.headers["vary"]
    assert r.headers["content-type"] == "application/wasm"
    assert r.headers["cache-control"] == IMMUTABLE
    assert r.content == WASM      # httpx decoded it: the right sibling was sent
    assert int(r.headers["content-length"]) < len(WASM)


@pytest.mark.parametrize("accept", ["identity", "", "zstd", "br;q=0, gzip;q=0"])
def test_original_asset_sent_otherwise(site, accept):
    r = httpx.get(site.url + "/assets/pyodide-0123456789ab/pyodide.asm.wasm", headers={"Accept-Encoding": accept})
    assert "content-encoding" not in r.headers
    assert "Accept-Encoding" in r.headers["vary"]
    assert r.content == WASM and int(r.headers["content-length"]) == len(WASM)


def test_each_encoding_has_its_own_etag(site):
    url = site.url + "/assets/pyodide-0123456789ab/pyodide.asm.wasm"
    etags = {httpx.get(url, headers={"Accept-Encoding": a}).headers["etag"] for a in ("br", "gzip", "identity")}
    assert len(etags) == 3


def test_accepted_encodings_parses_q_values():
    assert accepted_encodings("gzip, deflate, br, zstd") == {"gzip", "deflate", "br", "zstd"}
    assert accepted_encodings("br;q=0, gzip;q=0.5") == {"gzip"}
    assert accepted_encodings("*;q=0.1, gzip;q=0") == {"br"}
    assert accepted_encodings("BR; Q=1") == {"br"}
    assert accepted_encodings("br;q=nonsense") == set()
    assert accepted_encodings("") == set()


@pytest.mark.parametrize("raw_path", [
    b"/assets/../../secret.txt",
    b"/assets/%2e%2e/%2e%2e/secret.txt",
    b"/assets/..%2f..%2fsecret.txt",
    b"/assets/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    b"/assets/..%5c..%5csecret.txt",
    b"/assets/link.txt",                # symlink pointing outside the site
    b"/assets/.hidden",
    b"/assets/__pycache__/x.cpython-311.pyc",
    b"/assets/half.css.tmp",            # a file the build is still writing
    b"/.venv/pyvenv.cfg",
    b"/assets/../../.venv/pyvenv.cfg",
    b"/data/secret",
    b"/secret.txt",
    b"/manifest.json",                  # the build's own record, not part of the page
    b"/assets/",
    b"/assets//main.0123456789ab.py",
    b"/assets/pyodide-0123456789ab",
    b"/app/main.py",                    # sources are never served, only the built site
    b"/static/attache.css",
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


def test_a_site_not_built_says_how_to_build_it(tmp_path):
    from tools.services.attache import RunningServer

    (tmp_path / "data").mkdir()
    server = RunningServer(tmp_path / "data", static_root=tmp_path / "nothing-here").start()
    try:
        r = httpx.get(server.url + "/")
        assert r.status_code == 404
        assert "python3 build.py setup" in r.json()["error"]["hint"]
    finally:
        server.stop()


def test_page_config_lists_identities(site):
    r = httpx.get(site.url + "/attache-config.json")
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    assert r.json() == {"mode": "development", "backend": {"adapter": "reference", "base_url": "",
                                                           "conversation": "default",
                                    "identities": {"agent": {"token": "agent-dev-token", "name": "Agent"},
                                                   "customer": {"token": "customer-dev-token", "name": "Customer"}}}}


@pytest.mark.parametrize("token_url, connect_src", [
    ("/portal/token", "connect-src 'self';"),
    ("https://Portal.Example.com:8443/attache/token?x=1", "connect-src 'self' https://portal.example.com:8443;"),
    ("http://127.0.0.1:9/t", "connect-src 'self' http://127.0.0.1:9;"),
])
def test_the_page_may_fetch_its_token_from_the_portals_origin_and_no_other(tmp_path, token_url, connect_src):
    from server.config.config_file import load_config
    from server.page.static_site import page_csp
    from tests.server.production import SECRET

    (tmp_path / "jwt.key").write_bytes(SECRET)
    (tmp_path / "c.toml").write_text(f'[auth]\nsecret_file = "jwt.key"\ntoken_url = "{token_url}"\n')
    csp = page_csp(load_config(tmp_path / "c.toml"))
    assert connect_src in csp and csp.count("connect-src") == 1
    assert csp.replace(connect_src, "connect-src 'self';") == PAGE_CSP


def test_development_pages_connect_to_their_own_origin_only():
    from server.config.config_file import load_config
    from server.page.static_site import page_csp

    assert page_csp(load_config(None)) == PAGE_CSP
