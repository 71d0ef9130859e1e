"""The reference conversation API, read like its documentation: what it asks, what it understands.

No network here: the adapter is sans-IO, so requests are compared as values and
responses are built by hand. Uploads are the tus uploader's job (test_upload_tus.py).
"""

import json
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from app.backends import HistoryPage
from app.backends.reference import ReferenceApi
from app.core.errors import BackendError
from app.core.http import TIMED_OUT, Request, Response
from app.core.models import Attachment, FileInfo, Message, Problem, Uploaded
from app.core.restrictions import Restrictions

BASE = "https://chat.example/prefix"
TOKEN = "tok-123"


@pytest.fixture
def api() -> ReferenceApi:
    return ReferenceApi(BASE, TOKEN, "team room/1", identity="agent")


def resp(status: int, body: object = None, *, text: "str | None" = None, headers=None) -> Response:
    if text is None:
        text = "" if body is None else json.dumps(body)
    return Response(status, headers or {"Content-Type": "application/json"}, text)


def message_json(**over) -> dict:
    data = {
        "id": "m1", "seq": 1, "conversation": "team room/1", "sender": "customer",
        "text": "Here is the invoice", "created_at": "2026-11-25T15:04:05Z", "idempotency_key": "key-1",
        "attachments": [{"id": "a1", "name": "invoice.pdf", "size": 48_213, "content_type": "application/pdf",
                         "url": "/media/5e88/invoice.pdf?sig=abc"}],
    }
    data.update(over)
    return data


def uploaded(ref: str) -> Uploaded:
    return Uploaded(ref, FileInfo(f"{ref}.png", 10, "image/png"), "image/png")


# --------------------------------------------------------------------------
# Construction and URLs
# --------------------------------------------------------------------------

class TestConstruction:
    @pytest.mark.parametrize("base_url, expected", [
        ("", "/api/conversations/default/restrictions"),
        ("/", "/api/conversations/default/restrictions"),
        ("/chat", "/chat/api/conversations/default/restrictions"),
        ("https://chat.example", "https://chat.example/api/conversations/default/restrictions"),
        ("https://chat.example/prefix/", "https://chat.example/prefix/api/conversations/default/restrictions"),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000/api/conversations/default/restrictions"),
    ])
    def test_base_url_forms(self, base_url, expected):
        assert ReferenceApi(base_url, TOKEN).restrictions_request().url == expected

    @pytest.mark.parametrize("base_url", ["ftp://chat.example", "javascript:alert(1)", "chat.example/api",
                                          "//chat.example", "https://chat.example/p?x=1",
                                          "https://chat.example/#top", "https://", None])
    def test_bad_base_url_is_refused(self, base_url):
        with pytest.raises(ValueError, match="base_url"):
            ReferenceApi(base_url, TOKEN)

    @pytest.mark.parametrize("cid", ["", ".", ".."])
    def test_conversation_ids_that_would_change_the_path_are_refused(self, cid):
        with pytest.raises(ValueError, match="conversation id"):
            ReferenceApi(BASE, TOKEN, cid)

    def test_token_with_line_break_is_refused(self):
        with pytest.raises(ValueError, match="token"):
            ReferenceApi(BASE, "abc\r\nX-Evil: 1")

    def test_repr_does_not_show_the_token(self, api):
        assert TOKEN not in repr(api)
        assert "team room/1" in repr(api)

    def test_it_says_how_it_takes_files_and_live_updates(self, api):
        assert (api.name, api.live) == ("reference", "sse")
        assert api.uploader_defaults() == {"kind": "tus", "endpoint": BASE + "/api/uploads",
                                           "headers": {"Authorization": "Bearer tok-123"}}
        assert ReferenceApi("", "").uploader_defaults()["headers"] == {}


# --------------------------------------------------------------------------
# Requests
# --------------------------------------------------------------------------

ALL_REQUESTS = {
    "restrictions": lambda a: a.restrictions_request(),
    "history": lambda a: a.history_request(),
    "older history": lambda a: a.history_request("t1"),
    "send": lambda a: a.send_request("hi", [], "k"),
}


