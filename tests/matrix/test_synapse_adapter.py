"""The Matrix adapter against a real Synapse: every request it builds is performed over HTTP.

The room is shared by the session's tests; each test finds its own messages by
unique text or key, so the order tests run in does not matter.
"""
from __future__ import annotations

import struct
import uuid
import zlib

import pytest

from app.backends.matrix import MatrixConversation, SyncBatch
from app.core.errors import BackendError
from app.core.http import Request
from app.core.models import FileInfo, Message
from app.core.restrictions import Restrictions
from tools.services.process import free_port
from tools.services.synapse import ELEMENT_NAME, MAX_UPLOAD_SIZE
from tests.matrix.transport import Transport

RULES = Restrictions(25_000_000, ("image/*", ".pdf", ".txt"))
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n" \
      b"trailer<</Root 1 0 R>>\n%%EOF\n"


def png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\0" + bytes((x * 7 + y) % 256 for x in range(width * 3)) for y in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


@pytest.fixture
def transport():
    t = Transport()
    yield t
    t.close()


def adapter(hs, name: str, room: str = "", token: str = "") -> MatrixConversation:
    user = hs.users[name]
    return MatrixConversation(hs.url, token or user.token, room or hs.room_id, restrictions=RULES,
                              user_id=user.user_id)


def send_file(api, t, name: str, data: bytes, declared: str, text: str, key: str) -> Message:
    info = FileInfo(name, len(data), declared, data[:4096])
    done = api.parse_upload(t.perform(api.upload_request(info), data), info)
    request = api.send_request(text, [done], key)
    return api.parse_message(t.perform(request), request)


def send_text(api, t, text: str, key: str | None = None) -> Message:
    request = api.send_request(text, [], key or uuid.uuid4().hex)
    return api.parse_message(t.perform(request), request)


def whole_history(api, t, limit: int = 2) -> tuple[list[Message], int]:
    """Every page back to the room's creation; the messages oldest first and the page count."""
    pages, token = [], None
    for _ in range(500):
        page = api.parse_history(t.perform(api.history_request(token, limit=limit)))
        pages.append(page)
        if page.older is None:
            return [m for p in reversed(pages) for m in p.messages], len(pages)
        token = page.older
    raise AssertionError("history never reached the beginning of the room")


def poll_until(api, t, since: str, wanted, polls: int = 10) -> tuple[SyncBatch, str]:
    """Long-poll until ``wanted(batch)``; every batch seen is merged into the one returned."""
    seen: list = [[], [], []]
    for _ in range(polls):
        batch = api.parse_sync(t.perform(api.poll_request(since, timeout_ms=5000)))
        since = batch.next_since
        for bucket, items in zip(seen, (batch.messages, batch.edits, batch.deleted)):
            bucket.extend(items)
        merged = SyncBatch(tuple(seen[0]), since, tuple(seen[1]), tuple(seen[2]))
        if wanted(merged):
            return merged, since
    raise AssertionError(f"not seen after {polls} polls: {seen}")


def first_since(api, t) -> str:
    return api.parse_sync(t.perform(api.poll_request())).next_since


# ------------------------------------------------------------------------------------------
def test_an_alias_resolves_to_the_room_and_whoami_names_us(homeserver, transport):
    api = MatrixConversation(homeserver.url, homeserver.users["agent"].token, homeserver.alias)
    while (request := api.setup_request()) is not None:
        api.parse_setup(transport.perform(request))
    assert (api.room_id, api.user_id) == (homeserver.room_id, "@agent:localhost")
    assert ":" not in homeserver.room_id  # room version 12


def test_restrictions_are_the_stricter_of_synapse_and_the_administrator(homeserver, transport):
    api = adapter(homeserver, "agent")
    rules = api.parse_restrictions(transport.perform(api.restrictions_request()))
    assert rules == Restrictions(MAX_UPLOAD_SIZE, RULES.accepted_types, 1)


