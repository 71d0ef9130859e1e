"""Expiry: Upload-Expires, the sweeper, and the one promise that matters most: a sent file is never swept."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
from email.utils import parsedate_to_datetime

import pytest

from server.config.config_error import ConfigError
from server.config.config_file import load_config, parse_duration

from .conftest import AGENT, PDF, PNG, REPO, STORAGES, TEST_CONFIG, TUS, patch, send, start_upload, upload, upload_id
from tools.waiting import wait_until


@pytest.fixture(params=STORAGES)
def storage(request) -> str:
    """The sweeper's tests run against the --data folder and an S3 bucket (moto)."""
    return request.param

SHORT = TEST_CONFIG.replace("max_files_per_message = 2", 'max_files_per_message = 2\nupload_expiry = "1s"')


def gone(client, uid: str) -> bool:
    return client.head(f"/api/uploads/{uid}", headers=TUS).status_code in (404, 410)


def wait_past_expiry(response) -> None:
    """Until the server's announced Upload-Expires has passed (it is whole seconds: one more)."""
    expires = parsedate_to_datetime(response.headers["upload-expires"]).timestamp() + 1
    wait_until(lambda: time.time() > expires, "the upload's Upload-Expires passes", 10)


def media(server, data: bytes) -> bytes | None:
    return server.stored.media(hashlib.sha256(data).hexdigest())


def test_the_sweeper_deletes_unsent_uploads_and_never_a_sent_file(make_server, tmp_path):
    data = tmp_path / "data"
    server = make_server(data=data, config_text=SHORT, extra=("--sweep-interval", "0.2"))
    report = PDF + b"report"
    with server.client(AGENT) as c:
        sent = upload(c, "sent.png", PNG, "image/png")["upload_id"]
        url = send(c, "keep this", [sent], key="k").json()["attachments"][0]["url"]
        partial = upload_id(start_upload(c, "half.pdf", len(report), "application/pdf"))
        assert patch(c, partial, 0, report[:10]).status_code == 204
        unsent = upload(c, "unsent.pdf", report)["upload_id"]
        same_bytes = upload(c, "copy.png", PNG)["upload_id"]     # shares the sent file's media
        wait_until(lambda: all(gone(c, uid) for uid in (partial, unsent, same_bytes)), "the sweeper deletes the unsent uploads")
        assert server.stored.partials() == []                           # the partial upload's bytes
        assert media(server, report) is None                            # the unsent upload's media
        assert media(server, PNG) == PNG                                # still used by the sent one
        assert c.get(url).content == PNG
        assert c.head(f"/api/uploads/{sent}", headers=TUS).status_code == 200
    server.stop()

    again = make_server(data=data, config_text=SHORT, extra=("--sweep-interval", "0.2"))
    with again.client(AGENT) as c:
        later = upload(c, "later.pdf", PDF)["upload_id"]
        wait_until(lambda: gone(c, later), "the sweeper runs after the restart")
        assert c.get(url).content == PNG
        shown = c.get("/api/conversations/default/messages").json()["messages"][0]["attachments"][0]["url"]
        assert shown.split("?")[0] == url.split("?")[0]       # the same file (its link's expiry may be a later one)
        assert c.get(shown).content == PNG
        r = send(c, "keep this", [sent], key="k")
        assert r.status_code == 200                                     # the sent upload is still known


def test_an_expired_upload_is_410_and_gone_before_any_sweep(make_server):
    server = make_server(config_text=SHORT, extra=("--sweep-interval", "3600"))
    with server.client(AGENT) as c:
        uid = upload_id(start_upload(c, "late.pdf", len(PDF), "application/pdf"))
        r = patch(c, uid, 0, PDF[:10])
        assert r.status_code == 204
        wait_past_expiry(r)
        r = patch(c, uid, 10, PDF[10:])
        assert r.status_code == 410 and r.json()["error"]["code"] == "upload_expired"
        assert server.stored.partials() == []
        assert c.head(f"/api/uploads/{uid}", headers=TUS).status_code == 404   # and then unknown
        r = send(c, "too late", [uid])
        assert r.status_code == 409 and r.json()["error"]["code"] == "unknown_upload"


def test_uploads_that_expired_while_the_server_was_down_are_swept_at_start(make_server, tmp_path):
    data = tmp_path / "data"
    first = make_server(data=data, config_text=SHORT, extra=("--sweep-interval", "3600"))
    with first.client(AGENT) as c:
        done = upload(c, "done.png", PNG, "image/png")["upload_id"]
        assert send(c, "sent before the crash", [done]).status_code == 201
        uid = upload_id(start_upload(c, "left.pdf", len(PDF), "application/pdf"))
        r = patch(c, uid, 0, PDF[:10])
        assert r.status_code == 204
    first.stop()
    first.stored.put_partial("f" * 32 + ".part", b"x")              # a crash left a file no row knows
    first.stored.put_partial(done + ".part", b"x")                  # and one of an upload since completed
    wait_past_expiry(r)
    second = make_server(data=data, config_text=SHORT, extra=("--sweep-interval", "3600"))
    assert second.stored.partials() == []                           # swept before the first request


@pytest.mark.parametrize("text,seconds", [("24h", 86400), ("30m", 1800), ("7d", 604800), ("90s", 90), ("90", 90),
                                          (90, 90), (1.5, 1.5), (" 2 h ", 7200)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "1w", "-1h", "0", 0, True, "1h30m", float("inf")])
def test_bad_durations(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def test_upload_expiry_defaults_to_a_day_and_bad_values_name_the_key(tmp_path):
    assert load_config(None).upload_expiry == 86400
    path = tmp_path / "bad.toml"
    path.write_text('[attachments]\nupload_expiry = "tomorrow"\n')
    with pytest.raises(ConfigError, match=r"\[attachments\] upload_expiry: invalid duration 'tomorrow'"):
        load_config(path)
    p = subprocess.run([sys.executable, "-m", "server", "--port", "0", "--config", str(path), "--data",
                        str(tmp_path / "d")], cwd=REPO, capture_output=True, text=True, timeout=20)
    assert p.returncode == 2 and "upload_expiry" in p.stderr


def test_a_data_dir_from_before_expiry_gives_its_uploads_a_fresh_grace_period(tmp_path):
    import sqlite3

    from server.store.queries import Store

    from .legacy_schema import V1

    old = sqlite3.connect(tmp_path / "db.sqlite3")
    old.executescript(V1)
    old.execute("INSERT INTO uploads (id, owner, name, size, declared_type, content_type, created_at)"
                " VALUES ('a', 'agent', 'a.pdf', 3, '', 'application/pdf', '2020-01-01T00:00:00Z')")
    old.commit()
    old.close()
    before = time.time()
    store = Store(tmp_path / "db.sqlite3")
    assert store.get_upload("a").touched_at >= before
    assert store.stale_uploads(before) == []
    store.close()
