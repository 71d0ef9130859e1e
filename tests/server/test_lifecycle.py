"""Process-level behaviour: restarts, signals, config errors, the OpenAPI document, big uploads."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
import time

import httpx
import pytest

from .conftest import AGENT, PDF, PNG, REPO, BigPdf, peak_rss_kb, offset_of, partial_patch, patch, send, start_upload, upload, upload_id
from tools.waiting import wait_until


def unsigned(messages: list[dict]) -> list[dict]:
    """`messages` with their links' queries (expiry, signature) cut off."""
    def cut(value):
        if isinstance(value, dict):
            return {k: cut(v) for k, v in value.items()}
        if isinstance(value, list):
            return [cut(v) for v in value]
        return value.split("?")[0] if isinstance(value, str) and value.startswith("/") else value
    return cut(messages)


def test_restart_keeps_messages_media_and_partial_uploads(make_server, tmp_path):
    data = tmp_path / "data"
    first = make_server(data=data)
    big = PDF + os.urandom(2 * 1024 * 1024)
    with first.client(AGENT) as c:
        png = upload(c, "pixel.png", PNG, "image/png")
        send(c, "before restart", [png["upload_id"]], key="r1")
        m1 = wait_until(lambda: next((m for m in c.get("/api/conversations/default/messages").json()["messages"]
                                      if m["attachments"][0]["thumbnail"]), None), "the photo's thumbnail")
        partial = upload_id(start_upload(c, "big.pdf", len(big), "application/pdf"))
        r = patch(c, partial, 0, big[:1_000_000])
        assert r.headers["upload-offset"] == "1000000"
    # uvicorn shuts down gracefully, then re-raises the signal it caught: ended by our SIGTERM, not a crash or a kill
    assert first.stop() == -signal.SIGTERM

    second = make_server(data=data)
    with second.client(AGENT) as c:
        msgs = c.get("/api/conversations/default/messages").json()["messages"]
        # same seq, id, time, file; a link's expiry is rounded to a quarter of its lifetime, so a restart
        # across such a boundary signs anew: the links are compared without their query
        assert unsigned(msgs) == unsigned([m1])
        assert c.get(m1["attachments"][0]["url"]).content == PNG     # the link signed before the restart holds
        assert send(c, "before restart", [png["upload_id"]], key="r1").status_code == 200   # still idempotent
        assert offset_of(c, partial) == 1_000_000
        r = patch(c, partial, 1_000_000, big[1_000_000:])
        assert r.status_code == 204 and r.headers["upload-offset"] == str(len(big))
        m2 = send(c, "after restart", [partial]).json()
        assert m2["seq"] > m1["seq"]
        got = c.get(m2["attachments"][0]["url"]).content
        assert hashlib.sha256(got).hexdigest() == hashlib.sha256(big).hexdigest()


def test_interrupted_patch_keeps_what_arrived(server, agent):
    """A client that drops mid-PATCH resumes from the bytes the server wrote."""
    data = PDF + os.urandom(6 * 1024 * 1024)
    uid = upload_id(start_upload(agent, "cut.pdf", len(data), "application/pdf"))
    sent = 5 * 1024 * 1024
    with partial_patch(server, uid, data, sent):
        pass                                       # dropped after `sent` bytes
    wait_until(lambda: offset_of(agent, uid) == sent, "the server keeps the bytes that arrived", 10)
    offset = sent
    r = patch(agent, uid, offset, data[offset:])
    assert r.headers["upload-offset"] == str(len(data))
    assert (server.data / "media" / hashlib.sha256(data).hexdigest()).stat().st_size == len(data)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_with_open_sse_streams_exits_promptly(make_server, sig):
    server = make_server()
    streams, ended = [], []

    def hold(i):
        with httpx.Client(base_url=server.url, timeout=30) as client:
            with client.stream("GET", "/api/conversations/default/events", headers=AGENT) as r:
                lines = r.iter_lines()
                assert next(lines) == "retry: 1000"
                streams.append(i)
                for _ in lines:
                    pass
        ended.append(i)

    threads = [threading.Thread(target=hold, args=(i,), daemon=True) for i in range(3)]
    for t in threads:
        t.start()
    wait_until(lambda: len(streams) == 3, "three streams open", 10)
    started = time.monotonic()
    server.proc.send_signal(sig)
    server.proc.wait(timeout=4)            # raises TimeoutExpired if shutdown hangs
    assert time.monotonic() - started < 4
    for t in threads:
        t.join(2)
    assert sorted(ended) == [0, 1, 2]      # the streams ended cleanly, EventSource will reconnect
    assert "Traceback" not in server.output()


