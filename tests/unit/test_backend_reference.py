"""The reference adapter, read like its documentation: what it asks, what it understands.

No network here: the adapter is sans-IO, so requests are compared as values and
responses are built by hand.
"""

import inspect
import json
from dataclasses import replace
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from app.backends import ADAPTERS, create_backend
from app.backends.base import (
    Backend,
    BackendError,
    FileSlice,
    Request,
    Response,
    UploadState,
)
from app.backends.reference import DEFAULT_CHUNK_SIZE, ReferenceBackend
from app.core.models import Attachment, FileInfo, Message, Problem
from app.core.restrictions import Restrictions
from app.core.sniff import effective_type

BASE = "https://chat.example/prefix"
TOKEN = "tok-123"
MiB = 2**20
PNG_HEAD = b"\x89PNG\r\n\x1a\n" + b"\0" * 24


@pytest.fixture
def backend() -> ReferenceBackend:
    return ReferenceBackend(BASE, TOKEN, "team room/1")


def resp(status: int, body: object = None, *, text: "str | None" = None, headers=None) -> Response:
    if text is None:
        text = "" if body is None else json.dumps(body)
    return Response(status, headers or {"Content-Type": "application/json"}, text)


def message_json(**over) -> dict:
    data = {
        "id": "m1",
        "seq": 1,
        "conversation": "team room/1",
        "sender": "customer",
        "text": "Here is the invoice",
        "created_at": "2026-11-25T15:04:05Z",
        "idempotency_key": "key-1",
        "attachments": [
            {
                "id": "a1",
                "name": "invoice.pdf",
                "size": 48_213,
                "content_type": "application/pdf",
                "url": "/media/5e88/invoice.pdf?sig=abc",
            }
        ],
    }
    data.update(over)
    return data


def upload_json(**over) -> dict:
    data = {
        "upload_id": "up/1",
        "name": "photo.png",
        "size": 20 * MiB,
        "content_type": "image/png",
        "offset": 0,
        "complete": False,
    }
    data.update(over)
    return data


def state(size: int, offset: int = 0, complete: bool = False, upload_id: str = "up/1") -> UploadState:
    return UploadState(upload_id=upload_id, offset=offset, size=size, complete=complete)


# --------------------------------------------------------------------------
# Construction and URLs
# --------------------------------------------------------------------------

class TestConstruction:
    def test_is_a_backend(self, backend):
        assert isinstance(backend, Backend)

    def test_implements_every_protocol_method_with_compatible_parameters(self):
        members = [
            name for name, value in vars(Backend).items()
            if callable(value) and not name.startswith("_")
        ]
        assert "parse_upload" in members and "events_url" in members
        for name in members:
            proto = inspect.signature(getattr(Backend, name))
            impl = inspect.signature(getattr(ReferenceBackend, name))
            assert list(proto.parameters) == list(impl.parameters), name

    @pytest.mark.parametrize(
        "base_url, expected",
        [
            ("", "/api/restrictions"),
            ("/", "/api/restrictions"),
            ("/chat", "/chat/api/restrictions"),
            ("https://chat.example", "https://chat.example/api/restrictions"),
            ("https://chat.example/prefix/", "https://chat.example/prefix/api/restrictions"),
            ("http://127.0.0.1:8000", "http://127.0.0.1:8000/api/restrictions"),
        ],
    )
    def test_base_url_forms(self, base_url, expected):
        assert ReferenceBackend(base_url, TOKEN).restrictions_request().url == expected

    @pytest.mark.parametrize(
        "base_url",
        ["ftp://chat.example", "javascript:alert(1)", "chat.example/api", "//chat.example",
         "https://chat.example/p?x=1", "https://chat.example/#top", "https://", None],
    )
    def test_bad_base_url_is_refused(self, base_url):
        with pytest.raises(ValueError, match="base_url"):
            ReferenceBackend(base_url, TOKEN)

    @pytest.mark.parametrize("cid", ["", ".", ".."])
    def test_conversation_ids_that_would_change_the_path_are_refused(self, cid):
        with pytest.raises(ValueError, match="conversation id"):
            ReferenceBackend(BASE, TOKEN, cid)

    def test_token_with_line_break_is_refused(self):
        with pytest.raises(ValueError, match="token"):
            ReferenceBackend(BASE, "abc\r\nX-Evil: 1")

    def test_repr_does_not_show_the_token(self, backend):
        assert TOKEN not in repr(backend)
        assert "team room/1" in repr(backend)


# --------------------------------------------------------------------------
# Requests
# --------------------------------------------------------------------------

