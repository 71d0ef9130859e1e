"""One event stream for many conversations (POST /api/events/ticket, GET /api/events), in one process:
the wire the page's live hub relies on."""

from __future__ import annotations

import contextlib

import httpx

from .conftest import lines, read_events, send
from .production import agent_all, agent_c1, bearer, customer_c1, mint, prod  # noqa: F401

TICKET = "/api/events/ticket"


def multi_ticket(client: httpx.Client, conversations: list[str]) -> str:
    r = client.post(TICKET, json={"conversations": conversations})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"ticket", "expires_in"} and body["expires_in"] == 30
    return body["ticket"]


def test_one_stream_carries_every_named_conversation_in_seq_order(prod, agent_c1, agent_all):
    old = [send(agent_c1, "old c2", cid="c2").json(), send(agent_c1, "old c1", cid="c1").json()]
    ticket = multi_ticket(agent_c1, ["c1", "c2"])
    with httpx.Client(base_url=prod.url, timeout=10) as anon:
        with anon.stream("GET", "/api/events", params={"ticket": ticket, "after": old[0]["seq"] - 1}) as r:
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
            assert next(lines(r)) == "retry: 1000"
            backlog = read_events(r, 2)
            assert [e["data"] for e in backlog] == old                          # both conversations, merged
            live = [send(agent_all, "c3: not named", cid="c3").json(), send(agent_c1, "new c1", cid="c1").json(),
                    send(agent_all, "new c2", cid="c2").json()]
            got = read_events(r, 2)
    assert [e["data"] for e in got] == live[1:]
    assert [e["id"] for e in got] == [m["seq"] for m in live[1:]] and all(
        e["data"]["conversation"] in ("c1", "c2") for e in got)


def test_last_event_id_overrides_after_and_resumes_every_conversation(prod, agent_c1):
    sent = [send(agent_c1, f"m{i}", cid=cid).json() for i, cid in enumerate(["c1", "c2", "c1", "c2"])]
    with httpx.Client(base_url=prod.url, timeout=10) as anon:
        with anon.stream("GET", "/api/events", params={"ticket": multi_ticket(agent_c1, ["c2", "c1"]), "after": "0"},
                         headers={"Last-Event-ID": str(sent[1]["seq"])}) as r:
            assert [e["data"] for e in read_events(r, 2)] == sent[2:]


def test_the_ticket_names_only_the_callers_conversations(prod, agent_c1):
    r = agent_c1.post(TICKET, json={"conversations": ["c1", "c3"]})
    assert r.status_code == 403
    error = r.json()["error"]
    assert error["code"] == "conversation_not_allowed" and error["conversation"] == "c3" and "'c3'" in error["message"]


def test_a_malformed_list_is_422(prod, agent_all):
    for body in ({}, {"conversations": []}, {"conversations": "c1"}, {"conversations": [1]},
                 {"conversations": [f"c{i}" for i in range(51)]}, {"conversations": ["c"] * 51},
                 {"conversations": ["no spaces"]}):
        r = agent_all.post(TICKET, json=body)
        assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_conversations", body
    assert agent_all.post(TICKET, json={"conversations": [f"c{i}" for i in range(50)]}).status_code == 200
    with httpx.Client(base_url=prod.url, timeout=10) as anon:
        assert anon.post(TICKET, json={"conversations": ["c1"]}).status_code == 401


def test_tickets_open_only_their_own_kind_of_stream_once(prod, agent_c1):
    with httpx.Client(base_url=prod.url, timeout=10) as anon:
        one = agent_c1.post("/api/conversations/c1/events/ticket").json()["ticket"]
        r = anon.get("/api/events", params={"ticket": one})
        assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_ticket"
        many = multi_ticket(agent_c1, ["c1"])
        r = anon.get("/api/conversations/c1/events", params={"ticket": many})
        assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_ticket"
        r = anon.get("/api/events")
        assert r.status_code == 401 and TICKET in r.json()["error"]["hint"]
        again = multi_ticket(agent_c1, ["c1"])
        with anon.stream("GET", "/api/events", params={"ticket": again}) as r:
            assert r.status_code == 200
        assert anon.get("/api/events", params={"ticket": again}).status_code == 401       # used


def test_a_stream_of_many_conversations_counts_as_one(prod):
    """PROD_CONFIG: max_streams_per_identity = 2."""
    with prod.client(bearer(mint("u-dora", "agent", ["d1", "d2", "d3"]))) as dora, contextlib.ExitStack() as opened:
        with httpx.Client(base_url=prod.url, timeout=10) as anon:
            r = opened.enter_context(anon.stream("GET", "/api/events", params={
                "ticket": multi_ticket(dora, ["d1", "d2", "d3"])}))
            assert r.status_code == 200 and next(lines(r)) == "retry: 1000"
            single = opened.enter_context(dora.stream("GET", "/api/conversations/d1/events"))
            assert single.status_code == 200 and next(lines(single)) == "retry: 1000"
            full = dora.post(TICKET, json={"conversations": ["d2"]})
            assert full.status_code == 429 and full.json()["error"]["code"] == "too_many_streams"
            assert full.headers["retry-after"].isdigit()


def test_two_set_streams_fill_the_identity_cap(prod):
    """PROD_CONFIG: max_streams_per_identity = 2; a third stream is refused with Retry-After."""
    token = mint("u-cap", "agent", ["*"])
    with contextlib.ExitStack() as opened:
        clients = [opened.enter_context(httpx.Client(base_url=prod.url, headers=bearer(token), timeout=10))
                   for _ in range(2)]
        for client in clients:
            stream = opened.enter_context(client.stream("GET", "/api/events", params={
                "ticket": multi_ticket(client, ["a", "b", "c"])}))
            assert stream.status_code == 200
        refused = clients[0].post(TICKET, json={"conversations": ["a"]})
        assert refused.status_code == 429 and refused.headers["retry-after"].isdigit()
        assert refused.json()["error"]["code"] == "too_many_streams"
