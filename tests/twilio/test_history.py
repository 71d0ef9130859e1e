"""A Twilio conversation's whole history through our paged history API, read from Twilio (via Prism).

The server runs with kind = "twilio"; Twilio's messages list is the stand-in
behind Prism (`Order=desc`, `PageSize`, `meta.next_page_url`), MCS the media
stand-in. Each test makes its own conversation.
"""
from __future__ import annotations

import asyncio
import json
import uuid
from urllib.parse import urlencode

import httpx
import pytest

from tests import files
from tools.services.attache import AGENT_TOKEN
from tests.twilio.fake import twilio_error
from tests.twilio.rig import participants
from tests.twilio.test_server import png, send, upload
from tests.twilio.test_webhook import event, media_item, signed
from tools.waiting import wait_until

AGENT = {"Authorization": f"Bearer {AGENT_TOKEN}"}


@pytest.fixture
def agent(twilio_server):
    with twilio_server.client(AGENT, timeout=60) as client:
        yield client


def page(agent, cid: str, before: str | None = None) -> dict:
    r = agent.get(f"/api/conversations/{cid}/messages", params={"before": before} if before else {})
    assert r.status_code == 200, r.text
    return r.json()


def scroll_to_start(agent, cid: str, first: dict | None = None, most: int = 40) -> list[dict]:
    """Every message, as the page gets them: the newest page, then `before=older` until null."""
    body = first or page(agent, cid)
    messages = body["messages"]
    for _ in range(most):
        if body["older"] is None:
            return messages
        body = page(agent, cid, body["older"])
        messages = body["messages"] + messages
    raise AssertionError("the history did not reach its first message")


def texts(messages: list[dict]) -> list[str]:
    return [m["text"] for m in messages]


def test_the_whole_history_with_media_pages_back_to_the_first(agent, fake, contract):
    cid = fake.conversation(*participants("whatsapp"))
    earlier = fake.add_history(cid, 230, media_every=25, image=files.png_bytes())
    newest = page(agent, cid)
    assert texts(newest["messages"]) == [f"Earlier message {i}" for i in range(130, 230)]   # at once
    assert newest["older"] is not None
    lists = fake.calls("GET", f"/v1/Conversations/{cid}/Messages")
    assert [(r.query["Order"], r.query["PageSize"]) for r in lists] == [("desc", "100")]
    everything = scroll_to_start(agent, cid, newest)
    assert texts(everything) == [f"Earlier message {i}" for i in range(230)]
    seqs = [m["seq"] for m in everything]
    assert seqs == sorted(seqs) and len(set(seqs)) == 230 and min(seqs) >= 0
    assert [m["sender"] for m in everything[:2]] == ["+15558675310", "flex-agent-ana"]
    assert everything[0]["created_at"] == earlier[0]["date_created"] == "2026-01-01T00:00:00Z"
    with_media = [m for m in everything if m["attachments"]]
    assert [m["text"] for m in with_media] == [f"Earlier message {i}" for i in range(0, 230, 25)]
    first = with_media[0]["attachments"][0]
    assert (first["name"], first["content_type"]) == ("earlier-0.png", "image/png")
    assert first["thumbnail"] is not None and agent.get(first["thumbnail"]["url"]).status_code == 200
    assert agent.get(first["url"]).content[:8] == files.png_bytes()[:8]
    # read once: three list pages, each media fetched once; reading it all again asks Twilio nothing
    assert len(fake.calls("GET", f"/v1/Conversations/{cid}/Messages")) == 3
    contents = len([r for r in fake.requests if r.path.startswith("/temporary/")])
    assert texts(scroll_to_start(agent, cid)) == texts(everything)
    assert len(fake.calls("GET", f"/v1/Conversations/{cid}/Messages")) == 3
    assert len([r for r in fake.requests if r.path.startswith("/temporary/")]) == contents


