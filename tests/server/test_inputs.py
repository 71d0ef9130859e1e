"""Hardened input: numbers, repeated parameters, JSON bodies, content types. Never a 500."""

from __future__ import annotations

import pytest

from server.http.api_error import ApiError
from server.http.inputs import check_content_type, parse_uint

from .conftest import send
from .production import dev, dev_agent  # noqa: F401  (fixtures: one server for the module)

HISTORY = "/api/conversations/default/messages"
EVENTS = "/api/conversations/default/events"


@pytest.mark.parametrize("after", ["%C2%B2", "%D9%A1", "18446744073709551616", "9223372036854775808", "1" * 5000,
                                   "-1", "+1", "1e3", "0x10", "%201", "true"])
def test_after_takes_ascii_digits_within_range(agent, after):
    r = agent.get(f"{HISTORY}?after={after}")
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_after"


@pytest.mark.parametrize("path", [HISTORY, EVENTS])
def test_an_empty_after_is_422_not_absent(agent, path):
    r = agent.get(f"{path}?after=")
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_after"


def test_after_is_checked_even_when_last_event_id_overrides_it(agent):
    """Schemathesis found `?after=9223372036854775808` accepted beside a valid Last-Event-ID."""
    for headers in ({"Last-Event-ID": "1"}, {"Last-Event-ID": ""}):
        r = agent.get(f"{EVENTS}?after=9223372036854775808", headers=headers)
        assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_after"
    r = agent.head(EVENTS, headers={"Last-Event-ID": ""})      # EventSource never sends it empty
    assert r.status_code == 422


@pytest.mark.parametrize("cid", ["c1%0A", "c1%0D%0A", "%0Ac1", "c1%00"])
def test_a_conversation_id_with_a_line_break_is_404(agent, cid):
    """Python's `$` also matches before a final newline: `c1\n` passed the id pattern."""
    for r in (agent.get(f"/api/conversations/{cid}/messages"), send_to(agent, cid)):
        assert r.status_code == 404 and r.json()["error"]["code"] == "conversation_not_found", r.text


def send_to(agent, cid):
    return agent.post(f"/api/conversations/{cid}/messages", json={"idempotency_key": "k", "text": "x"})


def test_after_up_to_the_largest_seq_is_fine(agent):
    assert agent.get(HISTORY, params={"after": str(2**63 - 1)}).json() == {"messages": [], "older": None}
    assert agent.get(HISTORY, params={"after": "0"}).status_code == 200


@pytest.mark.parametrize("value", ["\u00b2", "9" * 20, "0x1"])
def test_last_event_id_takes_ascii_digits_within_range(agent, value):
    r = agent.get(EVENTS, headers={"Last-Event-ID": value.encode()})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_after"


@pytest.mark.parametrize("query,code", [
    ("after=1&after=2", "repeated_parameter"),
    ("after=true&after=false&after=", "repeated_parameter"),
    ("after=1&%61fter=2", "repeated_parameter"),
    ("after[]=1", "array_parameter"),
    ("after%5B0%5D=1", "array_parameter"),
])
@pytest.mark.parametrize("path", [HISTORY, EVENTS, "/media/" + "0" * 64 + "/x.png"])
def test_repeated_or_array_parameters_are_400(agent, path, query, code):
    r = agent.get(f"{path}?{query}")
    assert r.status_code == 400 and r.json()["error"]["code"] == code


@pytest.mark.parametrize("body", [
    b"[" * 100_000,
    b"{\"text\": " + b"[" * 100_000 + b"]" * 100_000 + b"}",
    b"{\"text\": " + b"[" * 40 + b"]" * 40 + b"}",
    b"{\"text\": NaN}",
    b"{\"text\": \"a\", \"text\": \"b\"}",
    b"{\"text\": \"\xff\"}",
    b"",
])
def test_unparseable_or_deep_json_is_400_never_500(agent, body):
    r = agent.post(HISTORY, content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "bad_json"


def test_the_body_is_validated_before_any_rule(agent):
    first = send(agent, "once", key="k-valid")
    assert first.status_code == 201
    # same key (a rule would answer the existing message) but a malformed body: 422 first
    r = agent.post(HISTORY, json={"idempotency_key": "k-valid", "text": 5})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_text"
    r = agent.post(HISTORY, json={"idempotency_key": "k-valid", "text": "once", "attachments": [None]})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_attachments"


@pytest.mark.parametrize("value", ["image/png\r\nX-Evil: 1", "image/png\n", None, 5, "image png", "image/",
                                   "/png", "image/pn\u00e9", "image/png; charset", "x" * 250 + "/abcdef"])
def test_content_type_must_match_the_mime_grammar(value):
    with pytest.raises(ApiError) as refused:
        check_content_type(value)
    assert refused.value.status == 422 and refused.value.code == "invalid_content_type"


@pytest.mark.parametrize("value", ["", "image/png", "application/vnd.openxmlformats-officedocument.wordprocessingml"
                                   ".document", "text/plain; charset=utf-8", 'text/plain;format="flowed x"'])
def test_content_types_that_browsers_send_pass(value):
    assert check_content_type(value) == value


@pytest.mark.parametrize("value", ["", "\u00b2", "-1", " 1", "1_000", "9" * 19, str(2**63), "1" * 5000])
def test_header_numbers_are_ascii_digits_within_range(value):
    """For Upload-Offset / Upload-Length (the tus code calls parse_uint)."""
    with pytest.raises(ApiError) as refused:
        parse_uint(value, "Upload-Offset")
    assert refused.value.status == 400


def test_header_numbers_in_range_parse():
    assert parse_uint("0", "Upload-Offset") == 0
    assert parse_uint(str(2**63 - 1), "Upload-Offset") == 2**63 - 1
