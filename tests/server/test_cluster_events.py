"""Two server processes sharing one database (the --data folder's SQLite) and one real Redis ([broker]):
tickets, stream counts and live messages cross processes; a killed process's listeners resume on the
other; Redis stopped and started under running servers costs latency, never a message."""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tools.services.attache import ROOT, RunningServer

from tools.services.process import free_port
from tests.services.redis import redis_service  # noqa: F401  (session fixture)

from tests.files import png_bytes

from .conftest import lines, send, upload
from .production import PROD_CONFIG, SECRET, bearer, mint
from tools.waiting import wait_for

HEARTBEAT = "0.5"      # stream counts lapse 2 s after their process dies (4 heartbeats)


def broker_config(url: str) -> str:
    return PROD_CONFIG + f'\n[broker]\nurl = "{url}"\n'


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, redis_service) -> Iterator[tuple[RunningServer, RunningServer]]:
    """Processes A and B: one data folder, one Redis."""
    root = tmp_path_factory.mktemp("cluster")
    (root / "jwt.key").write_bytes(SECRET)
    config = root / "config.toml"
    config.write_text(broker_config(redis_service.url))
    servers = [RunningServer(root / "data", config, log=root / f"server-{name}.log",
                             extra=("--stream-heartbeat", HEARTBEAT, "--keepalive", "1"))
               for name in "ab"]
    for server in servers:
        server.start()
    yield servers[0], servers[1]
    for server in servers:
        server.stop()


def client(server: RunningServer, token: str) -> httpx.Client:
    return server.client(bearer(token))


def ticket(c: httpx.Client, path: str, **kwargs) -> str:
    r = c.post(path, **kwargs)
    assert r.status_code == 200, r.text
    return r.json()["ticket"]


def read_events(response: httpx.Response, count: int, timeout: float = 20,
                kinds: tuple[str, ...] = ("message",)) -> list[dict]:
    """`count` events of `kinds`, or a failure once `timeout` seconds pass (the servers send a keepalive every
    second, so a missing message fails here instead of hanging)."""
    deadline = time.monotonic() + timeout
    events, current = [], {}
    for line in lines(response):
        assert time.monotonic() < deadline, f"only {len(events)} of {count} events within {timeout} s"
        if line == "":
            if current.get("event") in kinds:
                events.append({"id": int(current["id"]), "event": current["event"],
                               "data": json.loads(current["data"])})
                if len(events) == count:
                    return events
            current = {}
        elif not line.startswith(":"):
            field, _, value = line.partition(":")
            current[field] = value.removeprefix(" ")
    raise AssertionError(f"the stream ended after {len(events)} of {count} events")


def wait_for_status(call, status: int, what: str) -> httpx.Response:
    """Repeat `call()` until it answers `status` (a state reached by the servers, not a fixed sleep)."""
    return wait_for(call, lambda r: r.status_code == status, what)


def test_a_ticket_from_one_process_opens_a_stream_on_the_other_once(cluster):
    a, b = cluster
    with client(a, mint("u-x1", "agent", ["x1"])) as on_a, httpx.Client(base_url=b.url, timeout=10) as anon:
        t = ticket(on_a, "/api/conversations/x1/events/ticket")
        with anon.stream("GET", "/api/conversations/x1/events", params={"ticket": t}) as r:
            assert r.status_code == 200 and next(lines(r)) == "retry: 1000"
            m = send(on_a, "sent on A", cid="x1").json()              # published by A, heard by B
            assert read_events(r, 1)[0]["data"] == m
        again = httpx.get(a.url + "/api/conversations/x1/events", params={"ticket": t}, timeout=10)
        assert again.status_code == 401 and again.json()["error"]["code"] == "invalid_ticket"


def test_a_cluster_on_another_database_that_shares_the_redis_stays_apart(cluster, tmp_path, redis_service):
    """Staging beside production on one Redis: a ticket of one cluster opens nothing on the other, and
    each counts its own streams per identity (keys and channel are named after the database's cluster id)."""
    a, b = cluster
    (tmp_path / "jwt.key").write_bytes(SECRET)
    (tmp_path / "config.toml").write_text(broker_config(redis_service.url))
    other = RunningServer(tmp_path / "data", tmp_path / "config.toml", log=tmp_path / "other.log",
                          extra=("--stream-heartbeat", HEARTBEAT))
    other.start()
    token = mint("u-apart", "agent", ["x9"])
    try:
        with client(a, token) as on_a, client(other, token) as on_other, \
                httpx.Client(base_url=a.url, timeout=10) as anon:
            t = ticket(on_a, "/api/conversations/x9/events/ticket")
            with httpx.stream("GET", other.url + "/api/conversations/x9/events", params={"ticket": t},
                              timeout=10) as refused:
                assert refused.status_code == 401, "a ticket of another cluster opened a stream"
                assert json.loads(refused.read())["error"]["code"] == "invalid_ticket"
            with contextlib.ExitStack() as streams:
                for _ in range(2):                                    # the identity's limit, on A's cluster
                    r = streams.enter_context(anon.stream(
                        "GET", "/api/conversations/x9/events",
                        params={"ticket": ticket(on_a, "/api/conversations/x9/events/ticket")}))
                    assert r.status_code == 200
                assert on_a.post("/api/conversations/x9/events/ticket").status_code == 429
                assert on_other.post("/api/conversations/x9/events/ticket").status_code == 200   # its own count
    finally:
        other.stop()
    clusters = {sqlite3.connect(folder / "attache.sqlite3").execute("SELECT id FROM cluster").fetchone()[0]
                for folder in (a.data, b.data, tmp_path / "data")}
    assert len(clusters) == 2                                         # A and B are one cluster


