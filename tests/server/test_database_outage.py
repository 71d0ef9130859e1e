"""A PostgreSQL that cannot be reached at start stops the server with a sentence; one lost while the server
runs gives 503 + Retry-After (never a 500, never a lost message) and the server recovers when it is back."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tools.services.process import free_port
from tests.services.postgres import database_table, started_postgres

from .conftest import AGENT, REPO, TEST_CONFIG, send
from tools.waiting import wait_for


def test_an_unreachable_database_at_start_is_named_without_its_password(tmp_path, request):
    port = free_port()                                 # nothing listens there (the broker answers)
    config = tmp_path / "c.toml"
    config.write_text(TEST_CONFIG + database_table(f"postgresql://attache:s3cret@127.0.0.1:{port}/attache", request))
    p = subprocess.run([sys.executable, "-m", "server", "--port", "0", "--config", str(config), "--data",
                        str(tmp_path / "d")], cwd=REPO, capture_output=True, text=True, timeout=30)
    assert p.returncode == 1, p.stderr
    assert f"the database PostgreSQL postgresql://attache@127.0.0.1:{port}/attache cannot be used" in p.stderr
    assert "s3cret" not in p.stderr + p.stdout and "Traceback" not in p.stderr


@pytest.fixture
def own_postgres():
    """A PostgreSQL of this test's own: it is stopped and started again under a running server."""
    server = started_postgres()
    yield server
    server.destroy()


def until_stored(client, text: str, key: str, timeout: float = 30):
    """Send as the page's outbox does after a 503: the same key again until it is answered."""
    def sent():
        r = send(client, text, key=key)
        assert r.status_code != 503 or r.headers["retry-after"].isdigit()
        return r
    return wait_for(sent, lambda r: r.status_code != 503, f"{text!r} is stored", timeout, every=0.2)


def test_a_database_lost_while_running_is_503_and_the_server_recovers_by_itself(make_server, own_postgres,
                                                                                 request):
    server = make_server(config_text=TEST_CONFIG + database_table(own_postgres.fresh_database(), request))
    with server.client(AGENT) as c:
        assert send(c, "before", key="k-before").status_code == 201
        own_postgres.stop()
        r = send(c, "during", key="k-during")
        assert r.status_code == 503, r.text
        assert r.json()["error"]["code"] == "database_unavailable" and int(r.headers["retry-after"]) >= 1
        assert "PostgreSQL postgresql://postgres@127.0.0.1" in r.json()["error"]["message"]
        history = c.get("/api/conversations/default/messages")
        assert history.status_code == 503 and "retry-after" in history.headers
        with c.stream("GET", "/api/conversations/default/events", params={"after": "0"}) as stream:
            assert list(stream.iter_lines()) == ["retry: 1000", ""]     # ends at once; the page reconnects
        own_postgres.start()
        assert until_stored(c, "during", "k-during").status_code == 201
        assert send(c, "during", key="k-during").status_code == 200          # stored once
        texts = [m["text"] for m in c.get("/api/conversations/default/messages").json()["messages"]]
    assert texts == ["before", "during"]
    assert "Traceback" not in server.output()
