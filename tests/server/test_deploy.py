"""Deployment settings: development banner, CORS, framing, connection limits, logs, v1 data dirs."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import httpx
import pytest

from server.config.config_file import load_config

from .conftest import AGENT, PNG, REPO, TEST_CONFIG, lines, send, upload
from .production import bearer, mint

PORTAL = "https://portal.example.com"


def _config_error(tmp_path, text: str) -> str:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    p = subprocess.run([sys.executable, "-m", "server", "--port", "0", "--config", str(path),
                        "--data", str(tmp_path / "d")], cwd=REPO, capture_output=True, text=True, timeout=20)
    assert p.returncode == 2, p.stdout
    return p.stderr


def test_development_mode_says_so_loudly(make_server):
    server = make_server(config_text=None)
    out = server.output()
    assert "(development mode)" in out and "DEVELOPMENT MODE" in out and "docs/deploying.md" in out


@pytest.mark.parametrize("text,expected", [
    ('[server]\ncors_allow_origins = ["*"]\ncors_allow_credentials = true\n', "cannot be combined"),
    ('[server]\ncors_allow_credentials = "yes"\n', "true or false"),
    ('[server]\nembed_origins = ["*"]\n', "embed_origins"),
    ('[server]\nlimit_concurrency = 0\n', "limit_concurrency"),
    ('[server]\ntimeout_keep_alive = "forever"\n', "timeout_keep_alive"),
    ('[server]\nmax_streams_per_identity = true\n', "max_streams_per_identity"),
    ('[auth]\nsecret_file = "k"\ncolour = 1\n', "colour"),
    ('[auth]\ntoken_url = "/t"\n', "secret_file"),
])
def test_unsafe_or_wrong_settings_are_refused(tmp_path, text, expected):
    stderr = _config_error(tmp_path, text)
    assert stderr.startswith("attache: config error:") and expected in stderr


def test_cors_wildcard_never_goes_with_credentials(make_server):
    server = make_server(config_text='[server]\ncors_allow_origins = ["*"]\n')
    with server.client() as c:
        r = c.get("/api/restrictions", headers={"Origin": "https://anywhere.example", "Cookie": "session=1"})
    assert r.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in r.headers


def test_cors_credentials_name_the_origin(make_server):
    server = make_server(config_text=f'[server]\ncors_allow_origins = ["{PORTAL}"]\ncors_allow_credentials = true\n')
    with server.client() as c:
        r = c.get("/api/restrictions", headers={"Origin": PORTAL})
        assert (r.headers["access-control-allow-origin"], r.headers["access-control-allow-credentials"]) == (
            PORTAL, "true")
        assert "access-control-allow-origin" not in c.get("/api/restrictions",
                                                          headers={"Origin": "https://evil.example"}).headers


def test_page_may_be_framed_only_by_embed_origins(make_server):
    server = make_server(config_text=f'[server]\nembed_origins = ["{PORTAL}"]\n')
    r = httpx.get(server.url + "/")
    assert r.headers["content-security-policy"].endswith(f"; frame-ancestors 'self' {PORTAL}")
    assert "x-frame-options" not in r.headers        # it cannot name an origin; the CSP decides
    with server.client(AGENT) as c:                  # API answers and media are not pages
        assert "x-frame-options" not in c.get("/api/restrictions").headers


def test_connections_beyond_limit_concurrency_get_503(make_server):
    server = make_server(config_text=TEST_CONFIG + "limit_concurrency = 3\nmax_streams_per_identity = 10\n")
    clients = [httpx.Client(base_url=server.url, headers=AGENT, timeout=10) for _ in range(3)]
    streams = []
    try:
        for c in clients[:2]:
            stream = c.stream("GET", "/api/conversations/default/events")
            r = stream.__enter__()
            streams.append(stream)
            assert next(lines(r)) == "retry: 1000"
        assert clients[2].get("/api/restrictions").status_code == 503
    finally:
        for stream in streams:
            stream.__exit__(None, None, None)
        for c in clients:
            c.close()


def test_uvicorn_gets_the_configured_limits(tmp_path):
    from server.__main__ import uvicorn_config

    path = tmp_path / "limits.toml"
    path.write_text('[server]\nlimit_concurrency = 77\ntimeout_keep_alive = "30s"\n')
    uv = uvicorn_config(object(), load_config(path), "warning")
    assert (uv.limit_concurrency, uv.timeout_keep_alive, uv.server_header) == (77, 30, False)


def test_access_log_redacts_tokens_tickets_and_signatures(make_server):
    server = make_server(extra=("--log-level", "info"))
    with server.client(AGENT) as c:
        url = send(c, "", [upload(c, "pixel.png", PNG, "image/png")["upload_id"]]).json()["attachments"][0]["url"]
        sig = url.rsplit("sig=", 1)[1]
        assert c.get(url).status_code == 200
        assert c.get("/api/conversations/default/events",          # refused, and still not logged
                     params={"access_token": "customer-dev-token", "after": "0"}, headers={"Authorization": ""}
                     ).status_code == 401
        ticket = c.post("/api/conversations/default/events/ticket").json()["ticket"]
        with c.stream("GET", "/api/conversations/default/events", params={"ticket": ticket}) as r:
            assert r.status_code == 200
    log = server.output().split("  config:", 1)[1]          # after the banner (development tokens are printed)
    assert "/events/ticket" in log and "sig=[redacted]" in log and "ticket=[redacted]" in log
    assert "access_token=[redacted]" in log
    assert sig not in log and ticket not in log and "customer-dev-token" not in log


V1_SCHEMA = """
CREATE TABLE conversations (id TEXT PRIMARY KEY, created_at TEXT NOT NULL);
CREATE TABLE messages (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,
    conversation TEXT NOT NULL REFERENCES conversations(id), sender TEXT NOT NULL, text TEXT NOT NULL,
    created_at TEXT NOT NULL, idempotency_key TEXT NOT NULL DEFAULT '');
