"""Agent -> customer through the bridge: MCS upload, message create (checked by Prism), idempotency, errors."""
from __future__ import annotations

import base64
import secrets
import json

import httpx
import pytest

from server.blobs.folder import FolderBlobs
from server.blobs.protocol import StoredFile, media_key
from server.bridges.twilio.bridge import OutgoingFile, TwilioBridge
from server.http.api_error import ApiError
from tests.twilio.fake import sid, twilio_error
from tests.twilio.rig import KEY_SECRET, KEY_SID, participants

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(256)) * 40
BASIC = "Basic " + base64.b64encode(f"{KEY_SID}:{KEY_SECRET}".encode()).decode()


def png_file(tmp_path, size: int = len(PNG), name: str = "photo.png") -> OutgoingFile:
    """A stored file (in a --data folder's media/), as the bridge gets one from the server."""
    unique = PNG[:16] + secrets.token_bytes(16) + PNG[16:]   # tell this test's uploads from the others'
    data = (unique * (size // len(unique) + 1))[:size]
    blobs = FolderBlobs(tmp_path)
    (tmp_path / media_key(name)).write_bytes(data)
    return OutgoingFile(StoredFile(blobs, media_key(name)), name, "image/png", size)


def stored_bytes(tmp_path, f: OutgoingFile) -> bytes:
    return (tmp_path / media_key(f.name)).read_bytes()


async def test_send_uploads_to_mcs_then_creates_the_message(bridge, fake, tmp_path, contract):
    cid = fake.conversation(*participants("chat"))
    f = png_file(tmp_path)
    sent = await bridge.send(cid, "agent", "Here is the photo", [f], "key-1")

    [upload] = [r for r in fake.calls("POST", "/Media") if r.body == stored_bytes(tmp_path, f)]   # the session shares the fake
    assert upload.path == f"/v1/Services/{bridge.settings.chat_service_sid}/Media"
    assert upload.body == stored_bytes(tmp_path, f)
    assert upload.headers["content-type"] == "image/png"
    assert upload.headers["authorization"] == BASIC
    [create] = fake.calls("POST", f"/v1/Conversations/{cid}/Messages")
    form = create.form
    media_sid = fake.messages(cid)[0]["media"][0]["sid"]
    assert form["Author"] == "agent" and form["Body"] == "Here is the photo" and form["MediaSid"] == media_sid
    assert json.loads(form["Attributes"]) == {"attache": {"key": "key-1", "part": 0, "parts": 1}}
    assert create.headers["authorization"] == BASIC
    assert [p.message_sid for p in sent.parts] == [fake.messages(cid)[0]["sid"]]
    assert sent.parts[0].media_sid == media_sid and sent.parts[0].created_at.endswith("Z")


async def test_whatsapp_gets_text_and_file_as_two_messages(bridge, fake, tmp_path, contract):
    cid = fake.conversation(*participants("chat", "whatsapp"))
    sent = await bridge.send(cid, "agent", "Your invoice", [png_file(tmp_path)], "key-wa")
    first, second = fake.messages(cid)
    assert (first["body"], first["media"]) == ("Your invoice", None)
    assert second["body"] is None and second["media"][0]["content_type"] == "image/png"
    assert [p.part for p in sent.parts] == [0, 1]


async def test_text_only_message_makes_no_mcs_call(bridge, fake, contract):
    cid = fake.conversation(*participants("sms"))
    before = len(fake.calls("POST", "/Media"))
    await bridge.send(cid, "agent", "Hello", [], "key-text")
    assert len(fake.calls("POST", "/Media")) == before
    assert "MediaSid" not in fake.calls("POST", f"/{cid}/Messages")[0].form


async def test_retried_send_does_not_post_twice(bridge, fake, tmp_path, contract):
    cid = fake.conversation(*participants("chat"))
    f = png_file(tmp_path)
    first = await bridge.send(cid, "agent", "once", [f], "key-retry")
    again = await bridge.send(cid, "agent", "once", [f], "key-retry")
    assert again == first
    assert len(fake.messages(cid)) == 1 and len(fake.calls("POST", f"/{cid}/Messages")) == 1
    assert len([r for r in fake.calls("POST", "/Media") if r.body == stored_bytes(tmp_path, f)]) == 1


class LoseCreateAnswer(httpx.AsyncBaseTransport):
    """Delivers the message create to Twilio, then loses the answer (the connection 'times out')."""

    def __init__(self) -> None:
        self.inner, self.armed = httpx.AsyncHTTPTransport(), True

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if self.armed and request.method == "POST" and request.url.path.endswith("/Messages"):
            self.armed = False
            await response.aread()
            raise httpx.ReadTimeout("answer lost", request=request)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_retry_after_a_lost_answer_finds_the_message(settings, fake, tmp_path, contract):
    cid = fake.conversation(*participants("chat"))
    f = png_file(tmp_path)
    bridge = TwilioBridge(settings, _admin(), tmp_path / "l.sqlite3",
                          http=httpx.AsyncClient(transport=LoseCreateAnswer()))
    try:
        with pytest.raises(ApiError) as lost:
            await bridge.send(cid, "agent", "lost answer", [f], "key-lost")
        assert lost.value.status == 504 and lost.value.extra["retryable"] is True
        assert len(fake.messages(cid)) == 1          # it did reach Twilio
        sent = await bridge.send(cid, "agent", "lost answer", [f], "key-lost")
    finally:
        await bridge.aclose()
    assert len(fake.messages(cid)) == 1 and sent.parts[0].message_sid == fake.messages(cid)[0]["sid"]
    assert fake.calls("GET", f"/{cid}/Messages")[-1].query == {"Order": "desc", "PageSize": "50"}
    assert len([r for r in fake.calls("POST", "/Media") if r.body == stored_bytes(tmp_path, f)]) == 1


def _admin():
    from app.core.restrictions import Restrictions
    return Restrictions(25_000_000, ("image/*", ".pdf", ".txt"), 1)


@pytest.mark.parametrize("failure,status,code,retryable", [
    (twilio_error(429, 20429, "Too Many Requests"), 503, "twilio_rate_limited", True),
    (twilio_error(401, 20003, "Authenticate"), 502, "twilio_auth", False),
    (twilio_error(500, 20500, "Internal Server Error"), 502, "twilio_unavailable", True),
    (twilio_error(400, 21610, "Attempt to send to unsubscribed recipient"), 422, "twilio_refused", False),
])
async def test_twilio_errors_become_problems(bridge, fake, failure, status, code, retryable, contract):
    cid = fake.conversation(*participants("sms"))
    fake.fail_next.append((f"/{cid}/Messages", failure))
    with pytest.raises(ApiError) as caught:
        await bridge.send(cid, "agent", "hi", [], f"key-{code}")
    assert (caught.value.status, caught.value.code, caught.value.extra["retryable"]) == (status, code, retryable)
    assert "twilio.com" not in caught.value.message + caught.value.hint


async def test_a_definite_refusal_lets_the_retry_post(bridge, fake, contract):
    cid = fake.conversation(*participants("sms"))
    fake.fail_next.append((f"/{cid}/Messages", twilio_error(429, 20429, "Too Many Requests")))
    with pytest.raises(ApiError):
        await bridge.send(cid, "agent", "later", [], "key-429")
    # 429 is definite (nothing created), unlike a lost answer: the retry posts without reading back.
    await bridge.send(cid, "agent", "later", [], "key-429")
    assert len(fake.messages(cid)) == 1 and fake.calls("GET", f"/{cid}/Messages") == []


async def test_unknown_conversation_is_not_found(bridge, fake, contract):
    with pytest.raises(ApiError) as caught:
        await bridge.send(sid("CH"), "agent", "hi", [], "key-404")
    assert (caught.value.status, caught.value.code, caught.value.extra["retryable"]) == \
        (404, "conversation_not_found", False)


async def test_malformed_conversation_id_never_reaches_twilio(bridge, fake, contract):
    before = len(fake.requests)
    with pytest.raises(ApiError) as caught:
        await bridge.send("../../Services", "agent", "hi", [], "key-bad")
    assert caught.value.status == 404 and len(fake.requests) == before


async def test_media_too_large_at_mcs_is_50512(bridge, fake, tmp_path, contract):
    cid = fake.conversation(*participants("chat"))
    fake.fail_next.append(("/Media", twilio_error(413, 50512, "Media too large")))
    with pytest.raises(ApiError) as caught:
        await bridge.send(cid, "agent", "", [png_file(tmp_path)], "key-big")
    assert (caught.value.status, caught.value.code, caught.value.extra) == \
        (413, "too_large", {"retryable": False, "twilio_code": 50512})
    assert fake.messages(cid) == []


async def test_file_over_the_channel_limit_is_refused_before_upload(bridge, fake, tmp_path, contract):
    cid = fake.conversation(*participants("sms"))
    before = len(fake.calls("POST", "/Media"))
    with pytest.raises(ApiError) as caught:
        await bridge.send(cid, "agent", "", [png_file(tmp_path, 6_000_000)], "key-sms-big")
    assert caught.value.code == "too_large"
    assert caught.value.message == "photo.png is 6.0 MB; SMS/MMS accepts files up to 5 MB"
    assert len(fake.calls("POST", "/Media")) == before


async def test_wrong_api_key_secret_is_an_auth_problem(settings, fake, tmp_path, contract):
    import dataclasses
    from server.config.twilio_config import Secret
    wrong = dataclasses.replace(settings, api_key_secret=Secret("not-the-secret"))
    bridge = TwilioBridge(wrong, _admin(), tmp_path / "w.sqlite3")
    try:
        with pytest.raises(ApiError) as caught:
            await bridge.send(fake.conversation(*participants("chat")), "agent", "hi", [], "key-auth")
    finally:
        await bridge.aclose()
    assert (caught.value.code, caught.value.extra["retryable"]) == ("twilio_auth", False)


async def test_prism_refuses_what_breaks_the_contract(prism, contract, http_probe):
    """The guard itself can fail: a malformed MediaSid never reaches the stand-in."""
    contract.expected = True
    r = http_probe.post(f"{prism.url}/v1/Conversations/{sid('CH')}/Messages", auth=(KEY_SID, KEY_SECRET),
                        data={"Author": "agent", "MediaSid": "ME-not-a-sid"})
    assert r.status_code == 422
    assert contract.failures(), "Prism logged no contract failure"


async def test_prism_checks_the_stand_ins_answers_too(bridge, fake, contract):
    """An answer that breaks Twilio's schema is caught: the stand-in cannot drift from the contract."""
    from starlette.responses import JSONResponse
    contract.expected = True
    cid = fake.conversation(*participants("sms"))
    fake.fail_next.append((f"/{cid}/Messages", JSONResponse({"sid": "IM-not-a-sid", "index": "first"}, 201)))
    with pytest.raises(ApiError):
        await bridge.send(cid, "agent", "hi", [], "key-drift")
    assert any("VIOLATIONS" in f for f in contract.failures())


async def test_credentials_only_go_to_the_configured_host(bridge):
    http = bridge.client.http_client
    assert http.target("https://conversations.twilio.com/v1/Conversations/CH1/Participants?Page=1") == \
        f"{bridge.settings.api_base_url}/v1/Conversations/CH1/Participants?Page=1"
    for elsewhere in ("https://evil.example/v1/Conversations", "https://conversations.twilio.com.evil.example/v1",
                      bridge.settings.api_base_url + ".evil.example/v1"):
        with pytest.raises(ValueError):
            http.target(elsewhere)
