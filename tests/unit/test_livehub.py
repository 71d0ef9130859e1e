"""The live hub's pure part: one stream for many canvases (app.core.livehub) and its wire (ReferenceApi)."""
from __future__ import annotations

import json

import pytest

from app.backends.reference import ReferenceApi
from app.core.errors import BackendError
from app.core.http import Response
from app.core.livehub import (CONNECTING, REOPEN_AFTER_END_S, TOO_MANY, Decision, Subscriptions, after_stream_error,
                              after_ticket_failure, follower_changes, status_of)


def opened(subs: Subscriptions) -> tuple[tuple[str, ...], int]:
    return subs.opening()


def test_twenty_canvases_make_one_stream_of_their_conversations_from_the_oldest_point():
    subs = Subscriptions()
    for i in range(20):
        assert subs.join(f"canvas{i}", f"c{i:02}", 100 + i)
    assert subs.conversations() == tuple(f"c{i:02}" for i in range(20))
    assert opened(subs) == (subs.conversations(), 100)
    assert not subs.dirty


def test_a_message_goes_only_to_the_canvases_of_its_conversation_that_lack_it():
    subs = Subscriptions()
    subs.join("a", "c1", 5)
    subs.join("b", "c1", 9)        # the same conversation twice in one page: both get it
    subs.join("c", "c2", 5)
    opened(subs)
    assert subs.deliver("c1", 7) == ["a"]          # b already has 7 (its history went to 9)
    assert subs.deliver("c1", 10) == ["a", "b"]
    assert subs.deliver("c1", 10) == []            # replayed after a reconnect: nobody twice
    assert subs.deliver("c2", 11) == ["c"]


def test_the_next_stream_resumes_where_the_stream_got_to_not_from_a_quiet_conversations_start():
    subs = Subscriptions()
    subs.join("quiet", "empty", 0)
    subs.join("busy", "c1", 40)
    opened(subs)
    subs.deliver("c1", 50)
    subs.closed()
    assert opened(subs)[1] == 50      # the quiet one was carried up to 50 by the same stream


def test_a_canvas_joining_a_conversation_the_stream_already_carries_does_not_reopen_it():
    subs = Subscriptions()
    subs.join("a", "c1", 5)
    opened(subs)
    subs.deliver("c1", 8)
    assert not subs.join("b", "c1", 8)
    assert subs.join("c", "c2", 8)           # a new conversation: the stream must change
    opened(subs)
    assert subs.join("d", "c1", 3)           # behind the stream (put back after a while): reopen from 3
    assert opened(subs)[1] == 3


def test_a_conversation_leaving_the_set_changes_the_stream_and_a_duplicate_does_not():
    subs = Subscriptions()
    subs.join("a", "c1", 1)
    subs.join("b", "c1", 1)
    subs.join("c", "c2", 1)
    opened(subs)
    assert not subs.leave("b")               # c1 still wanted
    assert subs.leave("c")                   # c2 gone
    assert opened(subs) == (("c1",), 1)
    assert not subs.leave("nobody")
    assert subs.leave("a") and len(subs) == 0 and subs.conversations() == ()


def test_a_refusal_for_too_many_streams_says_so_and_waits_as_the_server_asks():
    decision = after_ticket_failure(429, "too_many_streams", True, 10.0, 1)
    assert (decision.state, decision.label, decision.wait) == ("refused", TOO_MANY, 10.0)
    assert "Close another tab" in decision.hint
    assert after_ticket_failure(429, "too_many_streams", True, None, 3).wait == 4.0


def test_other_failures_keep_reconnecting_with_the_page_policy():
    assert after_ticket_failure(0, "network", True, None, 1).label == "Reconnecting…"
    assert after_ticket_failure(503, "unavailable", True, None, 10).wait == 8.0
    assert after_ticket_failure(401, "unauthorized", False, None, 1).wait == 30.0
    dropped = after_ticket_failure(403, "forbidden", False, None, 1, "c3")
    assert (dropped.drop, dropped.state, dropped.wait) == ("c3", "refused", 0.0)
    assert after_stream_error(True, 1).wait == REOPEN_AFTER_END_S
    assert after_stream_error(False, 2).wait == 2.0


