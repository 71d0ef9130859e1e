"""The Matrix adapter, read like its documentation: what it asks a homeserver, what it understands.

Sans-IO: requests are compared as values; responses are the shapes Synapse
1.163 answered in tests/matrix (trimmed), or the spec's examples.
"""

import json
import struct
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.backends.matrix import HistoryPage, MatrixConversation, Uploaded
from app.core.errors import BackendError
from app.core.http import TIMED_OUT, FileSlice, Request, Response
from app.core.models import Attachment, FileInfo, Message
from app.core.restrictions import Restrictions

HS = "https://matrix.example"
ROOM = "!_u6ZntVL-OpKoO5XLMAtAEUinOSr5nV4DrITi8Ui4b4"  # room version 12: no ":server"
ROOM_PATH = "/_matrix/client/v3/rooms/%21_u6ZntVL-OpKoO5XLMAtAEUinOSr5nV4DrITi8Ui4b4"
ME = "@agent:localhost"
TOKEN = "syt_YWdlbnQ_tAVTZmwLByXovNXt"
PNG_HEAD = b"\x89PNG\r\n\x1a\n" + struct.pack(">I4sII", 13, b"IHDR", 640, 480) + b"\x08\x02\x00\x00\x00"
MXC = "mxc://localhost/ZMzzOeAGTdoZoOjZtzFSxhKz"
DOWNLOAD = HS + "/_matrix/client/v1/media/download/localhost/ZMzzOeAGTdoZoOjZtzFSxhKz"


@pytest.fixture
def api() -> MatrixConversation:
    return MatrixConversation(HS, TOKEN, ROOM, user_id=ME, clock=lambda: 1795639584.531)


def resp(status: int, body: object = None, *, text: "str | None" = None, headers=None) -> Response:
    if text is None:
        text = "" if body is None else json.dumps(body)
    return Response(status, headers or {"Content-Type": "application/json"}, text)


def query(request: Request) -> dict:
    return {k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}


def path(request: Request) -> str:
    return urlsplit(request.url).path


def event(content: dict, *, type="m.room.message", sender="@element:localhost", event_id="$ev1",
          ts=1795639584556, **extra) -> dict:
    data = {"type": type, "content": content, "event_id": event_id, "sender": sender,
            "origin_server_ts": ts, "room_id": ROOM, "unsigned": {"age": 12, "membership": "join"}}
    data.update(extra)
    return data


def one(api: MatrixConversation, ev: dict) -> Message:
    page = api.parse_history(resp(200, {"chunk": [ev], "start": "t2", "end": "t1"}))
    assert len(page.messages) == 1, page
    return page.messages[0]


def problem_of(call) -> BackendError:
    with pytest.raises(BackendError) as caught:
        call()
    return caught.value


# ---------------------------------------------------------------- setting up
def test_an_alias_is_resolved_then_whoami_then_ready():
    api = MatrixConversation(HS, TOKEN, "#support-1042:localhost")
    first = api.setup_request()
    assert (first.method, path(first)) == ("GET", "/_matrix/client/v3/directory/room/%23support-1042%3Alocalhost")
    assert first.headers["Authorization"] == f"Bearer {TOKEN}"
    api.parse_setup(resp(200, {"room_id": ROOM, "servers": ["localhost"]}))
    assert api.room_id == ROOM
    second = api.setup_request()
    assert path(second) == "/_matrix/client/v3/account/whoami"
    api.parse_setup(resp(200, {"user_id": ME, "is_guest": False, "device_id": "PZFEBBKTNW"}))
    assert api.user_id == ME and api.setup_request() is None


def test_a_room_id_and_known_user_need_no_setup(api):
    assert api.setup_request() is None
    with pytest.raises(ValueError, match="setup_request"):
        api.parse_setup(resp(200, {"user_id": ME}))


