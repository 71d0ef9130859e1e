"""History in pages: newest first, older on demand, keyset by seq; the reference adapter reads what the server sends."""

from __future__ import annotations

import pytest

from app.backends.reference import ReferenceApi
from app.core.http import Response

from tests.services.postgres import both_databases  # noqa: F401  (fixture: these tests on SQLite and PostgreSQL)

from .conftest import AGENT, send
from .production import dev, dev_agent  # noqa: F401  (fixtures: one server for the module)

COUNT = 250


@pytest.fixture(scope="module")
def seeded(dev):
    """COUNT messages in "long", each followed by one in "noise" (seq is global: pages must not care)."""
    with dev.client(AGENT) as c:
        seqs = []
        for i in range(COUNT):
            seqs.append(send(c, f"m{i:03d}", key=f"long-{i}", cid="long").json()["seq"])
            send(c, f"noise {i}", key=f"noise-{i}", cid="noise")
    return seqs


def get(agent, **params):
    r = agent.get("/api/conversations/long/messages", params=params)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"messages", "older"}
    return [m["text"] for m in body["messages"]], body["older"]


def test_the_first_page_is_the_newest_hundred_oldest_first(agent, seeded):
    texts, older = get(agent)
    assert texts == [f"m{i:03d}" for i in range(COUNT - 100, COUNT)]
    assert older == str(seeded[COUNT - 100])     # the `before` of the next page: this page's first seq


def test_following_older_reaches_the_first_message_once_each(agent, seeded):
    pages, before = [], None
    while True:
        texts, before = get(agent, **({} if before is None else {"before": before}), limit=60)
        pages.append(texts)
        if before is None:
            break
    assert [len(p) for p in pages] == [60, 60, 60, 60, 10]
    assert [t for page in reversed(pages) for t in page] == [f"m{i:03d}" for i in range(COUNT)]


def test_a_page_that_ends_exactly_at_the_start_has_no_older(agent, seeded):
    texts, older = get(agent, before=seeded[50], limit=50)
    assert texts == [f"m{i:03d}" for i in range(50)] and older is None
    assert get(agent, before=seeded[0]) == ([], None)
    assert get(agent, before=0) == ([], None)


def test_before_and_after_bound_a_window(agent, seeded):
    texts, older = get(agent, after=seeded[9], before=seeded[20], limit=5)
    assert texts == [f"m{i:03d}" for i in range(15, 20)] and older == str(seeded[15])
    assert get(agent, after=seeded[9], before=seeded[15], limit=5) == ([f"m{i:03d}" for i in range(10, 15)], None)
    assert get(agent, after=seeded[-3]) == (["m248", "m249"], None)   # catching up after a seq, as before


@pytest.mark.parametrize("query, code", [
    ("limit=0", "invalid_limit"), ("limit=501", "invalid_limit"), ("limit=-1", "invalid_limit"),
    ("limit=1e2", "invalid_limit"), ("limit=", "invalid_limit"), ("limit=%D9%A1", "invalid_limit"),
    ("before=x", "invalid_before"), ("before=-5", "invalid_before"), ("before=9223372036854775808", "invalid_before"),
    ("before=", "invalid_before"), ("before=%C2%B2", "invalid_before"),
])
def test_paging_parameters_are_strict(agent, query, code):
    r = agent.get(f"/api/conversations/long/messages?{query}")
    assert r.status_code == 422 and r.json()["error"]["code"] == code, r.text


@pytest.mark.parametrize("query, code", [("before=5&before=6", "repeated_parameter"),
                                         ("limit=5&limit=6", "repeated_parameter"), ("before[]=5", "array_parameter")])
def test_repeated_paging_parameters_are_refused(agent, query, code):
    r = agent.get(f"/api/conversations/long/messages?{query}")
    assert r.status_code == 400 and r.json()["error"]["code"] == code


def test_the_largest_limit_and_seq_are_fine(agent, seeded):
    texts, older = get(agent, limit=500, before=str(2**63 - 1))
    assert len(texts) == COUNT and older is None


def test_the_reference_adapter_pages_through_the_real_server(dev, seeded):
    """ReferenceApi builds each request and parses each answer; only the I/O is done here."""
    api = ReferenceApi(dev.url, "agent-dev-token", "long", identity="agent")
    seen, token, pages = [], None, 0
    with dev.client() as c:
        while True:
            req = api.history_request(token)
            r = c.request(req.method, req.url, headers=req.headers)
            page = api.parse_history(Response(r.status_code, dict(r.headers), r.text))
            seen[:0] = [m.text for m in page.messages]
            pages += 1
            token = page.older
            if token is None:
                break
    assert pages == 3 and seen == [f"m{i:03d}" for i in range(COUNT)]