def test_files_sent_with_and_without_caption_come_back_through_history(homeserver, transport):
    api, tag = adapter(homeserver, "agent"), uuid.uuid4().hex[:8]
    image = png(64, 48)
    sent_png = send_file(api, transport, f"photo-{tag}.png", image, "image/png", f"The broken part {tag}", f"png-{tag}")
    sent_pdf = send_file(api, transport, f"invoice-{tag}.pdf", PDF, "application/pdf", "", f"pdf-{tag}")
    sent_text = send_text(api, transport, f"Anything else? {tag}", f"txt-{tag}")

    with homeserver.server.client(homeserver.users["agent"]) as raw:  # what other clients read
        stored = raw.get(f"/_matrix/client/v3/rooms/{homeserver.room_id}/event/{sent_png.id}").json()["content"]
    assert stored == {"msgtype": "m.image", "body": f"The broken part {tag}", "filename": f"photo-{tag}.png",
                      "url": sent_png.attachments[0].id,
                      "info": {"mimetype": "image/png", "size": len(image), "w": 64, "h": 48}}

    history, pages = whole_history(api, transport, limit=2)
    assert pages > 2
    mine = [m for m in history if tag in m.text or any(tag in a.name for a in m.attachments)]
    assert [m.id for m in mine] == [sent_png.id, sent_pdf.id, sent_text.id]
    photo, invoice, text = mine
    assert (photo.text, photo.idempotency_key, photo.sender) == (f"The broken part {tag}", f"png-{tag}", api.user_id)
    assert (photo.attachments[0].name, photo.attachments[0].size, photo.attachments[0].content_type) == (
        f"photo-{tag}.png", len(image), "image/png")
    assert invoice.text == "" and invoice.attachments[0].content_type == "application/pdf"
    assert text.text == f"Anything else? {tag}" and not text.attachments
    assert transport.download(api.media_request(invoice.attachments[0])).content == PDF
    thumb = transport.download(api.thumbnail_request(photo.attachments[0]))
    assert thumb.status_code == 200 and thumb.headers["content-type"].startswith("image/")


def test_a_plain_client_api_post_without_filename_appears_through_sync(homeserver, transport):
    api, tag = adapter(homeserver, "agent"), uuid.uuid4().hex[:8]
    since = first_since(api, transport)
    image = png(12, 9)
    with homeserver.server.client(homeserver.users["element"]) as element:  # as Element sends images
        uri = element.post("/_matrix/media/v3/upload", params={"filename": f"cat-{tag}.png"}, content=image,
                           headers={"Content-Type": "image/png"}).json()["content_uri"]
        element.put(f"/_matrix/client/v3/rooms/{homeserver.room_id}/send/m.room.message/{tag}", json={
            "msgtype": "m.image", "body": f"cat-{tag}.png", "url": uri,
            "info": {"mimetype": "image/png", "size": len(image), "w": 12, "h": 9}}).raise_for_status()
    mine = lambda b: [m for m in b.messages if m.attachments and m.attachments[0].id == uri]  # noqa: E731
    batch, _ = poll_until(api, transport, since, mine)  # other tests' events may come too (Synapse caches syncs)
    (message,) = mine(batch)
    assert (message.sender, message.sender_name, message.text, message.idempotency_key) == (
        "@element:localhost", ELEMENT_NAME, "", "")
    attachment = message.attachments[0]
    assert (attachment.id, attachment.name, attachment.size, attachment.content_type) == (
        uri, f"cat-{tag}.png", len(image), "image/png")
    assert transport.download(api.media_request(attachment)).content == image


def test_live_updates_resume_from_next_batch_after_a_network_fault(homeserver, transport):
    api = adapter(homeserver, "agent")
    since = first_since(api, transport)
    customer = adapter(homeserver, "customer")
    words = [f"while you were away {uuid.uuid4().hex[:6]}" for _ in range(2)]
    for word in words:
        send_text(customer, transport, word)
    request = api.poll_request(since)
    dead = Request(request.method, request.url.replace(f":{homeserver.server.port}/", f":{free_port()}/"),
                   request.headers)
    with pytest.raises(BackendError) as fault:
        api.parse_poll(transport.perform(dead))
    assert fault.value.retryable and fault.value.code == "network"
    batch, _ = poll_until(api, transport, since, lambda b: {m.text for m in b.messages} >= set(words))
    assert [m.text for m in batch.messages if m.text in words] == words