def test_an_unknown_alias_names_the_room():
    api = MatrixConversation(HS, TOKEN, "#nope:localhost")
    api.setup_request()
    err = problem_of(lambda: api.parse_setup(resp(404, {"errcode": "M_NOT_FOUND",
                                                         "error": "Room alias #nope:localhost not found"})))
    assert err.code == "room_not_found" and "#nope:localhost" in err.problem.message
    assert not err.retryable and "M_NOT_FOUND" in err.detail


def test_requests_before_the_alias_is_resolved_are_refused():
    with pytest.raises(ValueError, match="resolve"):
        MatrixConversation(HS, TOKEN, "#support:localhost").history_request()


@pytest.mark.parametrize("room", ["", "abc", "#nocolon", "!a b", "!a/b", None])
def test_a_bad_room_is_a_configuration_error(room):
    with pytest.raises(ValueError, match="room"):
        MatrixConversation(HS, TOKEN, room)


def test_the_token_is_never_shown():
    assert TOKEN not in repr(MatrixConversation(HS, TOKEN, ROOM))
    with pytest.raises(ValueError):
        MatrixConversation(HS, "a\nb", ROOM)


def test_from_config_reads_tokens_user_ids_and_the_administrators_rules():
    backend = {"adapter": "matrix", "homeserver": HS + "/", "room": ROOM,
               "identities": {"agent": TOKEN, "customer": {"token": "syt_c", "user_id": "@customer:localhost"}},
               "attachments": {"max_file_size": "25 MB", "accepted_types": ["image/*", ".pdf"]}}
    agent = MatrixConversation.from_config(backend, "agent")
    assert (agent.base_url, agent.token, agent.user_id) == (HS, TOKEN, "")
    assert agent.admin_rules == Restrictions(25_000_000, ("image/*", ".pdf"))
    assert MatrixConversation.from_config(backend, "customer").user_id == "@customer:localhost"
    with pytest.raises(ValueError, match="known identities: agent, customer"):
        MatrixConversation.from_config(backend, "boss")


# -------------------------------------------------------------- restrictions
def test_restrictions_ask_the_authenticated_media_config(api):
    request = api.restrictions_request()
    assert (request.method, request.url) == ("GET", HS + "/_matrix/client/v1/media/config")


@pytest.mark.parametrize("homeserver, admin, effective", [
    (2_097_152, 25_000_000, 2_097_152),  # the homeserver is stricter
    (50_000_000, 25_000_000, 25_000_000),  # the administrator is stricter
    (None, 25_000_000, 25_000_000),  # the homeserver does not say
])
def test_the_stricter_size_wins_and_types_are_the_administrators(homeserver, admin, effective):
    api = MatrixConversation(HS, TOKEN, ROOM, restrictions=Restrictions(admin, ("image/*", ".pdf"), 3))
    body = {} if homeserver is None else {"m.upload.size": homeserver}
    rules = api.parse_restrictions(resp(200, body))
    assert rules == Restrictions(effective, ("image/*", ".pdf"), 1)  # one file per Matrix event
    assert api.upload_limit == homeserver


def test_a_homeserver_without_media_config_keeps_the_administrators_rules(api):
    rules = api.parse_restrictions(resp(404, {"errcode": "M_UNRECOGNIZED", "error": "Unrecognized request"}))
    assert rules.max_file_size == Restrictions().max_file_size


def test_restrictions_with_a_revoked_token_say_sign_in_again(api):
    err = problem_of(lambda: api.parse_restrictions(resp(401, {
        "errcode": "M_UNKNOWN_TOKEN", "error": "Invalid access token passed.", "soft_logout": False})))
    assert err.code == "unauthorized" and not err.retryable
    assert "M_UNKNOWN_TOKEN" in err.detail and "Invalid access token" not in err.problem.message


# ------------------------------------------------------------------- history
def test_history_asks_backwards_with_a_room_event_filter(api):
    first = api.history_request()
    assert (first.method, path(first)) == ("GET", ROOM_PATH + "/messages")
    q = query(first)
    assert (q["dir"], q["limit"]) == ("b", "50") and "from" not in q
    flt = json.loads(q["filter"])
    assert flt["lazy_load_members"] is True and "m.room.member" in flt["not_types"]
    assert "m.room.message" not in flt["not_types"]
    older = api.history_request("t13-13_0_0_0_0_0_0_0_0_0_0_0_0_0", limit=20)
    assert query(older)["from"] == "t13-13_0_0_0_0_0_0_0_0_0_0_0_0_0" and query(older)["limit"] == "20"