def test_one_stream_of_many_conversations_across_processes(cluster):
    a, b = cluster
    with client(a, mint("u-x2", "agent", ["x2a", "x2b", "x2c"])) as on_a, \
            httpx.Client(base_url=b.url, timeout=10) as anon:
        before = send(on_a, "before", cid="x2a").json()
        t = ticket(on_a, "/api/events/ticket", json={"conversations": ["x2a", "x2b"]})
        with anon.stream("GET", "/api/events", params={"ticket": t, "after": before["seq"] - 1}) as r:
            assert read_events(r, 1)[0]["data"] == before                # the backlog, from the database
            sent = [send(on_a, "in b", cid="x2b").json(), send(on_a, "not followed", cid="x2c").json(),
                    send(on_a, "in a", cid="x2a").json()]
            got = read_events(r, 2)
        assert [e["data"] for e in got] == [sent[0], sent[2]]
        assert [e["id"] for e in got] == [sent[0]["seq"], sent[2]["seq"]]


def test_stream_counts_are_shared_by_the_processes(cluster):
    """PROD_CONFIG: max_streams_per_identity = 2, one stream on each process."""
    a, b = cluster
    token = mint("u-x3", "customer", ["x3"])
    with client(a, token) as on_a, client(b, token) as on_b:
        with on_a.stream("GET", "/api/conversations/x3/events") as first, \
                on_b.stream("GET", "/api/events", params={
                    "ticket": ticket(on_b, "/api/events/ticket", json={"conversations": ["x3"]})}) as second:
            assert first.status_code == 200 and second.status_code == 200
            assert next(lines(first)) == "retry: 1000" and next(lines(second)) == "retry: 1000"
            for c in (on_a, on_b):
                r = c.post("/api/conversations/x3/events/ticket")
                assert r.status_code == 429 and r.headers["retry-after"].isdigit()
                assert r.json()["error"]["code"] == "too_many_streams"
        wait_for_status(lambda: on_b.post("/api/conversations/x3/events/ticket"), 200, "the slots are given back")


def test_a_killed_process_loses_no_message_and_doubles_none(cluster):
    a, b = cluster
    token = mint("u-x4", "customer", ["x4"])
    try:
        killed_and_resumed(a, b, token)
    finally:
        if b.proc is None or b.proc.poll() is not None:
            b.start()                                                   # for the tests after this one


def killed_and_resumed(a: RunningServer, b: RunningServer, token: str) -> None:
    with client(a, token) as on_a, client(b, token) as on_b, contextlib.ExitStack() as streams:
        r, r2 = (streams.enter_context(on_b.stream("GET", "/api/conversations/x4/events", params={"after": "0"}))
                 for _ in range(2))
        assert r.status_code == 200 and r2.status_code == 200
        first = send(on_a, "one", cid="x4").json()
        seen = read_events(r, 1)
        assert [e["id"] for e in seen] == [first["seq"]]
        b.stop(signal.SIGKILL)                                          # the listener's process dies
        missed = [send(on_a, f"while down {i}", cid="x4").json() for i in range(3)]
        # its two streams stop counting by themselves (no process is left to give them back)
        wait_for_status(lambda: on_a.post("/api/conversations/x4/events/ticket"), 200, "the dead process's streams stop counting")
        t = ticket(on_a, "/api/conversations/x4/events/ticket")
        with httpx.Client(base_url=a.url, timeout=10) as anon:
            with anon.stream("GET", "/api/conversations/x4/events", params={"ticket": t},
                             headers={"Last-Event-ID": str(seen[-1]["id"])}) as resumed:
                got = read_events(resumed, 3)
                live = send(on_a, "after", cid="x4").json()
                got += read_events(resumed, 1)
        assert [e["data"] for e in got] == [*missed, live]               # nothing lost, nothing twice


def test_a_lost_doorbell_costs_latency_not_the_message(cluster, tmp_path):
    """A writer that never rings Redis (a third process on the same database without [broker], as a process
    killed between its commit and its publish would be): listeners still get the message, by their resync."""
    a, _ = cluster
    silent = RunningServer(a.data, a.config.with_name("silent.toml"), log=tmp_path / "silent.log")
    silent.config.write_text(PROD_CONFIG)
    token = mint("u-x5", "agent", ["x5"])
    silent.start()
    try:
        with client(a, token) as on_a, client(silent, token) as on_silent:
            with on_a.stream("GET", "/api/conversations/x5/events") as r:
                assert next(lines(r)) == "retry: 1000"
                m = send(on_silent, "no doorbell", cid="x5").json()
                assert read_events(r, 1)[0]["data"] == m
    finally:
        silent.stop()