class TestRequests:
    @pytest.mark.parametrize("which", sorted(ALL_REQUESTS))
    def test_every_request_carries_the_bearer_token(self, api, which):
        req = ALL_REQUESTS[which](api)
        assert isinstance(req, Request)
        assert req.headers["Authorization"] == "Bearer tok-123"
        assert req.headers["Accept"] == "application/json"

    def test_without_a_token_no_authorization_header_is_sent(self):
        assert "Authorization" not in ReferenceApi("", "").history_request().headers

    def test_restrictions(self, api):
        req = api.restrictions_request()
        assert (req.method, req.url, req.json, req.body) == (
            "GET", "https://chat.example/prefix/api/conversations/team%20room%2F1/restrictions", None, None)

    def test_history_quotes_the_conversation_id_as_one_segment(self, api):
        req = api.history_request()
        assert (req.method, req.json, req.body) == ("GET", None, None)
        assert req.url == "https://chat.example/prefix/api/conversations/team%20room%2F1/messages"

    def test_an_older_page_is_asked_with_the_token_the_last_page_gave(self):
        assert ReferenceApi("", TOKEN, "default").history_request("seq 40").url == (
            "/api/conversations/default/messages?before=seq%2040")

    @pytest.mark.parametrize("token", ["", 5, True])
    def test_a_page_token_is_a_non_empty_string(self, api, token):
        with pytest.raises(ValueError, match="page_token"):
            api.history_request(token)

    @settings(max_examples=200)
    @given(cid=st.text(min_size=1, max_size=40))
    def test_any_conversation_id_stays_one_path_segment(self, cid):
        assume(cid not in (".", ".."))
        url = ReferenceApi("https://h", TOKEN, cid).history_request().url
        parts = urlsplit(url)
        assert parts.query == "" and parts.fragment == ""
        segments = parts.path.split("/")
        assert segments[:3] == ["", "api", "conversations"] and segments[4:] == ["messages"]
        assert unquote(segments[3], errors="strict") == cid
        assert url.isascii() and " " not in url

    def test_send_attaches_the_upload_ids_in_order(self, api):
        req = api.send_request("Hello", (uploaded("up1"), uploaded("up2")), "key-1")
        assert (req.method, req.body) == ("POST", None)
        assert req.url == "https://chat.example/prefix/api/conversations/team%20room%2F1/messages"
        assert req.headers["Content-Type"] == "application/json"
        assert req.json == {"idempotency_key": "key-1", "text": "Hello", "attachments": ["up1", "up2"]}
        assert type(req.json["attachments"]) is list  # JSON-ready, whatever came in

    @pytest.mark.parametrize("args", [("hi", [], ""), ("hi", "up1", "k"), ("hi", ["up1"], "k"), (None, [], "k")])
    def test_send_rejects_bad_arguments(self, api, args):
        with pytest.raises(ValueError):
            api.send_request(*args)

    def test_events_url_carries_the_ticket_and_after_never_the_token(self, api):
        url = api.events_url(41, "tkt-1")
        assert url.startswith("https://chat.example/prefix/api/conversations/team%20room%2F1/events?")
        assert parse_qs(urlsplit(url).query) == {"ticket": ["tkt-1"], "after": ["41"]}
        assert TOKEN not in url

    def test_events_url_without_after(self):
        assert ReferenceApi("", TOKEN, "default").events_url(ticket="t") == "/api/conversations/default/events?ticket=t"
        assert ReferenceApi("", TOKEN, "default").events_url(0, "t").endswith("&after=0")
        assert ReferenceApi("", TOKEN, "default").events_url() == "/api/conversations/default/events"

    @pytest.mark.parametrize("after", [-1, True, 1.5, "3"])
    def test_events_after_must_be_a_sequence_number(self, api, after):
        with pytest.raises(ValueError, match="after"):
            api.events_url(after, "t")

    @pytest.mark.parametrize("ticket", ["", 7])
    def test_events_ticket_must_be_text(self, api, ticket):
        with pytest.raises(ValueError, match="ticket"):
            api.events_url(1, ticket)

    @given(ticket=st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40))
    def test_events_url_ticket_survives_any_characters(self, ticket):
        query = urlsplit(ReferenceApi("", TOKEN).events_url(7, ticket)).query
        assert parse_qs(query, keep_blank_values=True, errors="strict") == {"ticket": [ticket], "after": ["7"]}

    def test_ticket_request_posts_with_the_bearer_token(self, api):
        req = api.ticket_request()
        assert (req.method, req.body, req.json) == ("POST", None, None)
        assert req.url == "https://chat.example/prefix/api/conversations/team%20room%2F1/events/ticket"
        assert req.headers["Authorization"] == f"Bearer {TOKEN}"

    def test_parse_ticket(self, api):
        assert api.parse_ticket(Response(200, {}, '{"ticket": "abc", "expires_in": 30}')) == "abc"

    @pytest.mark.parametrize("text", ['{"expires_in": 30}', '{"ticket": ""}', '{"ticket": 5}', "[]", "nope"])
    def test_parse_ticket_refuses_answers_without_a_ticket(self, api, text):
        with pytest.raises(BackendError) as info:
            api.parse_ticket(Response(200, {}, text))
        assert info.value.code == "bad_response"

    def test_parse_ticket_names_the_servers_refusal(self, api):
        with pytest.raises(BackendError) as info:
            api.parse_ticket(Response(404, {}, '{"error": {"code": "conversation_not_found", "message": "m"}}'))
        assert (info.value.code, info.value.status) == ("conversation_not_found", 404)