def synapse_page() -> dict:
    """/messages?dir=b as Synapse answered it: newest first, members in `state`."""
    original = event({"body": "orig", "msgtype": "m.text"}, event_id="$orig", ts=1795639584615)
    edit = event({"body": "* edited", "m.new_content": {"body": "edited", "msgtype": "m.text"},
                  "m.relates_to": {"event_id": "$orig", "rel_type": "m.replace"}, "msgtype": "m.text"},
                 event_id="$edit", ts=1795639584634)
    original["unsigned"]["m.relations"] = {"m.replace": edit}
    return {
        "chunk": [
            event({"algorithm": "m.megolm.v1.aes-sha2", "ciphertext": "xx"}, type="m.room.encrypted",
                  event_id="$enc", ts=1795639584677),
            event({"body": "a sticker", "info": {}, "url": MXC}, type="m.sticker", event_id="$st", ts=1795639584659),
            edit,
            original,
            event({}, event_id="$gone", ts=1795639584575, unsigned={"redacted_because": {"type": "m.room.redaction"}}),
            event({"body": "hello", "msgtype": "m.text"}, sender=ME, event_id="$hello", ts=1795639584531,
                  unsigned={"age": 184, "membership": "join", "transaction_id": "txn1"}),
            event({"displayname": "agent", "membership": "join"}, type="m.room.member", event_id="$m",
                  state_key=ME, ts=1795639584369),
        ],
        "start": "t17-18_0_0_0_0_0_0_0_0_0_0_0_0_0",
        "end": "t13-13_0_0_0_0_0_0_0_0_0_0_0_0_0",
        "state": [event({"displayname": "Elena (Element)", "membership": "join"}, type="m.room.member",
                        state_key="@element:localhost", event_id="$m2")],
    }


def test_a_history_page_is_oldest_first_with_a_token_for_older(api):
    page = api.parse_history(resp(200, synapse_page()))
    assert isinstance(page, HistoryPage) and page.older == "t13-13_0_0_0_0_0_0_0_0_0_0_0_0_0"
    assert [m.id for m in page.messages] == ["$hello", "$gone", "$orig", "$st", "$enc"]
    hello, gone, orig, sticker, encrypted = page.messages
    assert (hello.text, hello.sender, hello.idempotency_key) == ("hello", ME, "txn1")
    assert (hello.seq, hello.created_at) == (1795639584531, "2026-11-25T20:46:24Z")
    assert (gone.kind, gone.text) == ("deleted", "This message was deleted.")
    assert orig.text == "edited" and orig.sender_name == "Elena (Element)"  # the bundled latest edit
    assert sticker.kind == encrypted.kind == "unsupported"
    assert sticker.text == "A sticker \u2014 not supported here." and not sticker.attachments
    assert encrypted.text == "An encrypted message \u2014 not supported here."


def test_the_first_page_of_the_room_has_no_older_token(api):
    page = api.parse_history(resp(200, {"chunk": [event({"msgtype": "m.text", "body": "first"})],
                                        "start": "t1"}))
    assert page.older is None and [m.text for m in page.messages] == ["first"]
    empty_but_more = api.parse_history(resp(200, {"chunk": [], "start": "t9", "end": "t5"}))
    assert empty_but_more == HistoryPage((), "t5")  # an empty chunk alone is not the end


def test_history_when_not_in_the_room_is_a_clear_problem(api):
    err = problem_of(lambda: api.parse_history(resp(403, {
        "errcode": "M_FORBIDDEN",
        "error": f"User @customer:localhost not in room {ROOM}, and room previews are disabled"})))
    assert err.code == "not_in_room" and "not a member of this Matrix room" in err.problem.message
    assert not err.retryable and ROOM not in err.problem.message


