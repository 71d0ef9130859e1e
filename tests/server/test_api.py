"""Auth, restrictions, sending and history, over real HTTP."""

from __future__ import annotations

import re
import uuid

import pytest

from tests.services.postgres import both_databases  # noqa: F401  (fixture: these tests on SQLite and PostgreSQL)

from .conftest import CUSTOMER, PNG, TUS, patch, send, start_upload, upload, upload_id


@pytest.mark.parametrize("method,path", [
    ("GET", "/api/conversations/default/messages"),
    ("POST", "/api/conversations/default/messages"),
    ("POST", "/api/uploads"),
    ("HEAD", "/api/uploads/0123456789abcdef0123456789abcdef"),
    ("PATCH", "/api/uploads/0123456789abcdef0123456789abcdef"),
    ("DELETE", "/api/uploads/0123456789abcdef0123456789abcdef"),
    ("GET", "/api/conversations/default/events"),
])
@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong-token"}, {"Authorization": "Basic x"}])
def test_unauthenticated_requests_get_401_json(server, method, path, headers):
    with server.client({**headers, **TUS}) as c:
        r = c.request(method, path, json={})
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    if method != "HEAD":
        err = r.json()["error"]
        assert err["code"] == "unauthorized" and err["message"] and err["hint"]


def test_a_token_in_the_query_is_refused_everywhere_even_in_development(server):
    """Tokens travel in headers only; the page opens the events stream with a ticket."""
    with server.client() as c:
        r = c.get("/api/conversations/default/messages", params={"access_token": "agent-dev-token"})
        assert r.status_code == 401
        r = c.get("/api/conversations/default/events", params={"access_token": "agent-dev-token"})
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"


def test_restrictions_reflect_the_config(server):
    with server.client() as c:
        r = c.get("/api/restrictions")
    assert r.status_code == 200
    assert r.json() == {"max_file_size": 300_000_000,
                        "accepted_types": ["image/*", ".pdf", ".txt", ".docx", ".html"],
                        "max_files_per_message": 2}


def test_send_returns_the_message_and_history_lists_it(agent):
    r = send(agent, "hello", key="k-1")
    assert r.status_code == 201
    m = r.json()
    assert set(m) == {"id", "seq", "conversation", "sender", "sender_name", "sender_role", "text", "created_at",
                      "idempotency_key", "attachments"}
    assert (m["sender"], m["sender_name"], m["sender_role"], m["text"], m["conversation"], m["idempotency_key"],
            m["attachments"]) == ("agent", "Agent", "agent", "hello", "default", "k-1", [])
    assert m["created_at"].endswith("Z") and len(m["created_at"]) == 20
    assert agent.get("/api/conversations/default/messages").json()["messages"] == [m]


def test_same_idempotency_key_returns_the_same_message_once(agent):
    first = send(agent, "once", key="same-key")
    again = send(agent, "once", key="same-key")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert len(agent.get("/api/conversations/default/messages").json()["messages"]) == 1
    # the key is per conversation: another conversation may use it
    assert send(agent, "elsewhere", key="same-key", cid="other").status_code == 201


def test_idempotency_key_of_another_sender_is_a_conflict(agent, customer):
    send(agent, "mine", key="shared")
    theirs = send(customer, "theirs", key="shared")
    assert theirs.status_code == 409 and theirs.json()["error"]["code"] == "idempotency_key_conflict"
    assert [m["text"] for m in agent.get("/api/conversations/default/messages").json()["messages"]] == ["mine"]


def test_history_is_oldest_first_with_global_seq_and_after(agent, customer):
    seqs = []
    for i, client in enumerate([agent, customer, agent, customer]):
        seqs.append(send(client, f"m{i}", key=f"k{i}", cid="c1").json()["seq"])
        send(agent, f"noise{i}", cid="c2")                 # seq is global across conversations
    assert seqs == sorted(seqs) and len(set(seqs)) == 4
    msgs = agent.get("/api/conversations/c1/messages").json()["messages"]
    assert [m["text"] for m in msgs] == ["m0", "m1", "m2", "m3"]
    assert [m["sender"] for m in msgs] == ["agent", "customer", "agent", "customer"]
    after = agent.get("/api/conversations/c1/messages", params={"after": seqs[1]}).json()["messages"]
    assert [m["text"] for m in after] == ["m2", "m3"]
    assert agent.get("/api/conversations/c1/messages", params={"after": "x"}).status_code == 422


def test_unknown_conversation_is_empty_and_bad_ids_are_404(agent):
    assert agent.get("/api/conversations/never-used/messages").json() == {"messages": [], "older": None}
    assert agent.get("/api/conversations/..%2Fetc/messages").status_code == 404


@pytest.mark.parametrize("body,code", [
    ({"text": "   "}, "empty_message"),
    ({"text": "\u00a0\u2003\ufeff\n"}, "empty_message"),       # Unicode blanks are blank too
    ({}, "empty_message"),
    ({"text": 5}, "invalid_text"),
    ({"text": None}, "invalid_text"),
    ({"text": "x" * 20_001}, "text_too_long"),
    ({"text": "x", "attachments": "nope"}, "invalid_attachments"),
    ({"text": "x", "attachments": ["a", "b", "c"]}, "too_many_files"),
    ({"text": "", "attachments": ["a", "b", "c"]}, "too_many_files"),
])
def test_invalid_messages_are_422(agent, body, code):
    r = agent.post("/api/conversations/default/messages", json={"idempotency_key": uuid.uuid4().hex, **body})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == code