def test_our_own_messages_and_webhooks_are_not_doubled_by_the_history(twilio_server, agent, fake, contract):
    cid = fake.conversation(*participants("sms"))
    fake.add_history(cid, 3)
    sent = send(agent, cid, "Sent from Attache", (upload(twilio_server, "scan.png", png(), "image/png"),))
    assert sent.status_code == 201, sent.text          # on SMS: text and file are two Twilio messages
    form = event(cid, Index=str(len(fake.messages(cid))), Body="A webhook's message")
    fake.messages(cid).append(fake._message_json(cid, {"Author": form["Author"], "Body": form["Body"]})
                              | {"sid": form["MessageSid"]})
    assert httpx.post(twilio_server.url + "/twilio/webhook", content=urlencode(form), headers=signed(form),
                      timeout=30).json()["status"] == "delivered"
    assert len(fake.messages(cid)) == 6
    everything = scroll_to_start(agent, cid)
    assert texts(everything) == ["Earlier message 0", "Earlier message 1", "Earlier message 2", "Sent from Attache",
                                 "A webhook's message"]
    assert everything[3]["id"] == sent.json()["id"] and len(everything[3]["attachments"]) == 1


def test_a_429_in_the_middle_shows_what_is_there_and_the_rest_follows(agent, fake, contract):
    cid = fake.conversation(*participants("sms"))
    fake.add_history(cid, 150)
    fake.fail_list.append((cid, 1, twilio_error(429, 20429, "Too Many Requests")))
    fake.fail_list[-1][2].headers["Retry-After"] = "2"
    newest = page(agent, cid)
    assert len(newest["messages"]) == 100 and newest["older"] is not None
    waiting = page(agent, cid, newest["older"])       # Twilio said wait: what there is, and a token to ask again
    assert waiting["messages"] == [] and waiting["older"] == newest["older"]
    rest = page(agent, cid, waiting["older"])         # after Retry-After the reader went on
    assert texts(rest["messages"]) == [f"Earlier message {i}" for i in range(50)] and rest["older"] is None
    reads = [r for r in fake.calls("GET", f"/v1/Conversations/{cid}/Messages") if r.query.get("Page") == "1"]
    assert len(reads) == 2                            # the refused page once more, not a flood


def test_a_lost_answer_and_a_media_outage_are_passing_faults(agent, fake, contract):
    cid = fake.conversation(*participants("sms"))
    fake.add_history(cid, 4, media_every=2, image=files.png_bytes())
    fake.fail_list.append((cid, 0, twilio_error(503, 20503, "Service Unavailable")))
    media = [m["media"][0]["sid"] for m in fake.messages(cid) if m.get("media")]
    fake.fail_next.append((f"/Media/{media[0]}", twilio_error(503, 20503, "Service Unavailable")))
    body = page(agent, cid)
    messages = body["messages"]
    for _ in range(10):                                # the page asks again as its sentinel stays near
        if texts(messages) == [f"Earlier message {i}" for i in range(4)] or body["older"] is None:
            break
        body = page(agent, cid, body["older"])
        messages = body["messages"] + messages
    assert texts(messages) == [f"Earlier message {i}" for i in range(4)]
    assert [len(m["attachments"]) for m in messages] == [1, 0, 1, 0]


def test_refused_credentials_say_so_for_earlier_messages(agent, fake, contract):
    cid = fake.conversation(*participants("sms"))
    fake.add_history(cid, 2)
    fake.fail_list += [(cid, 0, twilio_error(401, 20003, "Authenticate"))] * 2   # until an admin mends the key
    newest = page(agent, cid)
    assert newest["messages"] == [] and newest["older"] is not None
    r = agent.get(f"/api/conversations/{cid}/messages", params={"before": newest["older"]})
    assert (r.status_code, r.json()["error"]["code"], r.json()["error"]["retryable"]) == (502, "twilio_auth", False)
    assert texts(page(agent, cid)["messages"]) == ["Earlier message 0", "Earlier message 1"]   # tried again