def test_a_malformed_envelope_is_a_bad_response_not_a_traceback(api):
    broken = {"chunk": [{"type": "m.room.message", "content": {}, "sender": "@x:y"}], "start": "t"}
    assert problem_of(lambda: api.parse_history(resp(200, broken))).code == "bad_response"
    assert problem_of(lambda: api.parse_history(resp(200, text="<html>"))).code == "bad_response"


# ------------------------------------------------------------- receiving files
def test_an_element_image_without_filename_is_named_by_its_body(api):
    msg = one(api, event({"body": "p.png", "msgtype": "m.image", "url": MXC,
                          "info": {"h": 3, "mimetype": "image/png", "size": 79, "w": 2}}))
    assert msg.text == "" and msg.kind == ""
    assert msg.attachments == (Attachment(id=MXC, name="p.png", size=79, content_type="image/png", url=DOWNLOAD),)


def test_a_file_with_filename_has_body_as_its_caption(api):
    msg = one(api, event({"msgtype": "m.file", "body": "Here is the invoice", "filename": "invoice.pdf",
                          "url": MXC, "info": {"mimetype": "application/pdf", "size": 48213}}))
    assert msg.text == "Here is the invoice"
    assert (msg.attachments[0].name, msg.attachments[0].content_type) == ("invoice.pdf", "application/pdf")
    same = one(api, event({"msgtype": "m.file", "body": "a.pdf", "filename": "a.pdf", "url": MXC}))
    assert same.text == "" and same.attachments[0].size == 0  # no caption; size unknown


@pytest.mark.parametrize("msgtype, name, mimetype, expected", [
    ("m.video", "clip.mp4", "video/mp4", "video/mp4"),
    ("m.audio", "voice.ogg", "audio/ogg; codecs=opus", "audio/ogg"),
    ("m.file", "notes.txt", None, "text/plain"),  # no mimetype: from the name
    ("m.file", "blob", "not a type", "application/octet-stream"),
])
def test_media_types_come_from_info_or_the_name(api, msgtype, name, mimetype, expected):
    info = {"size": 10} if mimetype is None else {"size": 10, "mimetype": mimetype}
    msg = one(api, event({"msgtype": msgtype, "body": name, "url": MXC, "info": info}))
    assert msg.attachments[0].content_type == expected and msg.attachments[0].url == DOWNLOAD


@pytest.mark.parametrize("content, label", [
    ({"msgtype": "m.image", "body": "x.png", "file": {"url": MXC, "key": {}}}, "An encrypted file"),
    ({"msgtype": "m.image", "body": "x.png", "url": "https://evil.example/x.png"}, "A file Attache could not read"),
    ({"msgtype": "m.image", "body": "x.png", "url": "mxc://localhost/../../etc"}, "A file Attache could not read"),
    ({"msgtype": "m.location", "body": "Big Ben", "geo_uri": "geo:51.5,-0.12"}, "A location"),
    ({"msgtype": "org.example.custom", "body": "?"}, "A message of type org.example.custom"),
    ({"msgtype": "m.text", "body": 42}, "A message Attache could not read"),
    ({"body": "no msgtype"}, "A message Attache could not read"),
])
def test_what_the_canvas_cannot_show_is_said_not_dropped(api, content, label):
    msg = one(api, event(content))
    assert (msg.kind, msg.text, msg.attachments) == ("unsupported", f"{label} \u2014 not supported here.", ())


def test_polls_and_unknown_event_types_are_said_plumbing_is_skipped(api):
    chunk = [event({"m.relates_to": {"rel_type": "m.annotation", "key": "👍"}}, type="m.reaction", event_id="$r"),
             event({"answers": ["a"]}, type="m.poll.response", event_id="$v"),
             event({"topic": "x"}, type="m.room.topic", state_key="", event_id="$t"),
             event({"question": {}}, type="org.matrix.msc3381.poll.start", event_id="$p"),
             event({"x": 1}, type="com.example.game", event_id="$g")]
    page = api.parse_history(resp(200, {"chunk": chunk, "start": "t"}))
    assert [(m.id, m.text) for m in page.messages] == [
        ("$g", "An event of type com.example.game \u2014 not supported here."),
        ("$p", "A poll \u2014 not supported here.")]