ALL_REQUESTS = {
    "restrictions": lambda b: b.restrictions_request(),
    "history": lambda b: b.history_request(),
    "upload_start": lambda b: b.upload_start_request(FileInfo("a.txt", 3, "text/plain", b"abc")),
    "upload_chunk": lambda b: b.upload_chunk_request(state(10)),
    "upload_status": lambda b: b.upload_status_request(state(10)),
    "send": lambda b: b.send_request("hi", [], "k"),
}


class TestRequests:
    @pytest.mark.parametrize("which", sorted(ALL_REQUESTS))
    def test_every_request_carries_the_bearer_token(self, backend, which):
        req = ALL_REQUESTS[which](backend)
        assert isinstance(req, Request)
        assert req.headers["Authorization"] == "Bearer tok-123"
        assert req.headers["Accept"] == "application/json"

    def test_without_a_token_no_authorization_header_is_sent(self):
        req = ReferenceBackend("", "").history_request()
        assert "Authorization" not in req.headers

    def test_restrictions(self, backend):
        req = backend.restrictions_request()
        assert (req.method, req.url, req.json, req.body) == (
            "GET", "https://chat.example/prefix/api/restrictions", None, None)

    def test_history_quotes_the_conversation_id_as_one_segment(self, backend):
        req = backend.history_request()
        assert req.method == "GET"
        assert req.url == "https://chat.example/prefix/api/conversations/team%20room%2F1/messages"
        assert req.json is None and req.body is None

    @pytest.mark.parametrize("after, suffix", [(None, "/messages"), (0, "/messages?after=0"),
                                               (41, "/messages?after=41")])
    def test_history_after(self, after, suffix):
        req = ReferenceBackend("", TOKEN, "default").history_request(after)
        assert req.url == "/api/conversations/default" + suffix

    @pytest.mark.parametrize("after", [-1, True, 1.5, "3"])
    def test_history_after_must_be_a_sequence_number(self, backend, after):
        with pytest.raises(ValueError, match="after_seq"):
            backend.history_request(after)

    @settings(max_examples=200)
    @given(cid=st.text(min_size=1, max_size=40))
    def test_any_conversation_id_stays_one_path_segment(self, cid):
        assume(cid not in (".", ".."))
        url = ReferenceBackend("https://h", TOKEN, cid).history_request().url
        parts = urlsplit(url)
        assert parts.query == "" and parts.fragment == ""
        segments = parts.path.split("/")
        assert segments[:3] == ["", "api", "conversations"] and segments[4:] == ["messages"]
        assert unquote(segments[3], errors="strict") == cid
        assert url.isascii() and " " not in url

    def test_upload_start_declares_name_size_and_sniffed_type(self, backend):
        info = FileInfo("photo.png", 1234, declared_type="", head=PNG_HEAD)
        req = backend.upload_start_request(info)
        assert req.method == "POST"
        assert req.url == "https://chat.example/prefix/api/uploads"
        assert req.headers["Content-Type"] == "application/json"
        assert req.json == {"name": "photo.png", "size": 1234, "content_type": "image/png"}
        assert req.body is None

    def test_upload_start_uses_the_type_core_believes(self, backend):
        info = FileInfo("report.pdf", 10, declared_type="application/pdf", head=PNG_HEAD)
        assert backend.upload_start_request(info).json["content_type"] == effective_type(info)

    def test_upload_chunk(self, backend):
        req = backend.upload_chunk_request(state(20 * MiB, offset=8 * MiB))
        assert req.method == "PATCH"
        assert req.url == "https://chat.example/prefix/api/uploads/up%2F1"
        assert req.headers["Upload-Offset"] == str(8 * MiB)
        assert req.headers["Content-Type"] == "application/octet-stream"
        assert req.body == FileSlice(8 * MiB, 16 * MiB)
        assert req.json is None

    @pytest.mark.parametrize(
        "size, offset, chunk, expected",
        [
            (10, 0, 4, (0, 4)),
            (10, 4, 4, (4, 8)),
            (10, 8, 4, (8, 10)),  # last short chunk
            (12, 8, 4, (8, 12)),  # exact multiple: the last chunk is full
            (1, 0, 4, (0, 1)),  # one byte
            (20 * MiB, 16 * MiB, None, (16 * MiB, 20 * MiB)),  # default 8 MiB, short last
            (16 * MiB, 8 * MiB, None, (8 * MiB, 16 * MiB)),  # default, exact multiple
            (3 * MiB, 0, None, (0, 3 * MiB)),  # small file in one chunk
        ],
    )
    def test_chunk_ranges(self, backend, size, offset, chunk, expected):
        kwargs = {} if chunk is None else {"chunk_size": chunk}
        req = backend.upload_chunk_request(state(size, offset), **kwargs)
        assert (req.body.start, req.body.end) == expected
        assert req.headers["Upload-Offset"] == str(expected[0])

    def test_default_chunk_is_8_mib(self):
        assert DEFAULT_CHUNK_SIZE == 8 * MiB

    @settings(max_examples=300)
    @given(size=st.integers(1, 50 * MiB), chunk=st.integers(1, 16 * MiB))
    def test_chunks_tile_the_file_exactly(self, size, chunk):
        assume(size // chunk <= 400)
        b = ReferenceBackend("", TOKEN)
        current = b.parse_upload(resp(201, upload_json(size=size, offset=0)))
        slices = []
        while not current.complete:
            body = b.upload_chunk_request(current, chunk).body
            slices.append(body)
            new_offset = body.end
            current = b.parse_upload(
                resp(200, upload_json(size=size, offset=new_offset, complete=new_offset == size)))
        assert slices[0].start == 0 and slices[-1].end == size
        assert all(a.end == b_.start for a, b_ in zip(slices, slices[1:]))
        assert all(s.length == chunk for s in slices[:-1])
        assert 0 < slices[-1].length <= chunk
        assert len(slices) == -(-size // chunk)

    @pytest.mark.parametrize("st_", [state(10, 10, True), state(10, 10, False), state(0, 0, True)])
    def test_nothing_left_to_send(self, backend, st_):
        with pytest.raises(ValueError, match="nothing left"):
            backend.upload_chunk_request(st_)

    @pytest.mark.parametrize("chunk", [0, -1, True, 1.5])
    def test_chunk_size_must_be_positive_int(self, backend, chunk):
        with pytest.raises(ValueError, match="chunk_size"):
            backend.upload_chunk_request(state(10), chunk)

    @pytest.mark.parametrize("upload_id", ["", ".", ".."])
    def test_unusable_upload_id(self, backend, upload_id):
        with pytest.raises(ValueError, match="upload id"):
            backend.upload_status_request(state(10, upload_id=upload_id))

    def test_upload_status(self, backend):
        req = backend.upload_status_request(state(10, 4, upload_id="a?b#c"))
        assert (req.method, req.url, req.json, req.body) == (
            "GET", "https://chat.example/prefix/api/uploads/a%3Fb%23c", None, None)

    def test_send(self, backend):
        req = backend.send_request("Hello", ("up1", "up2"), "key-1")
        assert req.method == "POST"
        assert req.url == "https://chat.example/prefix/api/conversations/team%20room%2F1/messages"
        assert req.headers["Content-Type"] == "application/json"
        assert req.json == {"idempotency_key": "key-1", "text": "Hello",
                            "attachments": ["up1", "up2"]}
        assert type(req.json["attachments"]) is list  # JSON-ready, whatever came in
        assert req.body is None

    @pytest.mark.parametrize(
        "args",
        [("hi", [], ""), ("hi", "up1", "k"), ("hi", [1], "k"), (None, [], "k")],
    )
    def test_send_rejects_bad_arguments(self, backend, args):
        with pytest.raises(ValueError):
            backend.send_request(*args)

    def test_events_url_carries_token_and_after(self, backend):
        url = backend.events_url(41)
        parts = urlsplit(url)
        assert url.startswith(
            "https://chat.example/prefix/api/conversations/team%20room%2F1/events?")
        assert parse_qs(parts.query) == {"access_token": [TOKEN], "after": ["41"]}

    def test_events_url_without_after(self):
        assert ReferenceBackend("", TOKEN, "default").events_url() == (
            "/api/conversations/default/events?access_token=tok-123")
        assert ReferenceBackend("", TOKEN, "default").events_url(0).endswith("&after=0")

    # Tokens come from TOML/JSON config as real text: no lone surrogates (category Cs).
    @given(token=st.text(st.characters(blacklist_characters="\r\n\0", blacklist_categories=("Cs",)), min_size=1, max_size=40))
    def test_events_url_token_survives_any_characters(self, token):
        url = ReferenceBackend("", token).events_url(7)
        query = urlsplit(url).query
        assert parse_qs(query, keep_blank_values=True, errors="strict") == {
            "access_token": [token], "after": ["7"]}

    def test_events_url_without_token(self):
        assert "access_token" not in ReferenceBackend("", "").events_url(3)


# --------------------------------------------------------------------------
# Parsing, happy paths
# --------------------------------------------------------------------------

class TestParsing:
    def test_restrictions(self, backend):
        r = backend.parse_restrictions(resp(200, {
            "max_file_size": 25_000_000,
            "accepted_types": ["image/*", ".pdf"],
            "max_files_per_message": 1,
        }))
        assert r == Restrictions(max_file_size=25_000_000, accepted_types=("image/*", ".pdf"),
                                 max_files_per_message=1)

    def test_history(self, backend):
        second = message_json(id="m2", seq=2, sender="agent", text="Thanks", attachments=[],
                              idempotency_key="key-2")
        messages = backend.parse_history(resp(200, {"messages": [message_json(), second]}))
        assert messages == [
            Message(
                id="m1", seq=1, sender="customer", text="Here is the invoice",
                attachments=(Attachment(
                    id="a1", name="invoice.pdf", size=48_213, content_type="application/pdf",
                    url="https://chat.example/prefix/media/5e88/invoice.pdf?sig=abc"),),
                created_at="2026-11-25T15:04:05Z", idempotency_key="key-1",
            ),
            Message(id="m2", seq=2, sender="agent", text="Thanks", attachments=(),
                    created_at="2026-11-25T15:04:05Z", idempotency_key="key-2"),
        ]
        assert isinstance(messages[0].attachments, tuple)

    def test_history_is_oldest_first(self, backend):
        items = [message_json(id=f"m{s}", seq=s) for s in (3, 1, 2)]
        assert [m.seq for m in backend.parse_history(resp(200, {"messages": items}))] == [1, 2, 3]

    def test_empty_history(self, backend):
        assert backend.parse_history(resp(200, {"messages": []})) == []

    @pytest.mark.parametrize(
        "base_url, url, expected",
        [
            ("", "/media/x/a.png?sig=1", "/media/x/a.png?sig=1"),
            ("https://h/p", "/media/x/a.png?sig=1", "https://h/p/media/x/a.png?sig=1"),
            ("https://h/p/", "media/x/a.png", "https://h/p/media/x/a.png"),
            ("https://h", "https://cdn.example/x.png", "https://cdn.example/x.png"),
            ("https://h", "HTTP://cdn.example/x.png", "HTTP://cdn.example/x.png"),
        ],
    )
    def test_attachment_urls_are_resolved_against_base_url(self, base_url, url, expected):
        msg = ReferenceBackend(base_url, TOKEN).parse_message(resp(201, message_json(
            attachments=[{"id": "a", "name": "a.png", "size": 1, "content_type": "image/png",
                          "url": url}])))
        assert msg.attachments[0].url == expected

    @pytest.mark.parametrize("status", [200, 201])
    def test_message_created_or_replayed(self, backend, status):
        msg = backend.parse_message(resp(status, message_json()))
        assert (msg.id, msg.seq, msg.idempotency_key) == ("m1", 1, "key-1")

    @pytest.mark.parametrize("over", [{"idempotency_key": None}, {"idempotency_key": ""}])
    def test_message_without_idempotency_key(self, backend, over):
        assert backend.parse_message(resp(200, message_json(**over))).idempotency_key == ""

    def test_message_missing_idempotency_key(self, backend):
        data = message_json()
        del data["idempotency_key"], data["conversation"]
        assert backend.parse_message(resp(200, data)).idempotency_key == ""

    def test_event(self, backend):
        msg = backend.parse_event(json.dumps(message_json(seq=9)))
        assert msg.seq == 9
        assert msg.attachments[0].url.startswith("https://chat.example/prefix/media/")

    @pytest.mark.parametrize("status", [200, 201])
    def test_upload(self, backend, status):
        assert backend.parse_upload(resp(status, upload_json(offset=8 * MiB))) == UploadState(
            upload_id="up/1", offset=8 * MiB, size=20 * MiB, complete=False,
            name="photo.png", content_type="image/png")

    def test_upload_complete(self, backend):
        s = backend.parse_upload(resp(200, upload_json(offset=20 * MiB, complete=True)))
        assert s.complete and s.progress == 1.0

    def test_upload_progress(self):
        assert state(200, 50).progress == 0.25


# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------

def error_body(code: str, message: str, hint: "str | None" = None, **extra) -> dict:
    err = {"code": code, "message": message}
    if hint is not None:
        err["hint"] = hint
    err.update(extra)
    return {"error": err}


PARSERS = {
    "restrictions": lambda b, r: b.parse_restrictions(r),
    "history": lambda b, r: b.parse_history(r),
    "upload": lambda b, r: b.parse_upload(r),
    "message": lambda b, r: b.parse_message(r),
}


def raised(backend, response, parser: str = "message") -> BackendError:
    with pytest.raises(BackendError) as info:
        PARSERS[parser](backend, response)
    return info.value


class TestErrors:
    @pytest.mark.parametrize("parser", sorted(PARSERS))
    def test_network_failure(self, backend, parser):
        err = raised(backend, Response(0, {}, "TypeError: Failed to fetch"), parser)
        assert err.problem == Problem("network", "Could not reach the server.",
                                      "Check your connection, then retry.")
        assert err.retryable is True and err.status == 0
        assert err.detail == "TypeError: Failed to fetch"
        assert str(err) == "Could not reach the server."

    def test_unauthorised_uses_our_wording(self, backend):
        err = raised(backend, resp(401, error_body("unauthorized", "Missing bearer token")))
        assert err.problem.code == "unauthorized"
        assert err.problem.message.startswith("Your session is not authorised")
        assert err.problem.hint
        assert err.retryable is False
        assert err.detail == "Missing bearer token"

    def test_unauthorised_without_body(self, backend):
        err = raised(backend, resp(401, text=""))
        assert err.problem.message.startswith("Your session is not authorised")

    @pytest.mark.parametrize(
        "status, code, message",
        [
            (413, "too_large", "movie.mp4 is 120 MB; the limit is 25 MB"),
            (415, "type_mismatch", "photo.png: its content is not what its name says"),
            (415, "type_not_accepted", "setup.exe: this type is not accepted"),
            (422, "empty", "notes.txt is empty"),
            (422, "too_many_files", "Only 1 file per message"),
            (422, "upload_incomplete", "invoice.pdf has not finished uploading"),
            (404, "not_found", "No such upload"),
        ],
    )
    def test_server_error_message_is_used(self, backend, status, code, message):
        err = raised(backend, resp(status, error_body(code, message, "Do the thing.")), "upload")
        assert err.problem == Problem(code, message, "Do the thing.")
        assert err.retryable is False and err.status == status and err.offset is None

    def test_hint_falls_back_when_the_server_gives_none(self, backend):
        err = raised(backend, resp(413, error_body("too_large", "big.iso is 5 GB")), "upload")
        assert err.problem.message == "big.iso is 5 GB"
        assert err.problem.hint == "Choose a smaller file."

    def test_string_error(self, backend):
        err = raised(backend, resp(400, {"error": "bad things"}))
        assert err.problem.message == "bad things" and err.problem.code == "bad_request"

    def test_long_server_message_is_clipped(self, backend):
        err = raised(backend, resp(422, error_body("x", "word " * 1000)))
        assert len(err.problem.message) <= 500

    @pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504, 599])
    def test_retryable_statuses(self, backend, status):
        err = raised(backend, resp(status, text="<html><body>Bad Gateway</body></html>",
                                   headers={"Content-Type": "text/html"}))
        assert err.retryable is True
        assert err.status == status
        assert err.problem.message and "<html>" not in err.problem.message
        assert err.problem.hint

    def test_server_error_mentions_status(self, backend):
        assert "503" in raised(backend, resp(503, text="")).problem.message

    @pytest.mark.parametrize("status", [400, 403, 404, 405, 409, 410, 413, 415, 422, 301, 304, 101])
    def test_not_retryable_statuses(self, backend, status):
        err = raised(backend, resp(status, text="nope"))
        assert err.retryable is False and err.problem.message and err.problem.code

    def test_retry_after(self, backend):
        err = raised(backend, resp(429, text="", headers={"Retry-After": "7"}))
        assert err.retry_after == 7.0 and err.problem.code == "rate_limited"
        err = raised(backend, resp(503, text="", headers={"retry-after": "Wed, 21 Oct 2026 07:28:00 GMT"}))
        assert err.retry_after is None

    @settings(max_examples=300)
    @given(
        status=st.integers(0, 599).filter(lambda s: not 200 <= s <= 299),
        text=st.one_of(st.text(max_size=200), st.builds(json.dumps, st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=10),
            lambda c: st.lists(c, max_size=3) | st.dictionaries(
                st.sampled_from(["error", "code", "message", "hint", "offset"]), c, max_size=4),
            max_leaves=10))),
        parser=st.sampled_from(sorted(PARSERS)),
    )
    def test_any_failure_is_a_backend_error_with_the_retry_rule(self, status, text, parser):
        b = ReferenceBackend("", TOKEN)
        with pytest.raises(BackendError) as info:
            PARSERS[parser](b, Response(status, {}, text))
        err = info.value
        expected = status in (0, 408, 429) or 500 <= status <= 599
        if err.problem.code == "offset_mismatch":
            assert status == 409
            expected = True
        assert err.retryable is expected
        assert isinstance(err.problem, Problem)
        assert err.problem.code and err.problem.message and err.problem.hint


    @settings(max_examples=300)
    @given(
        status=st.sampled_from([200, 201]),
        body=st.recursive(
            st.none() | st.booleans() | st.integers(-2, 2**40) | st.floats(allow_nan=False)
            | st.text(max_size=8),
            lambda c: st.lists(c, max_size=3) | st.dictionaries(st.sampled_from([
                "messages", "max_file_size", "accepted_types", "max_files_per_message",
                "upload_id", "offset", "size", "complete", "id", "seq", "sender", "text",
                "created_at", "attachments", "url"]), c, max_size=6),
            max_leaves=15),
        parser=st.sampled_from(sorted(PARSERS)),
    )
    def test_any_2xx_json_is_a_value_or_a_bad_response(self, status, body, parser):
        b = ReferenceBackend("", TOKEN)
        try:
            PARSERS[parser](b, Response(status, {}, json.dumps(body)))
        except BackendError as err:
            assert err.problem.code == "bad_response" and err.retryable is False