def test_a_webhook_racing_the_history_read_is_neither_lost_nor_doubled(twilio_server, agent, fake, contract):
    cid = fake.conversation(*participants("whatsapp"))
    fake.add_history(cid, 120)
    # listed by this read, but its webhook arrives while the read is under way
    racing = event(cid, [media_item(fake)], Body="Racing the read", Index="120")
    fake.messages(cid).append(fake._message_json(cid, {"Author": racing["Author"], "Body": racing["Body"]})
                              | {"sid": racing["MessageSid"]})
    after = event(cid, Body="Written during the read", Index="121")   # not listed by this read at all
    answers = []

    async def webhooks(page_number: int) -> None:
        if page_number != 0 or answers:
            return
        async with httpx.AsyncClient(timeout=30) as client:
            for form in (racing, after):
                fake.messages(cid).append(fake._message_json(cid, {"Author": form["Author"], "Body": form["Body"]})
                                          | {"sid": form["MessageSid"]}) if form is after else None
                r = await client.post(twilio_server.url + "/twilio/webhook", content=urlencode(form),
                                      headers=signed(form))
                answers.append(r.json()["status"])
    fake.on_list[cid] = webhooks
    with twilio_server.client(AGENT, timeout=60) as c, c.stream(
            "GET", f"/api/conversations/{cid}/events", params={"after": "0"}) as live:
        everything = scroll_to_start(agent, cid)
        fake.on_list.pop(cid)
        live_texts = _read_texts(live, 2)
    assert answers == ["delivered", "delivered"]
    assert texts(everything) == [f"Earlier message {i}" for i in range(120)] + ["Racing the read",
                                                                               "Written during the read"]
    assert len(everything[-2]["attachments"]) == 1
    assert live_texts == ["Racing the read", "Written during the read"]    # live once, history never replayed
    again = httpx.post(twilio_server.url + "/twilio/webhook", content=urlencode(racing), headers=signed(racing),
                       timeout=30)
    assert again.json()["status"] == "duplicate"
    with twilio_server.client(AGENT, timeout=60) as c, c.stream(
            "GET", f"/api/conversations/{cid}/events", params={"after": "0"}) as replay:
        assert _read_texts(replay, 2) == ["Racing the read", "Written during the read"]   # not the history


def test_a_webhook_for_a_message_whose_media_the_history_is_fetching_waits_and_is_a_duplicate(
        twilio_server, agent, fake, contract):
    cid = fake.conversation(*participants("whatsapp"))
    item = media_item(fake)
    form = event(cid, [item], Body="Both at once", Index="0")
    fake.messages(cid).append(fake._message_json(cid, {"Author": form["Author"], "Body": form["Body"],
                                                       "MediaSid": item["Sid"]}) | {"sid": form["MessageSid"]})
    answers: list[str] = []

    def webhook_now() -> None:      # Twilio's webhook arrives while the reader is fetching this very file
        async def post() -> None:
            async with httpx.AsyncClient(timeout=30) as client:
                r = await client.post(twilio_server.url + "/twilio/webhook", content=urlencode(form),
                                      headers=signed(form))
                answers.append(r.json()["status"])
        asyncio.ensure_future(post())
    fake.on_media[item["Sid"]] = webhook_now
    [message] = page(agent, cid)["messages"]
    wait_until(lambda: answers, "the second webhook is answered", 30)
    assert answers == ["duplicate"]
    assert (message["text"], len(message["attachments"])) == ("Both at once", 1)
    assert page(agent, cid)["messages"] == [message]
    assert len(fake.calls("GET", f"/Media/{item['Sid']}")) == 1      # the file was fetched once


def _read_texts(live, count: int) -> list[str]:
    out = []
    for line in live.iter_lines():
        if line.startswith("data: "):
            out.append(json.loads(line[6:])["text"])
            if len(out) == count:
                return out
    return out


def test_a_data_dir_from_before_keeps_its_messages_after_the_history(tmp_path):
    """Live messages stored before this version move above the history range, attachments with them."""
    from server.store.queries import Store
    from server.bridges.twilio.history_rows import LIVE_BASE, HistoryRows
    store = Store(tmp_path / "attache.sqlite3")
    u = store.create_upload("agent", "a.txt", 1, "text/plain", "text/plain")
    old, _ = store.add_message("CH" + "0" * 32, "agent", "before the upgrade", "k1", [u])
    store.close()
    store = Store(tmp_path / "attache.sqlite3")
    HistoryRows(store)
    HistoryRows(store)                                  # once only
    [moved] = store.page("CH" + "0" * 32)[0]
    assert moved["seq"] == old["seq"] + LIVE_BASE and [a.id for a in moved["attachments"]] == [u.id]
    new, _ = store.add_message("CH" + "0" * 32, "agent", "after", str(uuid.uuid4()), [])
    assert new["seq"] > moved["seq"]
    store.close()


def test_history_waits_are_short_when_twilio_answers(agent, fake, contract):
    """A conversation Twilio has nothing of answers at once, empty and complete."""
    cid = fake.conversation(*participants("chat"))
    assert page(agent, cid) == {"messages": [], "older": None}