def test_text_kinds_and_reply_fallbacks(api):
    assert one(api, event({"msgtype": "m.notice", "body": "bot says"})).text == "bot says"
    assert one(api, event({"msgtype": "m.emote", "body": "waves"})).text == "* element waves"
    reply = one(api, event({"msgtype": "m.text", "body": "> <@agent:localhost> hi\n> there\n\nthanks!",
                            "m.relates_to": {"m.in_reply_to": {"event_id": "$x"}}}))
    assert reply.text == "thanks!"
    quote = one(api, event({"msgtype": "m.text", "body": "> not a reply"}))
    assert quote.text == "> not a reply"


@settings(max_examples=200)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                    max_leaves=12),
       st.sampled_from(["m.room.message", "m.sticker", "m.room.encrypted", "m.reaction", "x.custom"]))
def test_any_content_from_any_client_maps_without_crashing(content, kind):
    api = MatrixConversation(HS, TOKEN, ROOM, user_id=ME)
    for body in (content, {"msgtype": "m.image", "body": "a", "url": MXC, "info": content},
                 {"msgtype": "m.file", "body": "a", "filename": content, "url": content}):
        page = api.parse_history(resp(200, {"chunk": [event(body, type=kind)], "start": "t"}))
        for message in page.messages:
            assert isinstance(message.text, str)
            assert all(a.url.startswith(HS + "/_matrix/client/v1/media/download/") for a in message.attachments)


# --------------------------------------------------------------------- sending
def test_text_alone_is_an_m_text_put_with_the_key_as_txn_id(api):
    request = api.send_request("Hello <b>there</b>", [], "key-1")
    assert (request.method, request.url) == ("PUT", HS + ROOM_PATH + "/send/m.room.message/key-1")
    assert request.json == {"msgtype": "m.text", "body": "Hello <b>there</b>"}
    assert request.headers["Content-Type"] == "application/json"
    assert api.send_request("Hello <b>there</b>", [], "key-1") == request  # a retry is the same request


def test_a_file_with_text_is_a_captioned_media_event(api):
    png = Uploaded(MXC, FileInfo("photo.png", 20_000, "image/png", PNG_HEAD), "image/png")
    request = api.send_request("The broken part", [png], "key-2")
    assert request.json == {"msgtype": "m.image", "body": "The broken part", "filename": "photo.png", "url": MXC,
                            "info": {"mimetype": "image/png", "size": 20_000, "w": 640, "h": 480}}


@pytest.mark.parametrize("name, content_type, msgtype", [
    ("invoice.pdf", "application/pdf", "m.file"), ("clip.mp4", "video/mp4", "m.video"),
    ("memo.mp3", "audio/mpeg", "m.audio"), ("logo.svg", "image/svg+xml", "m.file"),
])
def test_a_file_without_text_is_named_by_its_body(api, name, content_type, msgtype):
    done = Uploaded(MXC, FileInfo(name, 1234, content_type, b"%PDF-1.7"), content_type)
    content = api.send_request("  ", [done], "k").json
    assert content == {"msgtype": msgtype, "body": name, "filename": name, "url": MXC,
                       "info": {"mimetype": content_type, "size": 1234}}


def test_the_txn_id_is_one_encoded_path_segment(api):
    assert api.send_request("x", [], "a/b?c").url.endswith("/send/m.room.message/a%2Fb%3Fc")


def test_send_refuses_what_matrix_cannot_carry(api):
    done = Uploaded(MXC, FileInfo("a.pdf", 1), "application/pdf")
    for files, text, key in (([done, done], "", "k"), ([], " ", "k"), ([], "x", "")):
        with pytest.raises(ValueError):
            api.send_request(text, files, key)


