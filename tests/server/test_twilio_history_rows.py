"""Twilio's whole history in the server's database, on SQLite and on a real PostgreSQL: the one-time move of
live seqs above LIVE_BASE (attachments with them, the sequence after them), history stored below, each Twilio
message once, and the reader's state."""

from __future__ import annotations

from server.bridges.twilio.history_rows import LIVE_BASE, HistoryRows, Imported, ReadState
from tests.server.test_database import opened  # noqa: F401  (fixture: a Store per "process")
from tests.services.postgres import both_databases  # noqa: F401  (fixture: SQLite and PostgreSQL)

CID = "CH" + "0" * 32


def imported(sid: str, text: str, uploads=()) -> Imported:
    return Imported(sid, None, "+15550001", "customer", text, "2026-01-01T00:00:00Z", tuple(uploads))


def test_live_seqs_move_above_the_history_range_once_with_their_attachments(opened):
    store = opened()
    u = store.create_upload("agent", "a.txt", 1, "text/plain", "text/plain")
    old, _ = store.add_message(CID, "agent", "before the upgrade", "k1", [u])
    assert old["seq"] < LIVE_BASE
    HistoryRows(store)
    HistoryRows(opened())                               # another process, later: nothing moves twice
    [moved] = store.page(CID)[0]
    assert moved["seq"] == old["seq"] + LIVE_BASE and [a.id for a in moved["attachments"]] == [u.id]
    new, _ = store.add_message(CID, "agent", "after", "k2", [])
    assert new["seq"] == moved["seq"] + 1


def test_an_empty_database_draws_its_first_live_seq_above_the_range(opened):
    store = opened()
    HistoryRows(store)
    first, _ = store.add_message(CID, "agent", "first", "k1", [])
    assert first["seq"] == LIVE_BASE + 1


def test_history_goes_below_the_live_messages_each_page_older_than_the_last(opened):
    store = opened()
    rows = HistoryRows(store)
    live, _ = store.add_message(CID, "agent", "live", "k1", [])
    u = store.create_upload("twilio:+15550001", "p.png", 3, "image/png", "image/png")
    newer, created = rows.insert(CID, imported("IM1", "newer", [u]), past=True)
    older, _ = rows.insert(CID, imported("IM2", "older"), past=True)
    assert created and older["seq"] < newer["seq"] == LIVE_BASE < live["seq"]
    assert [a.id for a in newer["attachments"]] == [u.id]
    assert [m["text"] for m in store.page(CID)[0]] == ["older", "newer", "live"]
    assert store.messages(CID, LIVE_BASE) == store.messages(CID, live["seq"] - 1)   # the live feed: no past
    late, _ = rows.insert(CID, imported("IM3", "missed by the webhook"), past=False)
    assert late["seq"] > live["seq"]


def test_each_twilio_message_is_stored_once_whoever_comes_first(opened):
    first, second = HistoryRows(opened()), HistoryRows(opened())
    stored, created = first.insert(CID, imported("IM1", "hello"), past=True)
    again, created_again = second.insert(CID, imported("IM1", "hello"), past=False)
    assert created and not created_again and again["seq"] == stored["seq"]
    assert second.held(CID, "IM1", None) == stored["seq"] and second.seq_seen(CID, stored["seq"])
    assert first.held(CID, "IM9", None) is None


def test_live_messages_the_listing_has_not_shown_are_counted(opened):
    store = opened()
    rows = HistoryRows(store)
    a, _ = store.add_message(CID, "agent", "a", "key-a", [])
    store.add_message(CID, "agent", "b", "key-b", [])
    assert rows.live_unmatched(CID) == (2, a["created_at"])
    assert rows.held(CID, "IMa", "key-a") == a["seq"]              # by our idempotency key
    rows.seen(CID, "IMa", 7, a["seq"])
    rows.seen(CID, "IMa", 7, a["seq"])                             # seen twice: one row
    assert rows.live_unmatched(CID)[0] == 1
    assert rows.count_before(CID, None, 10) == 2 and rows.count_before(CID, None, 1) == 1
    assert rows.count_before(CID, a["seq"], 10) == 0


def test_the_readers_state_is_kept_per_conversation(opened):
    rows = HistoryRows(opened())
    assert rows.state(CID) == ReadState(CID) and not rows.state(CID).started
    rows.save(ReadState(CID, "https://conversations.twilio.com/next", False, 40, 1, 123.5))
    rows.save(ReadState(CID, None, True, 41, 0, 124.0))
    assert HistoryRows(opened()).state(CID) == ReadState(CID, None, True, 41, 0, 124.0)