# --------------------------------------------------------------------------
# Parsing, happy paths
# --------------------------------------------------------------------------

class TestParsing:
    def test_restrictions(self, api):
        r = api.parse_restrictions(resp(200, {"max_file_size": 25_000_000, "accepted_types": ["image/*", ".pdf"],
                                              "max_files_per_message": 1}))
        assert r == Restrictions(max_file_size=25_000_000, accepted_types=("image/*", ".pdf"),
                                 max_files_per_message=1)

    def test_restrictions_of_a_bridged_channel(self, api):
        r = api.parse_restrictions(resp(200, {
            "max_file_size": 16_000_000, "accepted_types": ["image/jpeg"], "max_files_per_message": 1,
            "type_limits": [{"types": "image/*", "max_file_size": 5_000_000}], "channel": "WhatsApp",
            "limit": "WhatsApp: files up to 16 MB (images up to 5 MB)"}))
        assert r == Restrictions(16_000_000, ("image/jpeg",), 1, (("image/*", 5_000_000),), "WhatsApp")

    def test_history_is_a_page_of_messages(self, api):
        second = message_json(id="m2", seq=2, sender="agent", text="Thanks", attachments=[], idempotency_key="key-2")
        page = api.parse_history(resp(200, {"messages": [message_json(), second]}))
        assert page == HistoryPage((
            Message(id="m1", seq=1, sender="customer", text="Here is the invoice",
                    attachments=(Attachment(id="a1", name="invoice.pdf", size=48_213, content_type="application/pdf",
                                            url="https://chat.example/prefix/media/5e88/invoice.pdf?sig=abc",
                                            thumbnail_url=""),),
                    created_at="2026-11-25T15:04:05Z", idempotency_key="key-1"),
            Message(id="m2", seq=2, sender="agent", text="Thanks", attachments=(),
                    created_at="2026-11-25T15:04:05Z", idempotency_key="key-2"),
        ), older=None)  # the page that starts the conversation: no older page

    def test_history_is_oldest_first(self, api):
        items = [message_json(id=f"m{s}", seq=s) for s in (3, 1, 2)]
        assert [m.seq for m in api.parse_history(resp(200, {"messages": items})).messages] == [1, 2, 3]

    @pytest.mark.parametrize("older, expected", [("seq-40", "seq-40"), (None, None), ("", None)])
    def test_a_paging_server_gives_the_token_of_the_older_page(self, api, older, expected):
        assert api.parse_history(resp(200, {"messages": [], "older": older})).older == expected

    def test_a_thumbnail_is_read_with_its_size_and_resolved_like_media(self, api):
        photo = {"id": "a2", "name": "cat.jpg", "size": 2_000_000, "content_type": "image/jpeg",
                 "url": "/media/77/cat.jpg?sig=1",
                 "thumbnail": {"url": "/thumbnails/77.webp?sig=2", "width": 480, "height": 360}}
        msg = api.parse_message(resp(201, message_json(attachments=[photo])))
        a = msg.attachments[0]
        assert (a.url, a.thumbnail_url, a.thumbnail_width, a.thumbnail_height) == (
            "https://chat.example/prefix/media/77/cat.jpg?sig=1",
            "https://chat.example/prefix/thumbnails/77.webp?sig=2", 480, 360)

    def test_a_thumbnail_still_being_made_is_read_as_pending(self, api):
        photo = {"id": "a2", "name": "new.png", "size": 20, "content_type": "image/png", "url": "/media/1/new.png",
                 "thumbnail": None, "thumbnail_pending": True}
        a = api.parse_message(resp(201, message_json(attachments=[photo]))).attachments[0]
        assert (a.thumbnail_url, a.thumbnail_pending) == ("", True)
        del photo["thumbnail_pending"]
        assert not api.parse_message(resp(201, message_json(attachments=[photo]))).attachments[0].thumbnail_pending

    @pytest.mark.parametrize("thumbnail", [None, "absent"])
    def test_no_thumbnail_means_a_file_card_not_the_original(self, api, thumbnail):
        photo = {"id": "a2", "name": "bad.png", "size": 20, "content_type": "image/png", "url": "/media/1/bad.png"}
        if thumbnail != "absent":
            photo["thumbnail"] = thumbnail
        assert api.parse_message(resp(201, message_json(attachments=[photo]))).attachments[0].thumbnail_url == ""

    @pytest.mark.parametrize("thumbnail, mentions", [
        ({"url": "/t.webp", "width": 0, "height": 5}, "thumbnail.width should be at least 1"),
        ({"url": "", "width": 5, "height": 5}, "thumbnail.url should not be empty"),
        ({"url": "javascript:alert(1)", "width": 5, "height": 5}, "thumbnail.url is not an http(s) URL"),
        ("/t.webp", "thumbnail should be an object"),
    ])
    def test_a_bad_thumbnail_is_a_bad_response(self, api, thumbnail, mentions):
        photo = {"id": "a2", "name": "p.png", "size": 20, "content_type": "image/png", "url": "/media/1/p.png",
                 "thumbnail": thumbnail}
        with pytest.raises(BackendError) as err:
            api.parse_message(resp(201, message_json(attachments=[photo])))
        assert err.value.code == "bad_response" and mentions in err.value.problem.message

    def test_empty_history(self, api):
        assert api.parse_history(resp(200, {"messages": []})) == HistoryPage(())

    def test_sender_name_and_role_are_read_when_present(self, api):
        msg = api.parse_message(resp(201, message_json(sender_name="Ada Lovelace", sender_role="agent")))
        assert (msg.sender, msg.sender_name, msg.sender_role) == ("customer", "Ada Lovelace", "agent")
        plain = api.parse_message(resp(201, message_json()))
        assert (plain.sender_name, plain.sender_role) == ("", "")

    @pytest.mark.parametrize("base_url, url, expected", [
        ("", "/media/x/a.png?sig=1", "/media/x/a.png?sig=1"),
        ("https://h/p", "/media/x/a.png?sig=1", "https://h/p/media/x/a.png?sig=1"),
        ("https://h/p/", "media/x/a.png", "https://h/p/media/x/a.png"),
        ("https://h", "https://cdn.example/x.png", "https://cdn.example/x.png"),
        ("https://h", "HTTP://cdn.example/x.png", "HTTP://cdn.example/x.png"),
    ])
    def test_attachment_urls_are_resolved_against_base_url(self, base_url, url, expected):
        msg = ReferenceApi(base_url, TOKEN).parse_message(resp(201, message_json(
            attachments=[{"id": "a", "name": "a.png", "size": 1, "content_type": "image/png", "url": url}])))
        assert msg.attachments[0].url == expected

    @pytest.mark.parametrize("status", [200, 201])
    def test_message_created_or_replayed(self, api, status):
        msg = api.parse_message(resp(status, message_json()))
        assert (msg.id, msg.seq, msg.idempotency_key) == ("m1", 1, "key-1")

    def test_unknown_fields_are_ignored(self, api):
        assert api.parse_message(resp(201, message_json(reactions=["+1"]))).id == "m1"

    def test_event(self, api):
        msg = api.parse_event(json.dumps(message_json(seq=9)))
        assert msg.seq == 9
        assert msg.attachments[0].url.startswith("https://chat.example/prefix/media/")