def test_the_send_answer_becomes_our_message_recognised_by_its_key(api):
    png = Uploaded(MXC, FileInfo("photo.png", 20_000, "image/png", PNG_HEAD), "image/png")
    request = api.send_request("The broken part", [png], "key-2")
    message = api.parse_message(resp(200, {"event_id": "$aRgiK2U"}), request)
    assert (message.id, message.sender, message.idempotency_key) == ("$aRgiK2U", ME, "key-2")
    assert (message.text, message.created_at) == ("The broken part", "2026-11-25T20:46:24Z")
    assert message.attachments[0].name == "photo.png" and message.attachments[0].url == DOWNLOAD


def test_sending_when_not_in_the_room(api):
    request = api.send_request("hi", [], "c1")
    err = problem_of(lambda: api.parse_message(resp(403, {
        "errcode": "M_FORBIDDEN", "error": f"User @customer:localhost not in room {ROOM}"}), request))
    assert err.code == "not_in_room"


# --------------------------------------------------------------------- uploads
def test_the_upload_is_one_post_of_the_whole_file_typed_by_content(api):
    info = FileInfo("scan 1.bin", 20_000, "", PNG_HEAD)  # the name says nothing; the bytes say PNG
    request = api.upload_request(info)
    assert (request.method, path(request), query(request)) == ("POST", "/_matrix/media/v3/upload",
                                                               {"filename": "scan 1.bin"})
    assert request.body == FileSlice(0, 20_000) and request.json is None
    assert request.headers["Content-Type"] == "image/png"
    done = api.parse_upload(resp(200, {"content_uri": MXC}), info)
    assert done == Uploaded(MXC, info, "image/png")


def test_an_upload_answer_without_an_mxc_uri_is_a_bad_response(api):
    info = FileInfo("a.pdf", 3)
    assert problem_of(lambda: api.parse_upload(resp(200, {"content_uri": "http://x/y"}), info)).code == "bad_response"


def test_too_large_for_the_homeserver_names_the_file_and_the_limit(api):
    api.parse_restrictions(resp(200, {"m.upload.size": 2_097_152}))
    big = FileInfo("movie.mp4", 120_000_000, "video/mp4")
    err = problem_of(lambda: api.parse_upload(resp(413, {"errcode": "M_TOO_LARGE",
                                                         "error": "Upload request body is too large"}), big))
    assert err.code == "too_large" and not err.retryable
    assert err.problem.message == "movie.mp4 is 120 MB; the homeserver accepts files up to 2.1 MB"
    fresh = MatrixConversation(HS, TOKEN, ROOM)
    err = problem_of(lambda: fresh.parse_upload(resp(413, {"errcode": "M_TOO_LARGE"}), big))
    assert err.problem.message == "movie.mp4 is larger than the homeserver accepts."


def test_the_single_uploader_shows_the_adapters_words_for_a_refusal(api):
    """The machine lets the adapter's parse_upload map an error answer, not the raw server text."""
    from app.backends.uploaders import SingleUploader
    from app.core.upload import Failed

    api.parse_restrictions(resp(200, {"m.upload.size": 2_097_152}))
    machine = SingleUploader(api).begin(FileInfo("movie.mp4", 120_000_000, "video/mp4"))
    machine.next()
    machine.feed(resp(413, {"errcode": "M_TOO_LARGE", "error": "Upload request body is too large"}))
    step = machine.next()
    assert isinstance(step, Failed) and not step.retryable
    assert step.problem.message == "movie.mp4 is 120 MB; the homeserver accepts files up to 2.1 MB"


# ---------------------------------------------------------------------- errors
def test_rate_limited_is_retryable_after_the_servers_wait(api):
    request = api.send_request("x", [], "h2")
    limited = resp(429, {"errcode": "M_LIMIT_EXCEEDED", "error": "Too Many Requests", "retry_after_ms": 999947},
                   headers={"Content-Type": "application/json", "Retry-After": "1000"})
    err = problem_of(lambda: api.parse_message(limited, request))
    assert (err.code, err.retryable, err.retry_after) == ("rate_limited", True, 1000.0)
    body_only = resp(429, {"errcode": "M_LIMIT_EXCEEDED", "retry_after_ms": 2500})
    assert problem_of(lambda: api.parse_message(body_only, request)).retry_after == 2.5