@pytest.mark.parametrize("key", [None, "", 7, "k" * 201])
def test_a_message_needs_an_idempotency_key(agent, key):
    """As the wire's MessageCreate says (1 to 200 characters); the page always sends one."""
    body = {"text": "hello"} if key is None else {"text": "hello", "idempotency_key": key}
    r = agent.post("/api/conversations/default/messages", json=body)
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_idempotency_key"


def test_a_resent_key_never_excuses_a_malformed_body(agent):
    key = uuid.uuid4().hex
    assert send(agent, "first", key=key).status_code == 201
    r = agent.post("/api/conversations/default/messages", json={"idempotency_key": key, "text": ""})
    assert r.status_code == 422 and r.json()["error"]["code"] == "empty_message"
    assert send(agent, "first", key=key).status_code == 200


def test_attaching_an_unknown_upload_is_409(agent):
    """409, not 422: the body is well formed; the upload's state (gone, expired) is what stands in the way."""
    r = send(agent, "x", ["0" * 32])
    assert r.status_code == 409 and r.json()["error"]["code"] == "unknown_upload"
    r = send(agent, "x", ["a" * 100])
    assert r.status_code == 409 and r.json()["error"]["code"] == "unknown_upload"


def test_bad_json_is_400(agent):
    r = agent.post("/api/conversations/default/messages", content=b"{not json",
                   headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad_json"


def test_message_with_an_incomplete_upload_is_refused(agent):
    uid = upload_id(start_upload(agent, "p.png", len(PNG), "image/png"))
    assert patch(agent, uid, 0, PNG[:20]).status_code == 204
    r = send(agent, "pic", [uid])
    assert r.status_code == 409 and r.json()["error"]["code"] == "upload_incomplete"


def test_uploads_belong_to_their_owner(server, agent):
    partial = upload_id(start_upload(agent, "q.png", len(PNG), "image/png"))
    state = upload(agent, "p.png", PNG, "image/png")
    with server.client(CUSTOMER) as customer:
        for uid in (partial, state["upload_id"]):
            assert customer.head(f"/api/uploads/{uid}", headers=TUS).status_code == 404
            assert customer.delete(f"/api/uploads/{uid}", headers=TUS).status_code == 404
        assert patch(customer, partial, 0, PNG).status_code == 404
        r = send(customer, "stolen", [state["upload_id"]])
        assert r.status_code == 409 and r.json()["error"]["code"] == "unknown_upload"
    assert agent.head(f"/api/uploads/{partial}", headers=TUS).headers["upload-offset"] == "0"
    assert patch(agent, partial, 0, PNG).status_code == 204


def test_message_with_attachments(agent):
    a = upload(agent, "one.png", PNG, "image/png")
    b = upload(agent, "two.txt", b"two\n", "text/plain")
    m = send(agent, "", [a["upload_id"], b["upload_id"]], key="att").json()
    assert [(x["id"], x["name"], x["size"], x["content_type"]) for x in m["attachments"]] == [
        (a["upload_id"], "one.png", len(PNG), "image/png"), (b["upload_id"], "two.txt", 4, "text/plain")]
    assert all(re.fullmatch(r"/media/[0-9a-f]{64}/[^?]+\?c=default&e=\d+&sig=[0-9a-f]{32}", x["url"])
               for x in m["attachments"])
    assert agent.get(m["attachments"][0]["url"]).content == PNG


def test_unknown_api_route_and_method_are_json_errors(agent):
    r = agent.get("/api/nope")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = agent.delete("/api/conversations/default/messages")
    assert r.status_code == 405 and r.json()["error"]["code"] == "method_not_allowed"


TUS_REQUEST_HEADERS = ["tus-resumable", "upload-length", "upload-metadata", "upload-offset",
                       "x-http-method-override", "x-requested-with", "authorization", "content-type"]
TUS_RESPONSE_HEADERS = ["location", "upload-offset", "upload-length", "upload-expires", "tus-resumable",
                        "tus-version", "tus-extension", "tus-max-size"]


def test_cors_allows_configured_origin_with_the_tus_headers(server):
    with server.client() as c:
        for method in ("POST", "PATCH", "DELETE", "HEAD"):
            r = c.options("/api/uploads/x", headers={"Origin": "https://portal.example.com",
                                                      "Access-Control-Request-Method": method,
                                                      "Access-Control-Request-Headers": ", ".join(TUS_REQUEST_HEADERS)})
            assert r.status_code == 200, r.text
            assert r.headers["access-control-allow-origin"] == "https://portal.example.com"
            allowed = r.headers["access-control-allow-headers"].lower()
            assert all(h in allowed for h in TUS_REQUEST_HEADERS), allowed
            assert method in r.headers["access-control-allow-methods"]
        r = c.get("/api/restrictions", headers={"Origin": "https://portal.example.com"})
        assert r.headers["access-control-allow-origin"] == "https://portal.example.com"
        exposed = r.headers["access-control-expose-headers"].lower()
        assert all(h in exposed for h in TUS_RESPONSE_HEADERS), exposed
        r = c.options("/api/uploads", headers={"Origin": "https://evil.example.com",
                                               "Access-Control-Request-Method": "POST"})
        assert r.status_code == 400
        r = c.get("/api/restrictions", headers={"Origin": "https://evil.example.com"})
        assert "access-control-allow-origin" not in r.headers


def test_api_responses_are_not_cached_and_nosniff(agent):
    r = agent.get("/api/conversations/default/messages")
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["x-content-type-options"] == "nosniff"