class TestOffsetMismatch:
    @pytest.mark.parametrize(
        "body, headers",
        [
            (error_body("offset_mismatch", "Expected offset 8388608", offset=8 * MiB), None),
            ({**error_body("offset_mismatch", "Expected offset 8388608"), "offset": 8 * MiB}, None),
            (error_body("offset_mismatch", "Expected offset 8388608"), {"Upload-Offset": str(8 * MiB)}),
        ],
    )
    def test_offset_is_surfaced(self, backend, body, headers):
        err = raised(backend, resp(409, body, headers=headers), "upload")
        assert err.problem.code == "offset_mismatch"
        assert err.problem.message == "Expected offset 8388608"
        assert err.retryable is True
        assert err.offset == 8 * MiB

    def test_without_offset(self, backend):
        err = raised(backend, resp(409, error_body("offset_mismatch", "Wrong offset")), "upload")
        assert err.problem.code == "offset_mismatch" and err.retryable and err.offset is None

    def test_bare_409_with_offset_is_a_mismatch(self, backend):
        err = raised(backend, resp(409, {"offset": 5}), "upload")
        assert (err.problem.code, err.offset, err.retryable) == ("offset_mismatch", 5, True)
        assert err.problem.message and err.problem.hint

    def test_other_conflicts_are_not(self, backend):
        err = raised(backend, resp(409, error_body("duplicate", "Already there", offset=5)), "upload")
        assert (err.problem.code, err.offset, err.retryable) == ("duplicate", None, False)

    @pytest.mark.parametrize("offset", [-1, True, "abc", "²", 1.5])
    def test_unusable_offset_is_ignored(self, backend, offset):
        err = raised(backend, resp(409, error_body("offset_mismatch", "x", offset=offset)), "upload")
        assert err.offset is None

    def test_resume_flow(self, backend):
        """A chunk lost in flight: the server has more than we thought; ask and continue."""
        current = backend.parse_upload(resp(201, upload_json(size=20 * MiB)))
        req = backend.upload_chunk_request(current)
        assert req.body == FileSlice(0, 8 * MiB)
        # the answer to that chunk was lost; we resend it and the server objects
        err = raised(backend, resp(409, error_body("offset_mismatch", "x", offset=8 * MiB)), "upload")
        assert err.code == "offset_mismatch" and err.retryable
        status_req = backend.upload_status_request(current)
        assert status_req.method == "GET" and status_req.url.endswith("/api/uploads/up%2F1")
        current = backend.parse_upload(resp(200, upload_json(offset=8 * MiB)))
        assert backend.upload_chunk_request(current).body == FileSlice(8 * MiB, 16 * MiB)
        # resuming from the error's offset without the round trip gives the same request
        assert backend.upload_chunk_request(
            replace(state(20 * MiB), offset=err.offset)).body == FileSlice(8 * MiB, 16 * MiB)