@pytest.mark.parametrize("answer, code, retryable", [
    (resp(0, text="TypeError: Failed to fetch"), "network", True),
    (resp(0, text=TIMED_OUT), "timeout", True),
    (resp(502, text="<html>Bad gateway</html>"), "server_error", True),
    (resp(500, {"errcode": "M_UNKNOWN", "error": "Internal server error"}), "server_error", True),
    (resp(400, {"errcode": "M_UNKNOWN", "error": "Invalid stream token"}), "bad_request", False),
    (resp(401, {"errcode": "M_MISSING_TOKEN", "error": "Missing access token"}), "unauthorized", False),
    (resp(403, {"errcode": "M_FORBIDDEN", "error": "You don't have permission to post"}), "forbidden", False),
    (resp(403, {"errcode": "M_RESOURCE_LIMIT_EXCEEDED", "error": "quota"}), "quota_exceeded", False),
    (resp(404, {"errcode": "M_UNRECOGNIZED", "error": "Unrecognized request"}), "unsupported_server", False),
])
def test_every_failure_reads_like_the_reference_backends(api, answer, code, retryable):
    err = problem_of(lambda: api.parse_sync(answer))
    assert (err.code, err.retryable) == (code, retryable)
    assert err.problem.message and err.problem.hint and "M_" not in err.problem.message


# ------------------------------------------------------------------------ live
def test_the_first_poll_returns_at_once_then_long_polls_from_since(api):
    first = api.poll_request()
    assert path(first) == "/_matrix/client/v3/sync"
    q = query(first)
    assert q["timeout"] == "0" and "since" not in q
    flt = json.loads(q["filter"])
    assert flt["room"]["rooms"] == [ROOM] and flt["presence"] == {"not_types": ["*"]}
    later = api.poll_request("s18_1_0_1_1_1_1_9_0_1_1_1_1_1")
    assert query(later)["since"] == "s18_1_0_1_1_1_1_9_0_1_1_1_1_1" and query(later)["timeout"] == "30000"
    assert query(later)["filter"] == q["filter"]


def sync_answer(events, *, limited=False, state=(), next_batch="s19_1") -> dict:
    return {"next_batch": next_batch, "device_one_time_keys_count": {"signed_curve25519": 0},
            "rooms": {"join": {ROOM: {"timeline": {"events": list(events), "prev_batch": "s18_1", "limited": limited},
                                      "state": {"events": list(state)}, "ephemeral": {"events": []}}}}}


def test_a_poll_brings_new_messages_and_where_to_continue(api):
    live = event({"body": "live!", "msgtype": "m.text"}, event_id="$live")
    messages, since = api.parse_poll(resp(200, sync_answer([live])))
    assert [m.text for m in messages] == ["live!"] and since == "s19_1"
    quiet = {"next_batch": "s19_1", "device_one_time_keys_count": {"signed_curve25519": 0}}
    assert api.parse_poll(resp(200, quiet)) == ([], "s19_1")


def test_after_a_network_fault_the_same_since_is_asked_again(api):
    request = api.poll_request("s19_1")
    err = problem_of(lambda: api.parse_poll(resp(0, text=TIMED_OUT)))
    assert err.retryable and api.poll_request("s19_1") == request


def test_edits_deletions_and_a_cut_timeline_come_with_the_batch(api):
    edit = event({"msgtype": "m.text", "body": "* fixed", "m.new_content": {"msgtype": "m.text", "body": "fixed"},
                  "m.relates_to": {"rel_type": "m.replace", "event_id": "$orig"}}, event_id="$e")
    redaction = event({"redacts": "$old"}, type="m.room.redaction", event_id="$r", redacts="$old")
    newcomer = event({"displayname": "Nadia", "membership": "join"}, type="m.room.member",
                     state_key="@nadia:localhost", event_id="$j")
    hello = event({"msgtype": "m.text", "body": "hi all"}, sender="@nadia:localhost", event_id="$hi")
    batch = api.parse_sync(resp(200, sync_answer([edit, redaction, newcomer, hello], limited=True)))
    assert [(m.id, m.text) for m in batch.edits] == [("$orig", "fixed")]
    assert batch.deleted == ("$old",) and batch.gap == "s18_1"
    assert [(m.id, m.sender_name) for m in batch.messages] == [("$hi", "Nadia")]


