"""One stream for a set of conversations (server/multistream.py): the wire the page's live hub relies on."""

from __future__ import annotations

import httpx

from .conftest import lines, read_events, send
from .production import agent_c1, bearer, mint, prod  # noqa: F401


def test_one_ticket_opens_one_stream_of_several_conversations_in_seq_order(prod, agent_c1):
    first = send(agent_c1, "before", cid="c1").json()
    r = agent_c1.post("/api/events/ticket", json={"conversations": ["c1", "c2"]})
    assert r.status_code == 200 and set(r.json()) == {"ticket", "expires_in"}
    ticket = r.json()["ticket"]
    with httpx.Client(base_url=prod.url, timeout=10) as anonymous:
        params = {"ticket": ticket, "after": first["seq"] - 1}
        with anonymous.stream("GET", "/api/events", params=params) as stream:
            assert stream.status_code == 200 and next(lines(stream)) == "retry: 1000"
            in_c2 = send(agent_c1, "in c2", cid="c2").json()
            in_c1 = send(agent_c1, "in c1", cid="c1").json()
            got = read_events(stream, 3)
        assert [(e["id"], e["data"]["conversation"]) for e in got] == [
            (first["seq"], "c1"), (in_c2["seq"], "c2"), (in_c1["seq"], "c1")]
        again = anonymous.get("/api/events", params={"ticket": ticket})
        assert again.status_code == 401 and again.json()["error"]["code"] == "invalid_ticket"


def test_a_conversation_not_allowed_is_named(prod, agent_c1):
    r = agent_c1.post("/api/events/ticket", json={"conversations": ["c1", "c3"]})
    assert r.status_code == 403
    assert r.json()["error"]["conversation"] == "c3"          # named, so the page leaves only it out
    for body in ({"conversations": []}, {"conversations": ["bad id"]}, {"conversations": ["c"] * 51}, {}):
        assert agent_c1.post("/api/events/ticket", json=body).status_code == 422


def test_a_set_stream_counts_as_one_of_the_identity_streams(prod):
    """PROD_CONFIG: max_streams_per_identity = 2; a third is refused with Retry-After."""
    token = mint("u-cap", "agent", ["*"])
    clients = [httpx.Client(base_url=prod.url, headers=bearer(token), timeout=10) for _ in range(2)]
    opened = []
    try:
        for client in clients:
            ticket = client.post("/api/events/ticket", json={"conversations": ["a", "b", "c"]}).json()["ticket"]
            stream = client.stream("GET", "/api/events", params={"ticket": ticket})
            assert stream.__enter__().status_code == 200
            opened.append(stream)
        refused = clients[0].post("/api/events/ticket", json={"conversations": ["a"]})
        assert refused.status_code == 429 and refused.headers["retry-after"].isdigit()
        assert refused.json()["error"]["code"] == "too_many_streams"
    finally:
        for stream in opened:
            stream.__exit__(None, None, None)
        for client in clients:
            client.close()
