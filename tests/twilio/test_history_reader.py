"""The history reader on its own (server/bridges/twilio/history.py): where messages the webhook never announced go.

Against Prism and the stand-in, with a real store; no media here (the
server-level tests in test_history.py cover them).
"""
from __future__ import annotations

import json

from server.bridges.twilio.history import TwilioHistory
from server.bridges.twilio.history_rows import LIVE_BASE, HistoryRows
from server.store.queries import Store
from tests.twilio.fake import twilio_error
from tests.twilio.rig import participants


def reader(bridge, tmp_path, aclose_later, refresh_seconds: float = 0.0):
    store = Store(tmp_path / "attache.sqlite3")
    published: list[dict] = []

    async def ready(_uploads):
        return None
    history = TwilioHistory(bridge, HistoryRows(store), ingest=None, ready=ready,
                            publish=lambda cid, m: published.append(m), refresh_seconds=refresh_seconds)
    aclose_later.append(history.aclose)
    return store, history, published


def webhook_stored(store: Store, fake, cid: str, body: str) -> dict:
    """A message Twilio holds that the webhook delivered (stored live under its SID)."""
    m = fake._message_json(cid, {"Author": "+15558675310", "Body": body})
    fake.messages(cid).append(m)
    return store.add_message(cid, m["author"], body, m["sid"], [], sender_name=m["author"],
                             sender_role="customer")[0]


def rest_only(fake, cid: str, body: str, attributes: dict | None = None) -> dict:
    """A message another tool created over REST: no webhook ever reaches the bridge for it."""
    m = fake._message_json(cid, {"Author": "studio-bot", "Body": body, "Attributes": json.dumps(attributes or {})})
    fake.messages(cid).append(m)
    return m


async def test_a_message_the_webhook_missed_goes_after_the_live_ones_it_follows(bridge, fake, tmp_path, aclose_later,
                                                                             contract):
    store, history, published = reader(bridge, tmp_path, aclose_later)
    cid = fake.conversation(*participants("sms"))
    fake.add_history(cid, 3)
    webhook_stored(store, fake, cid, "Delivered by the webhook")
    rest_only(fake, cid, "Created over REST")
    await history.ensure(cid, None, 100)
    messages, older = store.page(cid)
    assert [m["text"] for m in messages] == ["Earlier message 0", "Earlier message 1", "Earlier message 2",
                                             "Delivered by the webhook", "Created over REST"]
    assert [m["seq"] <= LIVE_BASE for m in messages] == [True, True, True, False, False] and older is None
    assert [m["text"] for m in published] == ["Created over REST"]    # late, so live
    # the next open reads the newest page again: what came since, and only that
    rest_only(fake, cid, "Another tool, later")
    webhook_stored(store, fake, cid, "And the customer again")
    await history.ensure(cid, None, 100)
    assert [m["text"] for m in store.page(cid)[0]][-3:] == ["Created over REST", "And the customer again",
                                                            "Another tool, later"]
    assert [m["text"] for m in published] == ["Created over REST", "Another tool, later"]
    reads = len(fake.calls("GET", f"/v1/Conversations/{cid}/Messages"))
    await history.ensure(cid, None, 100)
    assert len(fake.calls("GET", f"/v1/Conversations/{cid}/Messages")) == reads + 1   # one page, nothing imported
    assert len(store.page(cid)[0]) == 7


async def test_the_newest_page_is_not_read_again_within_the_refresh_time(bridge, fake, tmp_path, aclose_later,
                                                                         contract):
    store, history, _ = reader(bridge, tmp_path, aclose_later, refresh_seconds=3600)
    cid = fake.conversation(*participants("chat"))
    fake.add_history(cid, 2)
    await history.ensure(cid, None, 100)
    await history.ensure(cid, None, 100)
    assert len(fake.calls("GET", f"/v1/Conversations/{cid}/Messages")) == 1
    assert [m["text"] for m in store.page(cid)[0]] == ["Earlier message 0", "Earlier message 1"]


async def test_another_attaches_message_is_history_and_ours_is_one(bridge, fake, tmp_path, aclose_later, contract):
    store, history, _ = reader(bridge, tmp_path, aclose_later)
    cid = fake.conversation(*participants("chat"))
    rest_only(fake, cid, "From another Attache", {"attache": {"key": "elsewhere", "part": 0, "parts": 1}})
    ours = rest_only(fake, cid, "From this one", {"attache": {"key": "k-ours", "part": 0, "parts": 1}})
    store.add_message(cid, "agent", "From this one", "k-ours", [], sender_name="Agent", sender_role="agent")
    await history.ensure(cid, None, 100)
    messages = store.page(cid)[0]
    assert [(m["text"], m["sender_role"]) for m in messages] == [("From another Attache", "agent"),
                                                                  ("From this one", "agent")]
    assert messages[1]["idempotency_key"] == "k-ours" != ours["sid"]


async def test_a_page_link_twilio_forgot_is_walked_to_again(bridge, fake, tmp_path, aclose_later, contract):
    store, history, _ = reader(bridge, tmp_path, aclose_later, refresh_seconds=3600)
    cid = fake.conversation(*participants("chat"))
    fake.add_history(cid, 250)
    await history.ensure(cid, None, 100)
    older = store.page(cid)[0][0]["seq"]
    fake.fail_list.append((cid, 1, twilio_error(404, 20404, "The page token is not valid")))
    await history.ensure(cid, older, 100)          # refused: back to the newest page, then on down
    messages = store.page(cid, before=older, limit=500)[0]
    assert [m["text"] for m in messages] == [f"Earlier message {i}" for i in range(50, 150)]
    pages = [r.query.get("Page") for r in fake.calls("GET", f"/v1/Conversations/{cid}/Messages")]
    assert pages == [None, "1", None, "1"]          # the newest page again imported nothing


async def test_a_fault_that_does_not_pass_stops_the_reader_until_asked_again(bridge, fake, tmp_path, aclose_later,
                                                                            contract, monkeypatch):
    import server.bridges.twilio.history as reader_module
    monkeypatch.setattr(reader_module, "GIVE_UP", 2)
    store, history, _ = reader(bridge, tmp_path, aclose_later)
    cid = fake.conversation(*participants("chat"))
    fake.add_history(cid, 2)
    limited = twilio_error(429, 20429, "Too Many Requests")
    limited.headers["Retry-After"] = "0"
    fake.fail_list += [(cid, 0, limited)] * 2
    await history.ensure(cid, None, 100)
    while history.jobs[cid].task is not None:
        await history.jobs[cid].event.wait()
    assert history.failure(cid).code == "twilio_rate_limited" and store.page(cid)[0] == []
    await history.ensure(cid, None, 100)             # asked again (the page's Try again): read
    assert history.failure(cid) is None and len(store.page(cid)[0]) == 2