def test_edits_and_deletions_from_another_client_arrive_live(homeserver, transport):
    api, element = adapter(homeserver, "agent"), adapter(homeserver, "element")
    since = first_since(api, transport)
    typo, doomed = send_text(element, transport, "teh answer"), send_text(element, transport, "oops")
    with homeserver.server.client(homeserver.users["element"]) as raw:
        raw.put(f"/_matrix/client/v3/rooms/{homeserver.room_id}/send/m.room.message/{uuid.uuid4().hex}", json={
            "msgtype": "m.text", "body": "* the answer", "m.new_content": {"msgtype": "m.text", "body": "the answer"},
            "m.relates_to": {"rel_type": "m.replace", "event_id": typo.id}}).raise_for_status()
        raw.put(f"/_matrix/client/v3/rooms/{homeserver.room_id}/redact/{doomed.id}/{uuid.uuid4().hex}",
                json={}).raise_for_status()
    batch, _ = poll_until(api, transport, since, lambda b: typo.id in {m.id for m in b.edits} and doomed.id in b.deleted)
    assert [(m.id, m.text) for m in batch.edits if m.id == typo.id] == [(typo.id, "the answer")]
    assert batch.deleted.count(doomed.id) == 1
    history, _ = whole_history(api, transport, limit=50)
    shown = {m.id: m for m in history}
    assert shown[typo.id].text == "the answer" and shown[doomed.id].kind == "deleted"
    fresh = adapter(homeserver, "agent")  # names come with the page (lazy-loaded members)
    page = fresh.parse_history(transport.perform(fresh.history_request(limit=5)))
    assert {m.sender_name for m in page.messages if m.sender == "@element:localhost"} == {ELEMENT_NAME}


def test_resending_the_same_txn_id_yields_one_event(homeserver, transport):
    api, key = adapter(homeserver, "agent"), uuid.uuid4().hex
    first = send_text(api, transport, "only once", key)
    again = send_text(api, transport, "only once", key)  # the answer to the first was "lost"
    assert again.id == first.id
    page = api.parse_history(transport.perform(api.history_request(limit=20)))
    assert [m.id for m in page.messages if m.idempotency_key == key] == [first.id]


def test_too_large_for_synapse_is_the_size_problem(homeserver, transport):
    api = adapter(homeserver, "agent")
    api.parse_restrictions(transport.perform(api.restrictions_request()))
    data = b"\0" * 3_000_000
    info = FileInfo("backup.bin", len(data), "application/octet-stream", data[:4096])
    with pytest.raises(BackendError) as refused:
        api.parse_upload(transport.perform(api.upload_request(info), data), info)
    assert (refused.value.code, refused.value.retryable) == ("too_large", False)
    assert refused.value.problem.message == "backup.bin is 3.0 MB; the homeserver accepts files up to 2.1 MB"


def test_a_revoked_token_is_unauthorized_and_not_retried(homeserver, transport):
    user = homeserver.server.login("agent", device="SOON_REVOKED")
    with homeserver.server.client(user) as device:
        device.post("/_matrix/client/v3/logout").raise_for_status()
    api = adapter(homeserver, "agent", token=user.token)
    for parse, request in ((api.parse_restrictions, api.restrictions_request()),
                           (lambda r: api.parse_poll(r), api.poll_request())):
        with pytest.raises(BackendError) as refused:
            parse(transport.perform(request))
        assert (refused.value.code, refused.value.retryable, refused.value.status) == ("unauthorized", False, 401)
        assert "M_UNKNOWN_TOKEN" in refused.value.detail


def test_sending_too_fast_is_rate_limited_with_a_wait(homeserver, transport):
    api = adapter(homeserver, "hasty")
    with pytest.raises(BackendError) as limited:
        for _ in range(10):
            send_text(api, transport, "hurry")
    assert (limited.value.code, limited.value.retryable) == ("rate_limited", True)
    assert limited.value.retry_after and limited.value.retry_after > 0


def test_someone_not_in_the_room_gets_a_clear_problem(homeserver, transport):
    api = adapter(homeserver, "admin")
    for call in (lambda: api.parse_history(transport.perform(api.history_request())),
                 lambda: send_text(api, transport, "let me in")):
        with pytest.raises(BackendError) as refused:
            call()
        assert refused.value.code == "not_in_room" and not refused.value.retryable