def test_our_own_echo_carries_our_key(api):
    mine = event({"msgtype": "m.text", "body": "hello"}, sender=ME, event_id="$mine",
                 unsigned={"transaction_id": "key-1"})
    (message,), _ = api.parse_poll(resp(200, sync_answer([mine])))
    assert message.idempotency_key == "key-1" and message.sender == ME


def test_being_removed_from_the_room_stops_the_poll_with_a_notice(api):
    answer = {"next_batch": "s20", "rooms": {"leave": {ROOM: {"timeline": {"events": []}}}}}
    assert problem_of(lambda: api.parse_poll(resp(200, answer))).code == "not_in_room"


# ----------------------------------------------------------------------- media
def test_media_is_fetched_with_the_token_and_raster_images_have_thumbnails(api):
    png = Attachment(MXC, "p.png", 79, "image/png", DOWNLOAD)
    assert api.media_needs_token
    assert api.media_request(png) == Request("GET", DOWNLOAD, {"Authorization": f"Bearer {TOKEN}"})
    thumb = api.thumbnail_request(png)
    assert path(thumb) == "/_matrix/client/v1/media/thumbnail/localhost/ZMzzOeAGTdoZoOjZtzFSxhKz"
    assert query(thumb) == {"width": "320", "height": "240", "method": "scale"}
    assert api.thumbnail_request(Attachment(MXC, "a.svg", 9, "image/svg+xml", DOWNLOAD)) is None
    assert api.thumbnail_request(Attachment(MXC, "a.pdf", 9, "application/pdf", DOWNLOAD)) is None


def test_the_token_only_goes_to_this_homeservers_media(api):
    for url in ("https://evil.example/_matrix/client/v1/media/download/localhost/x",
                HS + ".evil.example/_matrix/client/v1/media/download/localhost/x", HS + "/_matrix/client/v3/sync"):
        with pytest.raises(ValueError, match="not a media URL"):
            api.media_request(Attachment(MXC, "p.png", 1, "image/png", url))


def test_an_edit_applies_only_from_the_original_sender_and_keeps_its_time():
    from app.backends.matrix.pages import apply_edit, as_deleted
    original = Message("$a", 5, "@element:localhost", "helo", (), "2026-11-25T15:04:05Z", sender_name="Elena")
    edit = Message("$a", 9, "@element:localhost", "hello", (), "2026-11-25T16:00:00Z")
    assert apply_edit(original, edit) == Message("$a", 5, "@element:localhost", "hello", (), "2026-11-25T15:04:05Z",
                                                 sender_name="Elena")
    assert apply_edit(original, Message("$a", 9, "@customer:localhost", "hijacked", (), "x")) is None
    assert apply_edit(original, Message("$b", 9, "@element:localhost", "other", (), "x")) is None
    gone = as_deleted(original)
    assert (gone.kind, gone.text, gone.attachments, gone.created_at) == (
        "deleted", "This message was deleted.", (), original.created_at)
    assert apply_edit(gone, edit) is None  # a deleted message stays deleted


def test_a_token_handed_over_later_builds_the_adapter_without_identities():
    """Production: whatever fetched the token (token_url, the embedding page) puts it in the backend table."""
    backend = {"adapter": "matrix", "homeserver": HS, "room": ROOM, "token": TOKEN, "user_id": ME}
    api = MatrixConversation.from_config(backend, "agent")
    assert (api.user_id, api.history_request().headers["Authorization"]) == (ME, f"Bearer {TOKEN}")
    with pytest.raises(ValueError, match="needs the send_request"):
        api.parse_message(resp(200, {"event_id": "$x"}))
