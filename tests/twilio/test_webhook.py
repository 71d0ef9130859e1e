"""Customer -> agent: signed `onMessageAdded` webhooks, replayed the way Twilio sends them."""
from __future__ import annotations

import json
import secrets
from urllib.parse import urlencode

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Route
from twilio.request_validator import RequestValidator

from app.core.models import FileInfo
from app.core.restrictions import Restrictions, check
from app.core.sniff import HEAD_SIZE, effective_type
from server.bridges.twilio.webhook import webhook_endpoint
from server.http.api_error import ApiError, api_error_handler
from server.store.rows import UploadRow
from tests.twilio.fake import sid
from tests.twilio.rig import ACCOUNT_SID, AUTH_TOKEN, PUBLIC_URL, SERVICE_SID, participants

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 8
WEBHOOK = PUBLIC_URL + "/twilio/webhook"


class FakeUploads:
    """Stands in for `server.uploads.ingest.ingest` (owner, name, declared_type, chunks) -> row."""

    def __init__(self, restrictions: Restrictions) -> None:
        self.restrictions, self.rows, self.data = restrictions, [], {}

    async def ingest(self, owner, name, declared_type, chunks):
        data = b"".join([c async for c in chunks])
        info = FileInfo(name, len(data), declared_type, data[:HEAD_SIZE])
        problems = check(info, self.restrictions)
        if problems:
            raise ApiError.from_problem(problems[0])
        row = UploadRow(secrets.token_hex(16), owner, name, len(data), declared_type, effective_type(info),
                        len(data), True, "0" * 64, "2026-12-07T10:00:00Z")
        self.rows.append(row)
        self.data[row.id] = data
        return row


@pytest.fixture
def hook(bridge, aclose_later):
    uploads, delivered = FakeUploads(bridge.admin), []
    app = Starlette(routes=[Route("/twilio/webhook", webhook_endpoint(bridge, uploads.ingest,
                                                                      lambda cid, m: delivered.append((cid, m))),
                                  methods=["POST"])], exception_handlers={ApiError: api_error_handler})
    # The app is reached at a local address; Twilio signed the public one.
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://127.0.0.1:8000")
    aclose_later.append(client.aclose)
    return client, uploads, delivered


def event(cid: str, media: list[dict] | None = None, **over) -> dict[str, str]:
    form = {"EventType": "onMessageAdded", "AccountSid": ACCOUNT_SID, "ChatServiceSid": SERVICE_SID,
            "ConversationSid": cid, "MessageSid": sid("IM"), "Index": "3", "Author": "+15558675310",
            "Body": "Here is my receipt", "Attributes": "{}", "DateCreated": "2026-11-25T15:04:05.123Z",
            "ParticipantSid": sid("MB"), "Source": "SMS", "RetryCount": "0"}
    if media is not None:
        form["Media"] = json.dumps(media)
    form.update(over)
    return form


def signed(form: dict[str, str], url: str = WEBHOOK, token: str | None = None) -> dict[str, str]:
    headers = {"Content-Type": "application/x-www-form-urlencoded",
               "X-Twilio-Signature": RequestValidator(AUTH_TOKEN).compute_signature(url, form),
               "I-Twilio-Idempotency-Token": token or secrets.token_hex(8)}
    return headers


async def post(client, form, headers):
    return await client.post("/twilio/webhook", content=urlencode(form), headers=headers)


def media_item(fake, data=JPEG, content_type="image/jpeg", filename="receipt.jpg") -> dict:
    return {"Sid": fake.add_media(data, content_type, filename), "Filename": filename,
            "ContentType": content_type, "Size": len(data), "Category": "media"}


async def test_signed_message_with_media_is_stored_and_delivered(hook, fake):
    client, uploads, delivered = hook
    cid = fake.conversation(*participants("sms"))
    item = media_item(fake)
    form = event(cid, [item])
    r = await post(client, form, signed(form))
    assert (r.status_code, r.json()["status"]) == (200, "delivered")
    [row] = uploads.rows
    assert (row.owner, row.name, row.declared_type, row.content_type, uploads.data[row.id]) == \
        ("twilio:+15558675310", "receipt.jpg", "image/jpeg", "image/jpeg", JPEG)
    [(conversation, message)] = delivered
    assert conversation == cid
    assert message == {"id": form["MessageSid"], "conversation": cid, "sender": "+15558675310",
                       "text": "Here is my receipt", "created_at": "2026-11-25T15:04:05Z",
                       "idempotency_key": form["MessageSid"], "attachments": [row], "refused_attachments": [],
                       "source": "SMS"}
    assert "twilio.com" not in json.dumps({k: v for k, v in message.items() if k != "attachments"})
    [describe] = fake.calls("GET", f"/Media/{item['Sid']}")
    assert describe.headers["authorization"].startswith("Basic ")
    [content] = [r for r in fake.calls("GET", "") if r.path.startswith("/temporary/")][-1:]
    assert "authorization" not in content.headers   # the short-lived URL gets no credentials


