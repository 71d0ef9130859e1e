"""Conversation membership: every route checks the token's `conversations`; others are 404."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest

from server.media.link_signer import Signer

from .conftest import PNG, send, upload
from .production import agent_all, agent_c1, bearer, customer_c1, mint, prod  # noqa: F401

ROUTES = [
    ("GET", "/api/conversations/{cid}/messages", None),
    ("POST", "/api/conversations/{cid}/messages", {"text": "hi", "idempotency_key": "m"}),
    ("GET", "/api/conversations/{cid}/events", None),
    ("POST", "/api/conversations/{cid}/events/ticket", None),
]
# (client fixture, a conversation of theirs, one that is not)
ROLES = [("customer_c1", "c1", "c2"), ("agent_c1", "c2", "c3")]


def _call(client, method, path, body):
    if path.endswith("/events"):
        with client.stream(method, path, params={"after": "0"}) as r:
            status = r.status_code
            data = r.read() if status != 200 else b""
        return status, data
    r = client.request(method, path, json=body)
    return r.status_code, r.content


@pytest.mark.parametrize("method,path,body", ROUTES, ids=[f"{m} {p.rsplit('/', 1)[1]}" for m, p, _ in ROUTES])
@pytest.mark.parametrize("who,mine,theirs", ROLES, ids=[r[0] for r in ROLES])
def test_each_route_is_404_outside_the_tokens_conversations(request, agent_all, method, path, body,
                                                            who, mine, theirs):
    client = request.getfixturevalue(who)
    send(agent_all, "exists", cid=theirs)           # the other conversation exists and has messages
    status, _ = _call(client, method, path.format(cid=mine), body)
    assert status in (200, 201)
    status, data = _call(client, method, path.format(cid=theirs), body)
    assert status == 404
    assert b'"conversation_not_found"' in data
    # exactly what a conversation that never existed answers: nothing is revealed
    _, never = _call(client, method, path.format(cid="never-used"), body)
    assert data.replace(theirs.encode(), b"X") == never.replace(b"never-used", b"X")


def test_an_agent_with_every_conversation_reaches_any(agent_all):
    assert send(agent_all, "anywhere", cid="zzz-9").status_code == 201
    assert agent_all.get("/api/conversations/zzz-9/messages").status_code == 200


@pytest.mark.parametrize("who,theirs", [("customer_c1", "c2"), ("agent_c1", "c3")])
def test_attaching_an_upload_checks_the_conversation_first(request, who, theirs):
    client = request.getfixturevalue(who)
    state = upload(client, "pixel.png", PNG, "image/png")
    r = send(client, "", [state["upload_id"]], cid=theirs)
    assert r.status_code == 404 and r.json()["error"]["code"] == "conversation_not_found"


def test_an_upload_attaches_only_for_its_owner(customer_c1, agent_c1):
    state = upload(agent_c1, "pixel.png", PNG, "image/png")
    r = send(customer_c1, "stolen", [state["upload_id"]], cid="c1")
    assert r.status_code == 409 and r.json()["error"]["code"] == "unknown_upload"
    assert send(agent_c1, "mine", [state["upload_id"]], cid="c1").status_code == 201


def _link_parts(url: str) -> tuple[str, str, str, int, str]:
    parts = urlsplit(url)
    _, _, digest, name = parts.path.split("/", 3)
    q = {k: v[0] for k, v in parse_qs(parts.query).items()}
    return digest, name, q["c"], int(q["e"]), q["sig"]


def test_media_links_are_bound_to_their_conversation_and_expire(prod, customer_c1, agent_c1):
    state = upload(agent_c1, "bound.png", PNG, "image/png")        # a name sent nowhere else here
    url = send(agent_c1, "", [state["upload_id"]], cid="c2").json()["attachments"][0]["url"]
    digest, name, cid, expires, sig = _link_parts(url)
    assert cid == "c2" and 2700 <= expires - time.time() <= 3600        # default media_link_ttl: 1 h
    with prod.client() as anonymous:                                      # <img> sends no token
        r = anonymous.get(url)
        assert r.status_code == 200 and r.content == PNG
        max_age = int(r.headers["cache-control"].split("max-age=")[1].split(",")[0])
        assert 0 < max_age <= expires - time.time() + 1                  # never cached beyond the link
        # customer_c1 cannot read c2's history, so has no c2 link; editing one is useless:
        assert anonymous.get(url.replace("c=c2", "c=c1")).status_code == 403
        assert anonymous.get(url.replace(f"e={expires}", f"e={expires + 3600}")).status_code == 403
        signer = Signer((prod.data / "secret").read_text().strip().encode())
        forged = f"/media/{digest}/{name}?c=c1&e={expires}&sig={signer.sig('c1', expires, digest, 'bound.png')}"
        r = anonymous.get(forged)                      # well signed, but the file was never sent in c1
        assert r.status_code == 404 and r.json()["error"]["code"] == "media_not_found"
        past = int(time.time()) - 1
        expired = f"/media/{digest}/{name}?c=c2&e={past}&sig={signer.sig('c2', past, digest, 'bound.png')}"
        r = anonymous.get(expired)
        assert r.status_code == 403 and r.json()["error"]["code"] == "link_expired"
        assert r.headers["cache-control"] == "no-store"
    assert customer_c1.get("/api/conversations/c2/messages").status_code == 404


def test_media_link_ttl_comes_from_the_config(make_server, tmp_path):
    from .production import PROD_CONFIG, SECRET

    (tmp_path / "jwt.key").write_bytes(SECRET)
    server = make_server(config_text=PROD_CONFIG + 'media_link_ttl = "2m"\n')
    with server.client(bearer(mint("u-eve", "agent", ["c1"]))) as c:
        state = upload(c, "pixel.png", PNG, "image/png")
        url = send(c, "", [state["upload_id"]], cid="c1").json()["attachments"][0]["url"]
        expires = _link_parts(url)[3]
        assert 90 <= expires - time.time() <= 120
        max_age = int(c.get(url).headers["cache-control"].split("max-age=")[1].split(",")[0])
        assert max_age <= 120