# --------------------------------------------------------------------------
# Malformed payloads
# --------------------------------------------------------------------------

def assert_bad_response(err: BackendError, mentions: str = "") -> None:
    assert err.problem.code == "bad_response"
    assert err.retryable is False
    assert err.problem.message.startswith("The server sent a response Attache could not read")
    assert mentions in err.problem.message
    assert err.problem.hint


class TestMalformed:
    @pytest.mark.parametrize("text", ["", "not json", "{", "[1, 2", "<html></html>", "NaN",
                                      "{\"a\": NaN}", "\ufeff{}"])
    @pytest.mark.parametrize("parser", sorted(PARSERS))
    def test_not_json(self, backend, parser, text):
        assert_bad_response(raised(backend, resp(200, text=text), parser), "expected JSON")

    def test_deeply_nested_json_is_not_a_recursion_error(self, backend):
        assert_bad_response(raised(backend, resp(200, text="[" * 200_000 + "]" * 200_000)))

    @pytest.mark.parametrize("parser", sorted(PARSERS))
    @pytest.mark.parametrize("body", [[], "text", 3, None])
    def test_not_an_object(self, backend, parser, body):
        assert_bad_response(raised(backend, resp(200, text=json.dumps(body)), parser),
                            "should be an object")

    @pytest.mark.parametrize("key", ["id", "seq", "sender", "text", "created_at", "attachments"])
    def test_message_missing_key(self, backend, key):
        data = message_json()
        del data[key]
        assert_bad_response(raised(backend, resp(201, data)), f"message.{key} is missing")

    @pytest.mark.parametrize(
        "over, mentions",
        [
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
            ({"attachments": {}}, "message.attachments should be a list"),
            ({"attachments": None}, "message.attachments should be a list"),
            ({"attachments": ["a1"]}, "message.attachments[0] should be an object"),
        ],
    )
    def test_message_bad_field(self, backend, over, mentions):
        assert_bad_response(raised(backend, resp(201, message_json(**over))), mentions)

    @pytest.mark.parametrize(
        "over, mentions",
        [
            ({"id": None}, "attachments[0].id should be a string"),
            ({"name": 3}, "attachments[0].name should be a string"),
            ({"size": "48 kB"}, "attachments[0].size should be an integer"),
            ({"size": -5}, "attachments[0].size should be at least 0"),
            ({"content_type": None}, "attachments[0].content_type should be a string"),
            ({"url": ""}, "attachments[0].url should not be empty"),
            ({"url": "javascript:alert(1)"}, "attachments[0].url is not an http(s) URL"),
            ({"url": "data:text/html,<script>alert(1)</script>"}, "attachments[0].url is not"),
            ({"url": " JavaScript:alert(1)"}, "attachments[0].url is not"),
        ],
    )
    def test_attachment_bad_field(self, backend, over, mentions):
        att = dict(message_json()["attachments"][0], **over)
        assert_bad_response(raised(backend, resp(201, message_json(attachments=[att]))), mentions)

    @pytest.mark.parametrize("key", ["id", "name", "size", "content_type", "url"])
    def test_attachment_missing_key(self, backend, key):
        att = dict(message_json()["attachments"][0])
        del att[key]
        assert_bad_response(raised(backend, resp(201, message_json(attachments=[att]))),
                            f"attachments[0].{key} is missing")

    def test_history_names_the_bad_message(self, backend):
        body = {"messages": [message_json(), message_json(seq="2")]}
        assert_bad_response(raised(backend, resp(200, body), "history"),
                            "history.messages[1].seq should be an integer")

    @pytest.mark.parametrize("body, mentions", [
        ({}, "history.messages is missing"),
        ({"messages": None}, "history.messages should be a list"),
        ({"messages": {"m1": {}}}, "history.messages should be a list"),
    ])
    def test_history_shape(self, backend, body, mentions):
        assert_bad_response(raised(backend, resp(200, body), "history"), mentions)

    @pytest.mark.parametrize(
        "over, mentions",
        [
            ({"upload_id": None}, "upload.upload_id should be a string"),
            ({"upload_id": ""}, "upload.upload_id should not be empty"),
            ({"upload_id": ".."}, "upload.upload_id is not a usable id"),
            ({"offset": "0"}, "upload.offset should be an integer"),
            ({"offset": -1}, "upload.offset should be at least 0"),
            ({"offset": 21 * MiB}, "upload.offset is beyond upload.size"),
            ({"size": None}, "upload.size should be an integer"),
            ({"complete": "yes"}, "upload.complete should be true or false"),
            ({"complete": 1}, "upload.complete should be true or false"),
            ({"name": 5}, "upload.name should be a string"),
        ],
    )
    def test_upload_bad_field(self, backend, over, mentions):
        assert_bad_response(raised(backend, resp(200, upload_json(**over)), "upload"), mentions)

    @pytest.mark.parametrize("key", ["upload_id", "offset", "size", "complete"])
    def test_upload_missing_key(self, backend, key):
        data = upload_json()
        del data[key]
        assert_bad_response(raised(backend, resp(200, data), "upload"), f"upload.{key} is missing")

    def test_upload_name_and_type_are_optional(self, backend):
        data = upload_json()
        del data["name"], data["content_type"]
        s = backend.parse_upload(resp(200, data))
        assert (s.name, s.content_type) == ("", "")

    @pytest.mark.parametrize("body", [
        {"max_file_size": "lots", "accepted_types": [], "max_files_per_message": 1},
        {"max_file_size": 10, "accepted_types": [], "max_files_per_message": "one"},
    ])
    def test_restrictions_bad(self, backend, body):
        assert_bad_response(raised(backend, resp(200, body), "restrictions"), "restrictions")

    @pytest.mark.parametrize("data", ["", "keepalive", "{", "[]", json.dumps(message_json(seq=None))])
    def test_event_malformed(self, backend, data):
        with pytest.raises(BackendError) as info:
            backend.parse_event(data)
        assert_bad_response(info.value)
        assert info.value.status is None

    @settings(max_examples=300)
    @given(data=st.one_of(
        st.text(max_size=300),
        st.builds(json.dumps, st.fixed_dictionaries(
            {}, optional={k: st.one_of(st.none(), st.integers(-3, 3), st.text(max_size=5),
                                       st.booleans(), st.lists(st.integers(), max_size=2))
                          for k in message_json()})),
    ))
    def test_any_event_payload_is_a_message_or_a_backend_error(self, data):
        b = ReferenceBackend("", TOKEN)
        try:
            msg = b.parse_event(data)
        except BackendError as err:
            assert err.problem.code == "bad_response"
        else:
            assert isinstance(msg, Message)


