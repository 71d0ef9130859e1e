"""A lone UTF-16 surrogate in any decoded input is a 422 naming the field (or harmless), never a 500.

JSON's `"\\ud800"` decodes to a Python str that no UTF-8 encoder takes: SQLite,
a header, a file name and the JSON answer itself all fail on it.
"""

from __future__ import annotations

import base64

import httpx
import pytest

from server.bridges.twilio import rest, webhook
from server.http.json_body import scrub_surrogates, surrogate_field

from .conftest import TUS
from .production import dev, dev_agent  # noqa: F401  (fixtures: one server for the module)

HISTORY = "/api/conversations/default/messages"


def post_raw(agent: httpx.Client, body: str) -> httpx.Response:
    """`body` is JSON text with the escapes as written (json= would refuse to encode a surrogate)."""
    return agent.post(HISTORY, content=body.encode("ascii"), headers={"Content-Type": "application/json"})


@pytest.mark.parametrize("body,field", [
    ('{"idempotency_key": "k-s1", "text": "x\\ud800y"}', "text"),
    ('{"idempotency_key": "k\\udfff", "text": "hello"}', "idempotency_key"),
    ('{"idempotency_key": "k-s3", "text": "", "attachments": ["\\ud800"]}', "attachments[0]"),
    ('{"idempotency_key": "k-s4", "text": "hi", "note": {"deep": ["ok", "\\ud83d"]}}', "note.deep[1]"),
    ('{"idempotency_key": "k-s5", "text": "hi", "\\ud800": 1}', "\\ud800"),
    ('{"idempotency_key": "k-s6", "text": "\\ude00\\ud83d"}', "text"),      # the halves of a pair, swapped
])
def test_a_lone_surrogate_in_a_json_body_is_422_naming_the_field(agent, body, field):
    r = post_raw(agent, body)
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert (error["code"], error["field"]) == ("invalid_unicode", field)
    assert f"'{field}'" in error["message"]


def test_a_surrogate_pair_is_one_character_and_is_sent(agent):
    r = post_raw(agent, '{"idempotency_key": "k-pair", "text": "smile \\ud83d\\ude00"}')
    assert r.status_code == 201, r.text
    assert r.json()["text"] == "smile \U0001f600"


def test_nothing_is_stored_for_a_refused_body(agent):
    assert post_raw(agent, '{"idempotency_key": "k-gone", "text": "x\\ud800"}').status_code == 422
    texts = [m["text"] for m in agent.get(HISTORY).json()["messages"]]
    assert not any(t.startswith("x") and len(t) == 2 for t in texts)
    r = post_raw(agent, '{"idempotency_key": "k-gone", "text": "now fine"}')   # the key was never taken
    assert r.status_code == 201


def test_surrogates_encoded_as_utf8_in_upload_metadata_are_400(agent):
    """Upload-Metadata is base64 of UTF-8; the 3 bytes of an encoded surrogate are not UTF-8."""
    name = base64.b64encode(b"a\xed\xa0\x80.png").decode()
    r = agent.post("/api/uploads", headers={**TUS, "Upload-Length": "10", "Upload-Metadata": f"filename {name}"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad_metadata"


@pytest.mark.parametrize("path", [f"{HISTORY}?after=%ED%A0%80", f"{HISTORY}?before=%ED%B0%80",
                                  "/media/" + "0" * 64 + "/a%ED%A0%80.png?c=default&e=1&sig=x",
                                  "/api/conversations/%ED%A0%80/messages"])
def test_encoded_surrogates_in_paths_and_queries_are_refused_cleanly(agent, path):
    r = agent.get(path)
    assert r.status_code in (403, 404, 422), r.text
    assert r.json()["error"]["code"]


def test_surrogate_field_walks_in_document_order():
    assert surrogate_field({"a": "ok", "b": ["\ud800"], "c": "\udc00"}) == "c"   # breadth first: c before b[0]
    assert surrogate_field({"a": {"b": "\ud800"}}) == "a.b"
    assert surrogate_field("\ud800") == "(the body)"
    assert surrogate_field({"text": "\U0001f600", "n": 5, "x": None}) is None


def test_what_twilio_sends_is_scrubbed_not_refused():
    """Refusing Twilio's webhook would lose the customer's message: the half character becomes U+FFFD."""
    assert webhook._media('[{"Filename": "a\\ud800.png", "Sid": "ME1"}]') == [{"Filename": "a\ufffd.png",
                                                                               "Sid": "ME1"}]
    answer = httpx.Response(200, content=b'{"filename": "b\\udfff.pdf", "\\ud800": ["\\ud800"]}')
    assert rest._json(answer, "describe media") == {"filename": "b\ufffd.pdf", "\ufffd": ["\ufffd"]}
    assert scrub_surrogates({"n": 1, "t": "fine \U0001f600"}) == {"n": 1, "t": "fine \U0001f600"}
