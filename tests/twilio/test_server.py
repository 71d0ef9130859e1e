"""The bridge wired into `python -m server` (kind = "twilio"): config, restrictions, send, webhook, errors.

A real server process talks to Twilio's contract (Prism) and the MCS stand-in;
the tests talk to it as the agent's page does (tus, then POST), and as Twilio
does (signed webhooks). Every answer the page could see is checked for
Twilio's secrets and hosts.
"""
from __future__ import annotations

import base64
import json
import secrets
import uuid
from urllib.parse import urlencode

import httpx
import pytest

from app.backends.reference import ReferenceApi
from app.core.errors import error_from_response
from app.core.http import Response
from app.core.restrictions import Restrictions
from server.config.config_error import ConfigError
from server.config.config_file import load_config
from tools.services.attache import AGENT_TOKEN
from tests.e2e.api import Api
from tests.server.conftest import lines, read_events
from tests.twilio.rig import (ACCOUNT_SID, AUTH_TOKEN, KEY_SECRET, KEY_SID, SERVICE_SID, participants,
                              write_twilio_config)
from tests.twilio.fake import twilio_error
from tests.twilio.test_webhook import JPEG, event, media_item, signed

AGENT = {"Authorization": f"Bearer {AGENT_TOKEN}"}
BASIC = "Basic " + base64.b64encode(f"{KEY_SID}:{KEY_SECRET}".encode()).decode()
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 40