# --------------------------------------------------------------------------
# Values
# --------------------------------------------------------------------------

class TestValues:
    def test_response_headers_are_lower_cased(self):
        assert Response(200, {"Content-Type": "a", "Upload-Offset": "3"}, "").headers == {
            "content-type": "a", "upload-offset": "3"}

    @pytest.mark.parametrize("start, end", [(-1, 3), (5, 4)])
    def test_file_slice_must_be_a_range(self, start, end):
        with pytest.raises(ValueError):
            FileSlice(start, end)

    def test_request_cannot_carry_json_and_a_file(self):
        with pytest.raises(ValueError):
            Request("POST", "/x", {}, json={}, body=FileSlice(0, 1))

    def test_backend_error_is_an_exception_with_the_message(self):
        err = BackendError(Problem("x", "Something broke.", "Retry."), retryable=True, status=503)
        assert isinstance(err, Exception) and str(err) == "Something broke."
        assert err.code == "x" and err.retryable and err.status == 503 and err.offset is None


# --------------------------------------------------------------------------
# create_backend
# --------------------------------------------------------------------------

def page_config(**backend_over) -> dict:
    backend = {
        "adapter": "reference",
        "base_url": "https://chat.example/prefix",
        "conversation": "support",
        "identities": {
            "agent": {"token": "agent-dev-token", "name": "Agent"},
            "customer": {"token": "customer-dev-token", "name": "Customer"},
        },
    }
    backend.update(backend_over)
    return {"backend": backend}