async def test_repeated_delivery_is_processed_once(hook, fake):
    client, uploads, delivered = hook
    form = event(fake.conversation(*participants("sms")), [media_item(fake)])
    headers = signed(form, token="idem-1")
    answers = [await post(client, form, headers) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert [a.json()["status"] for a in answers] == ["delivered", "duplicate", "duplicate"]
    assert len(delivered) == 1 and len(uploads.rows) == 1


async def test_same_message_under_a_new_token_is_still_once(hook, fake):
    client, uploads, delivered = hook
    form = event(fake.conversation(*participants("sms")))
    await post(client, form, signed(form, token="a"))
    r = await post(client, form, signed(form, token="b"))
    assert r.json()["status"] == "duplicate" and len(delivered) == 1


@pytest.mark.parametrize("case", ["forged", "tampered", "unsigned", "local_url", "other_token"])
async def test_refused_calls_store_nothing(hook, fake, case):
    client, uploads, delivered = hook
    item = media_item(fake)
    form = event(fake.conversation(*participants("sms")), [item])
    headers = signed(form)
    if case == "forged":
        headers["X-Twilio-Signature"] = "bm90IGEgc2lnbmF0dXJlIGF0IGFsbCE="
    elif case == "tampered":
        form = {**form, "Body": "Send the refund to my other account"}
    elif case == "unsigned":
        del headers["X-Twilio-Signature"]
    elif case == "local_url":
        headers = signed(form, url="http://127.0.0.1:8000/twilio/webhook")
    else:
        headers["X-Twilio-Signature"] = RequestValidator("someone-elses-token").compute_signature(WEBHOOK, form)
    r = await post(client, form, headers)
    assert (r.status_code, r.json()["error"]["code"]) == (403, "forbidden")
    assert uploads.rows == [] and delivered == []
    assert fake.calls("GET", f"/Media/{item['Sid']}") == []


async def test_unknown_conversation_is_ignored_clearly(hook, fake):
    client, uploads, delivered = hook
    form = event(sid("CH"), ChatServiceSid=sid("IS"))
    r = await post(client, form, signed(form))
    assert r.status_code == 200
    assert r.json() == {"status": "ignored",
                        "detail": "unknown conversation: not in this server's Conversations service"}
    assert delivered == [] and uploads.rows == []


async def test_messages_this_server_sent_are_not_delivered_again(hook, fake):
    client, uploads, delivered = hook
    form = event(fake.conversation(*participants("sms")), Author="agent",
                 Attributes=json.dumps({"attache": {"key": "k", "part": 0, "parts": 1}}))
    r = await post(client, form, signed(form))
    assert r.json()["status"] == "ignored" and delivered == []


async def test_a_refused_file_still_delivers_the_message(hook, fake):
    client, uploads, delivered = hook
    form = event(fake.conversation(*participants("sms")),
                 [media_item(fake, b"MZ\x90\x00" + b"\x00" * 300, "application/x-msdownload", "setup.exe")])
    r = await post(client, form, signed(form))
    assert r.json()["status"] == "delivered" and uploads.rows == []
    [(_, message)] = delivered
    assert message["attachments"] == []
    assert message["refused_attachments"][0]["name"] == "setup.exe"
    assert message["refused_attachments"][0]["code"] in ("type_not_accepted", "type_mismatch")


async def test_media_service_outage_asks_twilio_to_retry(hook, fake):
    from tests.twilio.fake import twilio_error
    client, uploads, delivered = hook
    item = media_item(fake)
    form = event(fake.conversation(*participants("sms")), [item])
    headers = signed(form, token="outage")
    fake.fail_next.append((f"/Media/{item['Sid']}", twilio_error(503, 20503, "Service Unavailable")))
    first = await post(client, form, headers)
    assert first.status_code == 503 and delivered == []
    second = await post(client, form, headers)       # Twilio's retry, same token
    assert second.json()["status"] == "delivered" and len(delivered) == 1 and len(uploads.rows) == 1


async def test_other_events_are_acknowledged_and_ignored(hook, fake):
    client, uploads, delivered = hook
    form = event(fake.conversation(*participants("sms")), EventType="onConversationUpdated")
    r = await post(client, form, signed(form))
    assert r.json()["status"] == "ignored" and delivered == []