def test_redis_lost_and_back_under_running_servers(cluster, redis_service):
    a, b = cluster
    token = mint("u-x6", "agent", ["x6"])
    with client(a, token) as on_a, client(b, token) as on_b:
        with on_b.stream("GET", "/api/conversations/x6/events") as r:
            assert next(lines(r)) == "retry: 1000"
            redis_service.stop()
            try:
                refused = on_a.post("/api/conversations/x6/events/ticket")
                assert refused.status_code == 503 and refused.headers["retry-after"].isdigit()
                assert refused.json()["error"]["code"] == "broker_unavailable"
                m = send(on_a, "while Redis is away", cid="x6")
                assert m.status_code == 201                            # stored: the database is the truth
                assert read_events(r, 1)[0]["data"] == m.json()          # B reads the database meanwhile
                assert "lost the broker (Redis) at " + redis_service.url in b.output()
            finally:
                redis_service.start()
            wait_for_status(lambda: on_a.post("/api/conversations/x6/events/ticket"), 200, "tickets again once Redis is back")
            back = send(on_a, "Redis is back", cid="x6").json()
            assert read_events(r, 1)[0]["data"] == back


def test_an_unreachable_broker_at_start_is_named_without_its_password(tmp_path):
    port = free_port()
    config = tmp_path / "config.toml"
    config.write_text(PROD_CONFIG + f'\n[broker]\nurl = "redis://:s3cret-pw@127.0.0.1:{port}/0"\n')
    (tmp_path / "jwt.key").write_bytes(SECRET)
    run = subprocess.run([sys.executable, "-m", "server", "--port", "0", "--config", str(config),
                          "--data", str(tmp_path / "data")], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert run.returncode == 1
    assert f"cannot reach the broker (Redis) at redis://127.0.0.1:{port}/0" in run.stderr
    assert "s3cret-pw" not in run.stdout + run.stderr


def thumbnail_recorded(data: Path, sha256: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with sqlite3.connect(data / "attache.sqlite3") as db:
            if db.execute("SELECT 1 FROM thumbnails WHERE sha256 = ?", (sha256,)).fetchone():
                return
        time.sleep(0.05)
    raise AssertionError(f"no thumbnail recorded within {timeout} s")


def test_a_thumbnail_made_after_its_message_reaches_the_other_process_live_and_on_reconnecting(cluster):
    """The message is sent while its photo has no thumbnail (its row removed, as before thumbnails);
    the same bytes uploaded again make it on A: B's listener gets the update, and so does a stream
    that reconnects later from the message's seq."""
    a, b = cluster
    photo = png_bytes(640, 480)
    sha256 = hashlib.sha256(photo).hexdigest()
    with client(a, mint("u-x9", "agent", ["x9"])) as on_a, client(b, mint("u-x9c", "customer", ["x9"])) as on_b:
        uid = upload(on_a, "view.png", photo, "image/png")["upload_id"]
        thumbnail_recorded(a.data, sha256)
        with sqlite3.connect(a.data / "attache.sqlite3") as db:
            db.execute("DELETE FROM thumbnails WHERE sha256 = ?", (sha256,))
        m = send(on_a, "the view", [uid], cid="x9").json()
        assert m["attachments"][0]["thumbnail"] is None and m["attachments"][0]["thumbnail_pending"] is True
        t = ticket(on_b, "/api/conversations/x9/events/ticket")
        with on_b.stream("GET", "/api/conversations/x9/events", params={"ticket": t, "after": m["seq"]}) as r:
            assert next(lines(r)) == "retry: 1000"
            upload(on_a, "again.png", photo, "image/png")                 # made (and announced) by A
            live = read_events(r, 1, kinds=("message", "update"))[0]
        assert live["event"] == "update" and live["id"] > m["seq"]
        updated = live["data"]
        assert updated["id"] == m["id"] and updated["seq"] == m["seq"] and updated["text"] == "the view"
        assert updated["attachments"][0]["thumbnail"]["width"] == 480 and "thumbnail_pending" not in \
            updated["attachments"][0]
        t = ticket(on_b, "/api/conversations/x9/events/ticket")
        with httpx.Client(base_url=a.url, timeout=10) as anon, anon.stream(
                "GET", "/api/conversations/x9/events", params={"ticket": t, "after": m["seq"]}) as again:
            replayed = read_events(again, 1, kinds=("message", "update"))[0]
        assert replayed["event"] == "update" and replayed["id"] == live["id"]
        assert replayed["data"]["attachments"][0]["thumbnail"]["height"] == 360
        t = ticket(on_b, "/api/conversations/x9/events/ticket")
        with httpx.Client(base_url=b.url, timeout=10) as anon, anon.stream(
                "GET", "/api/conversations/x9/events", params={"ticket": t, "after": m["seq"] - 1}) as whole:
            first = read_events(whole, 1, kinds=("message", "update"))[0]
        assert first["event"] == "message" and first["id"] == m["seq"]      # the message as it is now
        assert first["data"]["attachments"][0]["thumbnail"]["width"] == 480