def run_main(*args, timeout=20):
    return subprocess.run([sys.executable, "-m", "server", "--port", "0", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("config,expected", [
    ("[attachments]\nmax_file_size = 'huge'\n", "max_file_size"),
    ("[attachments]\nmax_file_size = '1 MB'\ncolour = 'red'\n", "colour"),
    ("[identities]\nagent = 'short'\n", "agent"),
    ("[identities]\na = 'same-token-1'\nb = 'same-token-1'\n", "reuses"),
    ("[server]\ncors_allow_origins = 'https://x.example'\n", "cors_allow_origins"),
    ("[server]\ncors_allow_origin = []\n", "cors_allow_origin"),
    ("[servr]\n", "servr"),
    ("this is not toml", "invalid TOML"),
])
def test_config_errors_exit_2_with_one_line(tmp_path, config, expected):
    path = tmp_path / "bad.toml"
    path.write_text(config)
    p = run_main("--config", str(path), "--data", str(tmp_path / "d"))
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("attache: config error:") and expected in lines[0], p.stderr


def test_missing_config_file_exits_2(tmp_path):
    p = run_main("--config", str(tmp_path / "nope.toml"), "--data", str(tmp_path / "d"))
    assert p.returncode == 2 and "file not found" in p.stderr


def test_start_banner_prints_urls_and_tokens(make_server):
    server = make_server(config_text=None)     # server/config/default.toml
    text = server.output()
    assert f"{server.url}/" in text and f"{server.url}/?as=customer" in text
    assert "agent-dev-token" in text and "customer-dev-token" in text
    with server.client() as c:
        assert c.get("/api/restrictions").json()["max_file_size"] == 25_000_000


def test_200_mb_in_one_patch_streams_without_holding_it(make_server):
    """Memory stays flat (the body never sits in RAM) and the hash is right."""
    server = make_server()
    size = 200 * 1024 * 1024
    body = BigPdf(size)
    with server.client(AGENT, timeout=120) as c:
        uid = upload_id(start_upload(c, "big.pdf", size, "application/pdf"))
        started = time.monotonic()
        r = patch(c, uid, 0, iter(body), **{"Content-Length": str(size)})
        elapsed = time.monotonic() - started
    assert r.status_code == 204 and r.headers["upload-offset"] == str(size), r.text
    assert (server.data / "media" / body.sha256).stat().st_size == size
    peak_kb = peak_rss_kb(server)
    print(f"200 MB PATCH: {elapsed:.2f}s ({size / elapsed / 1e6:.0f} MB/s), server peak RSS {peak_kb // 1024} MB")
    assert peak_kb < 120 * 1024, f"server peak RSS {peak_kb} kB: the body is being held in memory"


def test_sigterm_during_a_stalled_upload_exits_and_keeps_the_bytes(make_server, tmp_path):
    data_dir = tmp_path / "data"
    server = make_server(data=data_dir)
    data = PDF + os.urandom(4 * 1024 * 1024)
    with server.client(AGENT) as c:
        uid = upload_id(start_upload(c, "stalled.pdf", len(data), "application/pdf"))
    sent = 3 * 1024 * 1024
    with partial_patch(server, uid, data, sent):
        time.sleep(0.5)                        # the client stalls, the connection stays open
        started = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        server.proc.wait(timeout=8)
        assert time.monotonic() - started < 6
    again = make_server(data=data_dir)
    with again.client(AGENT) as c:
        offset = offset_of(c, uid)
        assert offset == sent
        r = patch(c, uid, offset, data[offset:])
        assert r.headers["upload-offset"] == str(len(data))
    assert (data_dir / "media" / hashlib.sha256(data).hexdigest()).read_bytes() == data


def test_a_partial_config_keeps_the_other_defaults_but_never_the_dev_tokens(tmp_path):
    from server.config.config_file import load_config

    path = tmp_path / "partial.toml"
    path.write_text('[attachments]\nmax_file_size = "2 MB"\n\n[identities]\nagent = "a-long-agent-token"\n')
    config = load_config(path)
    assert config.restrictions.max_file_size == 2_000_000
    assert config.restrictions.accepted_types == ("image/*", ".pdf", ".txt", ".docx")
    assert config.restrictions.max_files_per_message == 1
    assert dict(config.identities) == {"agent": "a-long-agent-token"}