def png(size: int = len(PNG)) -> bytes:
    unique = PNG[:16] + secrets.token_bytes(16) + PNG[16:]     # this test's bytes, not another's
    return (unique * (size // len(unique) + 1))[:size]


@pytest.fixture
def shown(prism, fake):
    """shown(response) -> response, once it carries nothing of Twilio's: secrets, account SIDs, hosts."""
    hidden = [KEY_SECRET, AUTH_TOKEN, ACCOUNT_SID, KEY_SID, SERVICE_SID, "twilio.com", prism.url.split("//")[1],
              fake.mcs_url.split("//")[1], fake.conversations_url.split("//")[1], *fake.media]

    def check(response: httpx.Response) -> httpx.Response:
        text = response.text + json.dumps(dict(response.headers))
        leaked = [h for h in hidden if h in text]
        assert leaked == [], f"{response.request.url.path} shows {leaked}"
        return response
    return check


@pytest.fixture
def agent(twilio_server):
    with twilio_server.client(AGENT, timeout=30) as client:
        yield client


def send(agent, cid: str, text: str = "", ids: tuple[str, ...] = (), key: str | None = None) -> httpx.Response:
    return agent.post(f"/api/conversations/{cid}/messages",
                      json={"idempotency_key": key or uuid.uuid4().hex, "text": text, "attachments": list(ids)})


def upload(twilio_server, name: str, data: bytes, content_type: str) -> str:
    return Api(twilio_server.url, "agent").upload(name, data, content_type)


# -- configuration -----------------------------------------------------------------

def test_the_config_chooses_the_twilio_kind(tmp_path):
    config = load_config(write_twilio_config(tmp_path, "http://127.0.0.1:9", "http://127.0.0.1:9"))
    assert (config.backend, config.twilio.chat_service_sid, config.twilio.webhook_url) == \
        ("twilio", SERVICE_SID, "https://attache.example.com/twilio/webhook")
    assert KEY_SECRET not in repr(config) and AUTH_TOKEN not in repr(config)
    default = load_config(None)
    assert (default.backend, default.twilio) == ("reference", None)


@pytest.mark.parametrize("text,message", [
    ('[backend]\nkind = "slack"\n', "kind must be one of 'reference', 'twilio', 'matrix', not 'slack'"),
    ('[twilio]\naccount_sid = "AC"\n', 'a [twilio] table is only used with [backend] kind = "twilio"'),
    ('[backend]\nkind = "twilio"\n', "needs a [twilio] table"),
])
def test_backend_config_errors_say_what_to_fix(tmp_path, text, message):
    path = tmp_path / "attache.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match="attache.toml") as caught:
        load_config(path)
    assert message in str(caught.value)


def test_the_banner_says_which_webhook_to_set_and_no_secret(twilio_server):
    printed = twilio_server.output()
    assert "set the service's Post-Event URL to https://attache.example.com/twilio/webhook" in printed
    assert SERVICE_SID in printed and KEY_SECRET not in printed and AUTH_TOKEN not in printed


def test_the_page_config_and_public_answers_show_nothing_of_twilio(twilio_server, shown):
    with twilio_server.client() as anyone:
        config = shown(anyone.get("/attache-config.json")).json()
        for path in ("/", "/api/restrictions", "/api/openapi.json"):
            shown(anyone.get(path))
    assert (config["backend"]["adapter"], config["backend"]["base_url"]) == ("reference", "")


# -- restrictions per conversation -------------------------------------------------

@pytest.mark.parametrize("channels,expected", [
    (("chat",), {"max_file_size": 25_000_000, "accepted_types": ["image/*", ".pdf", ".txt", ".docx"],
                 "channel": "web chat", "limit": "web chat: files up to 150 MB"}),
    (("chat", "sms"), {"max_file_size": 5_000_000, "accepted_types": ["image/jpeg", "image/png", "application/pdf"],
                       "channel": "SMS/MMS", "limit": "SMS/MMS: files up to 5 MB", "max_text_length": 1600}),
    (("whatsapp",), {"max_file_size": 16_000_000, "accepted_types": ["image/jpeg", "image/png", "application/pdf"],
                     "type_limits": [{"types": "image/*", "max_file_size": 5_000_000}], "channel": "WhatsApp",
                     "limit": "WhatsApp: files up to 16 MB (images up to 5 MB)", "max_text_length": 1600}),
])
def test_a_conversation_gets_its_channel_rules(agent, fake, shown, contract, channels, expected):
    cid = fake.conversation(*participants(*channels))
    r = shown(agent.get(f"/api/conversations/{cid}/restrictions"))
    assert r.status_code == 200 and r.json() == {"max_files_per_message": 1, **expected}
    # ... which the page's adapter reads into the rules its composer judges by
    page = ReferenceApi("", AGENT_TOKEN, cid).parse_restrictions(Response(200, dict(r.headers), r.text))
    assert page == Restrictions.from_json({k: v for k, v in expected.items() if k != "limit"}
                                          | {"max_files_per_message": 1})


def test_restrictions_ask_twilio_only_for_a_signed_in_member(twilio_server, agent, fake, shown):
    cid = fake.conversation(*participants("sms"))
    with twilio_server.client() as anyone:
        assert shown(anyone.get(f"/api/conversations/{cid}/restrictions")).status_code == 401
    r = shown(agent.get("/api/conversations/not-a-twilio-id/restrictions"))
    assert (r.status_code, r.json()["error"]["code"]) == (404, "conversation_not_found")
    assert fake.calls("GET", f"/{cid}/Participants") == []


def test_the_reference_kind_serves_the_route_too(reference_server):
    with reference_server.client(AGENT) as c:
        assert c.get("/api/conversations/room/restrictions").json() == c.get("/api/restrictions").json()


# -- agent -> customer -------------------------------------------------------------

def test_the_agents_file_reaches_twilio_once(twilio_server, agent, fake, shown, contract):
    cid = fake.conversation(*participants("chat"))
    data = png()
    upload_id = upload(twilio_server, "photo.png", data, "image/png")
    first = shown(send(agent, cid, "Here is the photo", (upload_id,), key="key-photo"))
    assert first.status_code == 201, first.text
    [to_mcs] = [r for r in fake.calls("POST", "/Media") if r.body == data]
    assert (to_mcs.path, to_mcs.headers["content-type"], to_mcs.headers["authorization"]) == \
        (f"/v1/Services/{SERVICE_SID}/Media", "image/png", BASIC)
    [create] = fake.calls("POST", f"/v1/Conversations/{cid}/Messages")
    [created] = fake.messages(cid)
    assert create.form["Author"] == "Agent" and create.form["Body"] == "Here is the photo"
    assert create.form["MediaSid"] == created["media"][0]["sid"]
    assert json.loads(create.form["Attributes"]) == {"attache": {"key": "key-photo", "part": 0, "parts": 1}}
    message = first.json()
    assert (message["sender"], message["text"], message["attachments"][0]["name"]) == \
        ("agent", "Here is the photo", "photo.png")
    assert agent.get(message["attachments"][0]["url"]).content == data
    # the page retries after losing our answer: the same message, and nothing more reaches Twilio
    again = shown(send(agent, cid, "Here is the photo", (upload_id,), key="key-photo"))
    assert (again.status_code, again.json()["id"]) == (200, message["id"])
    assert len(fake.calls("POST", f"/v1/Conversations/{cid}/Messages")) == 1 and len(fake.messages(cid)) == 1
    assert [m["id"] for m in agent.get(f"/api/conversations/{cid}/messages").json()["messages"]] == [message["id"]]


def test_a_retry_after_twilios_answer_was_lost_does_not_post_twice(agent, fake, shown, contract):
    cid = fake.conversation(*participants("sms"))
    fake.lose_next.append(cid)
    lost = shown(send(agent, cid, "Your order shipped", key="key-lost"))
    assert (lost.status_code, lost.json()["error"]["code"], lost.json()["error"]["retryable"]) == \
        (502, "twilio_unavailable", True)
    assert len(fake.messages(cid)) == 1            # it did reach Twilio
    retried = shown(send(agent, cid, "Your order shipped", key="key-lost"))
    assert retried.status_code == 201 and len(fake.messages(cid)) == 1
    assert len(agent.get(f"/api/conversations/{cid}/messages").json()["messages"]) == 1


def test_refused_credentials_are_a_notice_without_retry(agent, fake, shown, contract):
    cid = fake.conversation(*participants("sms"))
    fake.fail_next.append((f"/{cid}/Participants", twilio_error(401, 20003, "Authenticate")))
    r = shown(send(agent, cid, "hello"))
    assert (r.status_code, r.json()["error"]["code"]) == (502, "twilio_auth")
    error = error_from_response(Response(r.status_code, dict(r.headers), r.text))
    assert error.retryable is False and "administrator" in error.problem.hint   # a 5xx Retry cannot fix
    assert fake.messages(cid) == [] and agent.get(f"/api/conversations/{cid}/messages").json()["messages"] == []


def test_rate_limiting_is_a_notice_with_retry(agent, fake, shown, contract):
    cid = fake.conversation(*participants("sms"))
    fake.fail_next.append((f"/{cid}/Messages", twilio_error(429, 20429, "Too Many Requests")))
    r = shown(send(agent, cid, "hello", key="key-429"))
    assert error_from_response(Response(r.status_code, dict(r.headers), r.text)).retryable is True
    assert shown(send(agent, cid, "hello", key="key-429")).status_code == 201 and len(fake.messages(cid)) == 1


def test_text_over_the_channels_limit_is_refused_by_the_server_too(agent, fake, shown, contract):
    cid = fake.conversation(*participants("whatsapp"))
    r = shown(send(agent, cid, "x" * 1601))
    assert (r.status_code, r.json()["error"]["code"]) == (422, "text_too_long")
    assert r.json()["error"]["message"] == "The message is 1,601 characters; the limit on WhatsApp is 1,600"
    assert fake.messages(cid) == [] and shown(send(agent, cid, "x" * 1600)).status_code == 201


def test_a_file_over_the_channels_limit_is_refused_before_mcs(twilio_server, agent, fake, shown, contract):
    cid = fake.conversation(*participants("chat", "sms"))
    data = png(6_000_000)                           # within the server's 25 MB, over SMS/MMS's 5 MB
    r = shown(send(agent, cid, "", (upload(twilio_server, "scan.png", data, "image/png"),)))
    assert (r.status_code, r.json()["error"]["code"]) == (413, "too_large")
    assert r.json()["error"]["message"] == "scan.png is 6.0 MB; SMS/MMS accepts files up to 5 MB"
    assert r.json()["error"]["retryable"] is False
    assert [c for c in fake.calls("POST", "/Media") if c.body == data] == [] and fake.messages(cid) == []


# -- customer -> agent -------------------------------------------------------------

def post_webhook(twilio_server, form: dict[str, str], headers: dict[str, str]) -> httpx.Response:
    return httpx.post(twilio_server.url + "/twilio/webhook", content=urlencode(form), headers=headers, timeout=30)


def test_a_signed_webhook_reaches_the_agent_live(twilio_server, agent, fake, shown):
    cid = fake.conversation(*participants("sms"))
    item = media_item(fake)
    form = event(cid, [item])
    with twilio_server.client(AGENT, timeout=30) as c, c.stream("GET", f"/api/conversations/{cid}/events") as live:
        assert next(lines(live)) == "retry: 1000"
        headers = signed(form, token="idem-" + form["MessageSid"])
        r = post_webhook(twilio_server, form, headers)
        assert (r.status_code, r.json()["status"]) == (200, "delivered")
        [arrived] = read_events(live, 1)
    message = arrived["data"]
    assert (message["sender"], message["sender_role"], message["text"], message["idempotency_key"]) == \
        ("+15558675310", "customer", "Here is my receipt", form["MessageSid"])
    [attachment] = message["attachments"]
    assert (attachment["name"], attachment["content_type"], attachment["size"]) == ("receipt.jpg", "image/jpeg",
                                                                                    len(JPEG))
    assert agent.get(attachment["url"]).content == JPEG
    # Twilio delivers it again: answered as done, shown once
    assert post_webhook(twilio_server, form, headers).json()["status"] == "duplicate"
    history = shown(agent.get(f"/api/conversations/{cid}/messages")).json()["messages"]
    assert [m["id"] for m in history] == [message["id"]]


def test_a_forged_webhook_stores_nothing(twilio_server, agent, fake):
    cid = fake.conversation(*participants("sms"))
    item = media_item(fake)
    form = event(cid, [item])
    headers = signed(form)
    form["Body"] = "Send the refund to my other account"
    r = post_webhook(twilio_server, form, headers)
    assert (r.status_code, r.json()["error"]["code"]) == (403, "forbidden")
    assert agent.get(f"/api/conversations/{cid}/messages").json()["messages"] == []
    assert fake.calls("GET", f"/Media/{item['Sid']}") == []


def test_a_refused_customer_file_is_told_to_the_agent(twilio_server, agent, fake, shown):
    cid = fake.conversation(*participants("sms"))
    form = event(cid, [media_item(fake, b"MZ\x90\x00" + b"\x00" * 300, "application/x-msdownload", "setup.exe")])
    assert post_webhook(twilio_server, form, signed(form)).json()["status"] == "delivered"
    [message] = shown(agent.get(f"/api/conversations/{cid}/messages")).json()["messages"]
    assert message["attachments"] == []
    first, note = message["text"].split("\n")
    assert first == "Here is my receipt" and note.startswith("⚠ Attachment not accepted: setup.exe")
