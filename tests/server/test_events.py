"""Live messages over SSE: delivery, replay after a reconnect, keepalive."""

from __future__ import annotations

import httpx

from tests.services.postgres import both_databases  # noqa: F401  (fixture: these tests on SQLite and PostgreSQL)

from .conftest import AGENT, lines, read_events, send

EVENTS = "/api/conversations/room/events"


def open_stream(server, headers=None, params=None, timeout=5.0):
    client = httpx.Client(base_url=server.url, timeout=timeout)
    return client, client.stream("GET", EVENTS, headers={**AGENT, **(headers or {})}, params=params)


def wait_ready(response: httpx.Response) -> None:
    """The first frame is `retry:`; once it is here the stream is subscribed."""
    it = lines(response)
    assert next(it) == "retry: 1000"
    assert next(it) == ""


def test_live_delivery_and_headers(server, agent, customer):
    client, stream = open_stream(server)
    with client, stream as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        assert r.headers["cache-control"] == "no-cache"
        wait_ready(r)
        sent = send(customer, "hi from customer", key="e1", cid="room").json()
        send(customer, "other room", cid="elsewhere")
        sent2 = send(agent, "reply", cid="room").json()
        events = read_events(r, 2)
    assert [e["id"] for e in events] == [sent["seq"], sent2["seq"]]
    assert events[0]["data"] == sent and events[1]["data"] == sent2


def test_last_event_id_replays_what_was_missed(server, agent):
    seqs = [send(agent, f"m{i}", cid="room").json()["seq"] for i in range(4)]
    # a reconnecting EventSource sends Last-Event-ID and its original URL (?after=); the header wins
    client, stream = open_stream(server, headers={"Last-Event-ID": str(seqs[1])}, params={"after": "0"})
    with client, stream as r:
        events = read_events(r, 2)
        assert [e["data"]["text"] for e in events] == ["m2", "m3"]
        live = send(agent, "m4", cid="room").json()
        assert read_events(r, 1)[0]["id"] == live["seq"]


def test_after_query_replays_and_no_after_means_only_new(server, agent):
    first = send(agent, "old", cid="room").json()
    client, stream = open_stream(server, params={"after": "0"})
    with client, stream as r:
        assert read_events(r, 1)[0]["data"]["text"] == "old"
    client, stream = open_stream(server)
    with client, stream as r:
        wait_ready(r)
        send(agent, "new", cid="room")
        events = read_events(r, 1)
        assert events[0]["data"]["text"] == "new" and events[0]["id"] > first["seq"]


def test_the_page_opens_the_stream_with_a_ticket_in_development_too(server, agent):
    ticket = agent.post("/api/conversations/room/events/ticket").json()["ticket"]
    with httpx.Client(base_url=server.url, timeout=5) as client:
        with client.stream("GET", EVENTS, params={"ticket": ticket, "after": "0"}) as r:
            assert r.status_code == 200
            send(agent, "x", cid="room")
            assert read_events(r, 1)[0]["data"]["text"] == "x"
        assert client.get(EVENTS, params={"access_token": "customer-dev-token"}).status_code == 401
        assert client.get(EVENTS, params={"ticket": ticket}).status_code == 401      # spent


def test_keepalive_comment(make_server):
    server = make_server(extra=("--keepalive", "0.3"))
    client, stream = open_stream(server)
    with client, stream as r:
        it = lines(r)
        seen = [next(it) for _ in range(4)]
    assert seen == ["retry: 1000", "", ": keepalive", ""]


def test_many_subscribers_all_receive(server, agent):
    opened = [open_stream(server) for _ in range(5)]
    responses = []
    try:
        for _client, stream in opened:
            r = stream.__enter__()
            wait_ready(r)
            responses.append(r)
        m = send(agent, "broadcast", cid="room").json()
        for r in responses:
            assert read_events(r, 1)[0]["data"] == m
    finally:
        for client, stream in opened:
            stream.__exit__(None, None, None)
            client.close()


def test_last_event_id_from_another_data_dir_replays_everything(server, agent):
    send(agent, "first", cid="room")
    client, stream = open_stream(server, headers={"Last-Event-ID": "999999"})
    with client, stream as r:
        assert read_events(r, 1)[0]["data"]["text"] == "first"


def test_bad_last_event_id_is_422(server):
    with httpx.Client(base_url=server.url, headers=AGENT, timeout=5) as c:
        assert c.get(EVENTS, headers={"Last-Event-ID": "abc"}).status_code == 422