CREATE TABLE uploads (id TEXT PRIMARY KEY, owner TEXT NOT NULL, name TEXT NOT NULL, size INTEGER NOT NULL,
    declared_type TEXT NOT NULL, content_type TEXT NOT NULL, "offset" INTEGER NOT NULL DEFAULT 0,
    head_checked INTEGER NOT NULL DEFAULT 0, sha256 TEXT, created_at TEXT NOT NULL);
CREATE TABLE attachments (message_seq INTEGER NOT NULL REFERENCES messages(seq), position INTEGER NOT NULL,
    upload_id TEXT NOT NULL REFERENCES uploads(id), PRIMARY KEY (message_seq, position));
INSERT INTO conversations VALUES ('default', '2026-01-02T03:04:05Z');
INSERT INTO messages (id, conversation, sender, text, created_at, idempotency_key) VALUES
    ('m1', 'default', 'customer', 'from v1', '2026-01-02T03:04:05Z', 'k1'),
    ('m2', 'default', 'agent', 'reply in v1', '2026-01-02T03:04:06Z', 'k2');
"""


def test_a_v1_data_dir_keeps_working(make_server, tmp_path):
    data = tmp_path / "v1"
    data.mkdir()
    with sqlite3.connect(data / "attache.sqlite3") as db:
        db.executescript(V1_SCHEMA)
    server = make_server(data=data)
    with server.client(AGENT) as c:
        old = c.get("/api/conversations/default/messages").json()["messages"]
        assert [(m["text"], m["sender"], m["sender_name"], m["sender_role"]) for m in old] == [
            ("from v1", "customer", "Customer", "customer"), ("reply in v1", "agent", "Agent", "agent")]
        assert send(c, "again", key="k2").json()["id"] == "m2"          # still idempotent
        assert send(c, "new").json()["sender_role"] == "agent"
    server.restart()                                                    # migrating twice is harmless
    with server.client(AGENT) as c:
        assert len(c.get("/api/conversations/default/messages").json()["messages"]) == 3


def test_a_stored_type_that_is_not_a_mime_type_downloads_safely(make_server, tmp_path):
    """A v1 data dir may hold a content type with a line break; it must not break the response."""
    server = make_server(data=tmp_path / "evil")
    with server.client(AGENT) as c:
        url = send(c, "", [upload(c, "pixel.png", PNG, "image/png")["upload_id"]]).json()["attachments"][0]["url"]
    server.stop()
    with sqlite3.connect(tmp_path / "evil" / "attache.sqlite3") as db:
        db.execute("UPDATE uploads SET content_type = ?", ("image/png\r\nX-Evil: 1",))
    server.start()
    with server.client() as c:
        r = c.get(url)
    assert r.status_code == 200 and r.content == PNG
    assert r.headers["content-type"] == "application/octet-stream" and "x-evil" not in r.headers
    assert r.headers["content-disposition"].startswith("attachment")


def test_production_page_config_and_tokens_in_development_are_distinct(make_server, tmp_path):
    """A JWT means nothing to a development server, and a dev token nothing to production."""
    server = make_server()
    with server.client(bearer(mint(conversations=["default"]))) as c:
        assert c.get("/api/conversations/default/messages").status_code == 401