API = ReferenceApi("https://chat.example/prefix", "tok", "c1", identity="agent")


def test_the_set_ticket_and_stream_urls():
    request = API.set_ticket_request(["c1", "c2"])
    assert (request.method, request.url, request.json) == (
        "POST", "https://chat.example/prefix/api/events/ticket", {"conversations": ["c1", "c2"]})
    assert request.headers["Authorization"] == "Bearer tok"
    assert API.set_events_url(7, "T k") == "https://chat.example/prefix/api/events?ticket=T%20k&after=7"
    assert API.stream_key == "https://chat.example/prefix|agent"
    with pytest.raises(ValueError):
        API.set_ticket_request([])
    with pytest.raises(ValueError):
        API.set_events_url(-1, "t")


def test_a_set_event_names_its_conversation():
    data = {"id": "m1", "seq": 4, "conversation": "c2", "sender": "customer", "text": "hi",
            "created_at": "2026-11-25T15:04:05Z", "idempotency_key": "", "attachments": []}
    conversation, message = API.parse_set_event(json.dumps(data))
    assert conversation == "c2" and message.seq == 4 and message.text == "hi"
    with pytest.raises(BackendError):
        API.parse_set_event(json.dumps({**data, "conversation": ""}))


def test_the_refused_conversation_is_read_from_the_error():
    body = {"error": {"code": "forbidden", "message": "No.", "hint": "", "conversation": "c3"}}
    assert API.refused_conversation(Response(403, {}, json.dumps(body))) == "c3"
    assert API.refused_conversation(Response(403, {}, "<html>")) == ""
    assert API.refused_conversation(Response(403, {}, "[]")) == ""


def test_a_follower_tab_asks_for_each_conversation_from_the_oldest_point_its_canvases_need():
    subs = Subscriptions()
    subs.join("a", "c1", 9)
    subs.join("b", "c1", 4)
    subs.join("c", "c2", 7)
    assert subs.by_conversation() == {"c1": 4, "c2": 7}


def test_a_leader_serves_another_tabs_conversations_with_its_own():
    subs = Subscriptions()
    subs.join("mine", "c1", 5)
    assert subs.join(("tab", "t2", "c2"), "c2", 3)
    assert opened(subs) == (("c1", "c2"), 3)
    assert subs.deliver("c2", 6) == [("tab", "t2", "c2")]
    assert subs.leave(("tab", "t2", "c2")) and subs.conversations() == ("c1",)


def test_a_follower_tabs_want_joins_new_and_fresh_conversations_and_leaves_the_rest():
    now, left, joins = follower_changes({"c1": 5, "c2": 5}, {"c1": 2, "c3": 7}, [])
    assert (now, left, joins) == ({"c1": 2, "c3": 7}, ["c2"], {"c3": 7})   # c1 unchanged: its old seq ignored
    assert follower_changes({"c1": 5}, {"c1": 2}, ["c1"])[2] == {"c1": 2}    # a canvas of c1 joined: from 2
    assert follower_changes({"c1": 5}, {"": 1, "c2": -1, "c3": True, 4: 4}, "junk") == ({}, ["c1"], {})
    assert follower_changes({}, None, None) == ({}, [], {})


def test_live_is_said_only_where_the_open_stream_carries_the_conversation():
    """A canvas (or tab) that joined while the stream was open says "Connecting…" until the stream
    opened anew for it is open: "Live" before that would let a message seem lost."""
    live = Decision(0.0, "live", "Live")
    assert status_of(live, "c1", frozenset({"c1", "c2"})) == live
    assert status_of(live, "c3", frozenset({"c1", "c2"})) is None          # keeps "Connecting…"
    assert status_of(live, "c1", frozenset()) is None                      # a stream opening anew
    offline = after_stream_error(True, 1)
    assert status_of(offline, "c3", frozenset()) == offline                # trouble is said everywhere
    assert status_of(CONNECTING, "c3", frozenset()) == CONNECTING