# --------------------------------------------------------------------------
# Errors: the server's problem body, or our wording
# --------------------------------------------------------------------------

PARSERS = {
    "restrictions": lambda a, r: a.parse_restrictions(r),
    "history": lambda a, r: a.parse_history(r),
    "message": lambda a, r: a.parse_message(r),
}


def raised(api, response, parser: str = "message") -> BackendError:
    with pytest.raises(BackendError) as info:
        PARSERS[parser](api, response)
    return info.value


class TestErrors:
    @pytest.mark.parametrize("parser", sorted(PARSERS))
    def test_network_failure(self, api, parser):
        err = raised(api, Response(0, {}, "TypeError: Failed to fetch"), parser)
        assert err.problem == Problem("network", "Could not reach the server.", "Check your connection, then retry.")
        assert err.retryable is True and err.status == 0

    def test_a_transport_timeout_reads_as_a_timeout_not_as_offline(self, api):
        err = raised(api, Response(0, {}, TIMED_OUT), "history")
        assert (err.problem.code, err.problem.message, err.retryable) == (
            "timeout", "The server did not answer in time.", True)

    def test_server_error_message_is_used(self, api):
        body = {"error": {"code": "too_many_files", "message": "Only 1 file per message", "hint": "Send two."}}
        err = raised(api, resp(422, body))
        assert err.problem == Problem("too_many_files", "Only 1 file per message", "Send two.")
        assert err.retryable is False and err.status == 422

    def test_unauthorised_uses_our_wording(self, api):
        err = raised(api, resp(401, {"error": {"code": "unauthorized", "message": "Missing bearer token"}}))
        assert err.problem.message.startswith("Sign in again: the server did not accept") and not err.retryable

    @settings(max_examples=300)
    @given(
        status=st.integers(0, 599).filter(lambda s: not 200 <= s <= 299),
        text=st.one_of(st.text(max_size=200), st.builds(json.dumps, st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=10),
            lambda c: st.lists(c, max_size=3) | st.dictionaries(
                st.sampled_from(["error", "code", "message", "hint"]), c, max_size=4),
            max_leaves=10))),
        parser=st.sampled_from(sorted(PARSERS)),
    )
    def test_any_failure_is_a_backend_error_with_the_retry_rule(self, status, text, parser):
        err = raised(ReferenceApi("", TOKEN), Response(status, {}, text), parser)
        assert err.retryable is (status in (0, 408, 423, 429) or 500 <= status <= 599)
        assert err.problem.code and err.problem.message and err.problem.hint

    @settings(max_examples=300)
    @given(
        status=st.sampled_from([200, 201]),
        body=st.recursive(
            st.none() | st.booleans() | st.integers(-2, 2**40) | st.floats(allow_nan=False) | st.text(max_size=8),
            lambda c: st.lists(c, max_size=3) | st.dictionaries(st.sampled_from([
                "messages", "older", "max_file_size", "accepted_types", "max_files_per_message", "id", "seq",
                "sender", "text", "created_at", "attachments", "url", "conversation", "idempotency_key"]),
                c, max_size=6),
            max_leaves=15),
        parser=st.sampled_from(sorted(PARSERS)),
    )
    def test_any_2xx_json_is_a_value_or_a_bad_response(self, status, body, parser):
        try:
            PARSERS[parser](ReferenceApi("", TOKEN), Response(status, {}, json.dumps(body)))
        except BackendError as err:
            assert err.problem.code == "bad_response" and err.retryable is False