class TestCreateBackend:
    def test_reference(self):
        b = create_backend(page_config(), "customer")
        assert isinstance(b, ReferenceBackend) and isinstance(b, Backend)
        assert (b.base_url, b.conversation, b.identity) == (
            "https://chat.example/prefix", "support", "customer")
        assert b.history_request().headers["Authorization"] == "Bearer customer-dev-token"
        assert b.history_request().url.endswith("/api/conversations/support/messages")

    def test_defaults(self):
        cfg = page_config()
        del cfg["backend"]["base_url"], cfg["backend"]["conversation"]
        b = create_backend(cfg, "agent")
        assert (b.base_url, b.conversation) == ("", "default")

    def test_identity_entry_may_be_the_token(self):
        b = create_backend(page_config(identities={"agent": "t-1"}), "agent")
        assert b.restrictions_request().headers["Authorization"] == "Bearer t-1"

    def test_unknown_adapter_lists_the_known_ones(self):
        with pytest.raises(ValueError) as info:
            create_backend(page_config(adapter="matrix"), "agent")
        assert "'matrix'" in str(info.value)
        assert "known adapters: reference" in str(info.value)
        assert set(ADAPTERS) == {"reference"}

    @pytest.mark.parametrize("cfg", [{}, {"backend": None}, {"backend": []}, None])
    def test_no_backend_table(self, cfg):
        with pytest.raises(ValueError, match="backend"):
            create_backend(cfg, "agent")

    @pytest.mark.parametrize("adapter", [None, 3, ""])
    def test_missing_adapter(self, adapter):
        cfg = page_config(adapter=adapter)
        with pytest.raises(ValueError, match="known adapters: reference"):
            create_backend(cfg, "agent")

    def test_unknown_identity_lists_the_known_ones(self):
        with pytest.raises(ValueError, match="'boss'; known identities: agent, customer"):
            create_backend(page_config(), "boss")

    @pytest.mark.parametrize("over, match", [
        ({"identities": {}}, "identities"),
        ({"identities": None}, "identities"),
        ({"identities": {"agent": {"name": "Agent"}}}, "agent.token"),
        ({"conversation": 5}, "conversation"),
        ({"base_url": "ftp://x"}, "base_url"),
    ])
    def test_bad_settings(self, over, match):
        with pytest.raises(ValueError, match=match):
            create_backend(page_config(**over), "agent")


def test_a_transport_timeout_reads_as_a_timeout_not_as_offline():
    from app.backends.base import TIMED_OUT, BackendError, Response
    from app.backends.reference import ReferenceBackend

    backend = ReferenceBackend("", "tok")
    try:
        backend.parse_history(Response(0, {}, TIMED_OUT))
    except BackendError as error:
        assert error.problem.code == "timeout"
        assert error.problem.message == "The server did not answer in time."
        assert error.retryable
    else:
        raise AssertionError("a timeout must raise BackendError")
