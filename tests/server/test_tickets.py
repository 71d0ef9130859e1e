"""The events stream without a long-lived token in its URL: single-use tickets, caps, expiry."""

from __future__ import annotations


import httpx

from server.auth.principals import Principal
from server.auth.tickets import PER_IDENTITY, Grant, Tickets

from tests.conftest import run_async

from .conftest import lines, read_events, send
from .production import agent_c1, bearer, customer_c1, mint, prod  # noqa: F401
from tools.waiting import wait_until

EVENTS = "/api/conversations/c1/events"


def get_ticket(client: httpx.Client, cid: str = "c1") -> str:
    r = client.post(f"/api/conversations/{cid}/events/ticket")
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"ticket", "expires_in"} and 0 < body["expires_in"] <= 60 and len(body["ticket"]) >= 32
    return body["ticket"]


def test_a_ticket_opens_the_stream_once(prod, customer_c1, agent_c1):
    ticket = get_ticket(customer_c1)
    with httpx.Client(base_url=prod.url, timeout=10) as anonymous:         # EventSource: no headers
        with anonymous.stream("GET", EVENTS, params={"ticket": ticket}) as r:
            assert r.status_code == 200 and next(lines(r)) == "retry: 1000"     # subscribed
            m = send(agent_c1, "live", cid="c1").json()
            assert read_events(r, 1)[0]["data"] == m
        again = anonymous.get(EVENTS, params={"ticket": ticket})
        assert again.status_code == 401 and again.json()["error"]["code"] == "invalid_ticket"


def test_a_ticket_is_bound_to_its_conversation(prod, agent_c1):
    ticket = get_ticket(agent_c1, "c2")
    with httpx.Client(base_url=prod.url, timeout=10) as anonymous:
        r = anonymous.get(EVENTS, params={"ticket": ticket})               # issued for c2, used on c1
        assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_ticket"
        with anonymous.stream("GET", "/api/conversations/c2/events", params={"ticket": ticket}) as r:
            assert r.status_code == 401                                     # and it is used up


def test_no_token_in_the_events_url_in_production(prod):
    with httpx.Client(base_url=prod.url, timeout=10) as anonymous:
        r = anonymous.get(EVENTS, params={"access_token": mint()})
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"


def test_tickets_expire_and_are_single_use():
    now = [1000.0]
    tickets = Tickets(ttl=30, clock=lambda: now[0])
    grant = Grant(Principal("u-ann", "Ann", "customer", ("c1",)), ("c1",))
    first, second = run_async(tickets.issue(grant)), run_async(tickets.issue(grant))
    assert first != second
    assert run_async(tickets.redeem(first)) == grant
    assert run_async(tickets.redeem(first)) is None
    now[0] += 30
    assert run_async(tickets.redeem(second)) is None


def test_event_streams_per_identity_are_capped(prod, customer_c1, agent_c1):
    """PROD_CONFIG: max_streams_per_identity = 2."""
    clients = [httpx.Client(base_url=prod.url, headers=customer_c1.headers, timeout=10) for _ in range(3)]
    opened = []
    try:
        for c in clients[:2]:
            stream = c.stream("GET", EVENTS)
            r = stream.__enter__()
            opened.append(stream)
            assert r.status_code == 200 and next(lines(r)) == "retry: 1000"
        r = clients[2].get(EVENTS)
        assert r.status_code == 429 and r.headers["retry-after"].isdigit()
        assert r.json()["error"]["code"] == "too_many_streams"
        r = clients[2].post(EVENTS + "/ticket")          # said where the page can read it (not EventSource)
        assert r.status_code == 429 and r.headers["retry-after"].isdigit()
        assert r.json()["error"]["code"] == "too_many_streams"
        with agent_c1.stream("GET", EVENTS) as other:                       # another identity is not affected
            assert other.status_code == 200
        opened.pop().__exit__(None, None, None)                             # closing one frees its slot
        def opens() -> bool:
            with clients[2].stream("GET", EVENTS) as r:
                assert r.status_code in (200, 429)
                return r.status_code == 200
        wait_until(opens, "the closed stream's slot is freed", 10)
    finally:
        for stream in opened:
            stream.__exit__(None, None, None)
        for c in clients:
            c.close()


def test_the_stream_ends_when_the_token_expires(prod):
    with prod.client(bearer(mint(ttl=2))) as c:
        with c.stream("GET", EVENTS, timeout=20) as r:
            assert r.status_code == 200
            rest = list(lines(r))                                           # returns once the server ends it
    assert rest[0] == "retry: 1000"


def test_an_expired_token_gets_no_byte_of_the_stream(prod, agent_c1):
    """Issue 18: the token's expiry is checked before the backlog (a token a few seconds past `exp` still
    passes the 5 s leeway of the ticket request)."""
    send(agent_c1, "history with fresh media links", cid="c1")
    expired = bearer(mint("u-ann", "customer", ["c1"], ttl=-2))
    with prod.client(expired) as late, httpx.Client(base_url=prod.url, timeout=10) as anonymous:
        ticket = get_ticket(late)
        for r in (anonymous.get(EVENTS, params={"ticket": ticket, "after": "0"}),
                  late.get(EVENTS, params={"after": "0"}),
                  anonymous.get("/api/events", params={"after": "0", "ticket": late.post(
                      "/api/events/ticket", json={"conversations": ["c1"]}).json()["ticket"]})):
            assert r.status_code == 401 and r.json()["error"]["code"] == "token_expired"
            assert "retry:" not in r.text


def test_one_identity_cannot_push_out_anothers_tickets(prod, customer_c1, agent_c1):
    """Issue 18: each identity holds at most PER_IDENTITY tickets; beyond, its own oldest goes."""
    anns = get_ticket(customer_c1)
    bobs = [get_ticket(agent_c1) for _ in range(PER_IDENTITY + 5)]
    with httpx.Client(base_url=prod.url, timeout=10) as anonymous:
        assert anonymous.get(EVENTS, params={"ticket": bobs[0]}).status_code == 401        # Bob's own oldest
        for ticket in (anns, bobs[-1]):
            with anonymous.stream("GET", EVENTS, params={"ticket": ticket}) as r:
                assert r.status_code == 200


def test_the_table_stays_bounded_per_identity_and_overall():
    tickets = Tickets(per_identity=3, limit=10)
    grant = lambda sub: Grant(Principal(sub, sub, "agent", ("*",)), ("c1",))   # noqa: E731
    issue = lambda sub: run_async(tickets.issue(grant(sub)))                  # noqa: E731
    first_of = {sub: issue(sub) for sub in ("a", "b", "c", "d")}
    mine = [issue("a") for _ in range(3)]                    # a's first goes, nobody else's
    assert run_async(tickets.redeem(first_of["a"])) is None
    assert len(tickets._open) == 6 and all(len(t) <= 3 for t in tickets._by_sub.values())
    for sub in "efghi":
        issue(sub)                                            # 11 would be over the overall bound of 10
    assert len(tickets._open) == 10 and run_async(tickets.redeem(first_of["b"])) is None
    assert run_async(tickets.redeem(mine[-1])) == grant("a")