# --------------------------------------------------------------------------
# Malformed payloads: the wire classes name the field
# --------------------------------------------------------------------------

def assert_bad_response(err: BackendError, mentions: str = "") -> None:
    assert err.problem.code == "bad_response"
    assert err.retryable is False
    assert err.problem.message.startswith("The server sent a response Attache could not read")
    assert mentions in err.problem.message
    assert err.problem.hint


class TestMalformed:
    @pytest.mark.parametrize("text", ["", "not json", "{", "[1, 2", "<html></html>", "NaN", "{\"a\": NaN}", "\ufeff{}"])
    @pytest.mark.parametrize("parser", sorted(PARSERS))
    def test_not_json(self, api, parser, text):
        assert_bad_response(raised(api, resp(200, text=text), parser), "expected JSON")

    def test_deeply_nested_json_is_not_a_recursion_error(self, api):
        assert_bad_response(raised(api, resp(200, text="[" * 200_000 + "]" * 200_000)))

    @pytest.mark.parametrize("parser", sorted(PARSERS))
    @pytest.mark.parametrize("body", [[], "text", 3, None])
    def test_not_an_object(self, api, parser, body):
        assert_bad_response(raised(api, resp(200, text=json.dumps(body)), parser), "should be an object")

    @pytest.mark.parametrize("key", ["id", "seq", "sender", "text", "created_at", "attachments", "conversation",
                                     "idempotency_key"])
    def test_message_missing_key(self, api, key):
        data = message_json()
        del data[key]
        assert_bad_response(raised(api, resp(201, data)), f"message.{key} is missing")

    @pytest.mark.parametrize("over, mentions", [
        ({"id": 7}, "message.id should be a string"),
        ({"id": ""}, "message.id should not be empty"),
        ({"seq": "1"}, "message.seq should be an integer"),
        ({"seq": 1.0}, "message.seq should be an integer"),
        ({"seq": True}, "message.seq should be an integer"),
        ({"seq": -1}, "message.seq should be at least 0"),
        ({"sender": None}, "message.sender should be a string"),
        ({"text": ["hi"]}, "message.text should be a string"),
        ({"created_at": "yesterday"}, "message.created_at should be an ISO 8601 time"),
        ({"created_at": 1764083045}, "message.created_at should be a string"),
        ({"idempotency_key": 5}, "message.idempotency_key should be a string"),
        ({"conversation": 5}, "message.conversation should be a string"),
        ({"sender_name": 5}, "message.sender_name should be a string"),
        ({"attachments": {}}, "message.attachments should be a list"),
        ({"attachments": None}, "message.attachments should be a list"),
        ({"attachments": ["a1"]}, "message.attachments[0] should be an object"),
    ])
    def test_message_bad_field(self, api, over, mentions):
        assert_bad_response(raised(api, resp(201, message_json(**over))), mentions)

    @pytest.mark.parametrize("over, mentions", [
        ({"id": None}, "attachments[0].id should be a string"),
        ({"name": 3}, "attachments[0].name should be a string"),
        ({"size": "48 kB"}, "attachments[0].size should be an integer"),
        ({"size": -5}, "attachments[0].size should be at least 0"),
        ({"content_type": None}, "attachments[0].content_type should be a string"),
        ({"url": ""}, "attachments[0].url should not be empty"),
        ({"url": "javascript:alert(1)"}, "attachments[0].url is not an http(s) URL"),
        ({"url": "data:text/html,<script>alert(1)</script>"}, "attachments[0].url is not"),
        ({"url": " JavaScript:alert(1)"}, "attachments[0].url is not"),
    ])
    def test_attachment_bad_field(self, api, over, mentions):
        att = dict(message_json()["attachments"][0], **over)
        assert_bad_response(raised(api, resp(201, message_json(attachments=[att]))), mentions)

    def test_history_names_the_bad_message(self, api):
        body = {"messages": [message_json(), message_json(seq="2")]}
        assert_bad_response(raised(api, resp(200, body), "history"), "history.messages[1].seq should be an integer")

    @pytest.mark.parametrize("body, mentions", [
        ({}, "history.messages is missing"),
        ({"messages": None}, "history.messages should be a list"),
        ({"messages": {"m1": {}}}, "history.messages should be a list"),
        ({"messages": [], "older": 3}, "history.older should be a string"),
    ])
    def test_history_shape(self, api, body, mentions):
        assert_bad_response(raised(api, resp(200, body), "history"), mentions)

    @pytest.mark.parametrize("body, mentions", [
        ({"max_file_size": "lots", "accepted_types": [], "max_files_per_message": 1},
         "restrictions.max_file_size should be an integer"),
        ({"max_file_size": 10, "accepted_types": [], "max_files_per_message": "one"},
         "restrictions.max_files_per_message should be an integer"),
        ({"max_file_size": 10, "accepted_types": [3], "max_files_per_message": 1},
         "restrictions.accepted_types[0] should be a string"),
        ({"max_file_size": 10, "accepted_types": ["no type"], "max_files_per_message": 1}, "restrictions: "),
    ])
    def test_restrictions_bad(self, api, body, mentions):
        assert_bad_response(raised(api, resp(200, body), "restrictions"), mentions)

    @pytest.mark.parametrize("data", ["", "keepalive", "{", "[]", json.dumps(message_json(seq=None))])
    def test_event_malformed(self, api, data):
        with pytest.raises(BackendError) as info:
            api.parse_event(data)
        assert_bad_response(info.value)
        assert info.value.status is None

    @settings(max_examples=300)
    @given(data=st.one_of(
        st.text(max_size=300),
        st.builds(json.dumps, st.fixed_dictionaries({}, optional={
            k: st.one_of(st.none(), st.integers(-3, 3), st.text(max_size=5), st.booleans(),
                         st.lists(st.integers(), max_size=2)) for k in message_json()})),
    ))
    def test_any_event_payload_is_a_message_or_a_backend_error(self, data):
        try:
            msg = ReferenceApi("", TOKEN).parse_event(data)
        except BackendError as err:
            assert err.problem.code == "bad_response"
        else:
            assert isinstance(msg, Message)
