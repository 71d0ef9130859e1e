"""Twilio's earlier messages in the store: where each goes in the seq order, and what was read already.

Why two seq ranges: the page orders a conversation by `seq` (a global
integer, >= 0 on the wire) and follows it live with `after=seq`. A message
imported from Twilio's past must sort before everything the bridge stored
live, yet the store hands out seqs upwards. So, as Synapse gives backfilled
events negative stream orderings, a twilio-kind store reserves the seqs up
to LIVE_BASE for the past: live messages (webhooks, the agent's sends) count
up from LIVE_BASE + 1, and history counts down from LIVE_BASE, each older
page below the one before. Keyset paging (`seq < before`) stays stable while
pages are imported, and the live feed (`seq > after`) never replays the past.

Tables (same SQLite file as the store, plain sqlite3 like ledger.py):
- twilio_history: per conversation, how far back Twilio was read (the next
  older page's URL, or complete), the newest and oldest Twilio index seen, and
  when the newest page was last read.
- twilio_seen: each Twilio message SID examined -> the stored message's seq
  (two SIDs may share one: text and file sent as two Twilio messages).
"""

from __future__ import annotations

import sqlite3
import uuid
from dataclasses import dataclass
from typing import Any

from server.store import Store, UploadRow

LIVE_BASE = 2**40          # seqs <= this are history imported from Twilio; JSON-safe (< 2**53)

SCHEMA = """
CREATE TABLE IF NOT EXISTS twilio_history (
    conversation TEXT PRIMARY KEY,
    cursor TEXT,                        -- Twilio's next_page_url towards older messages; NULL when none
    complete INTEGER NOT NULL DEFAULT 0,    -- the first message was read
    newest_index INTEGER,               -- highest Twilio index examined
    oldest_index INTEGER,               -- lowest Twilio index examined
    refreshed_at REAL NOT NULL DEFAULT 0    -- unix time the newest page was last read
);
CREATE TABLE IF NOT EXISTS twilio_seen (
    conversation TEXT NOT NULL,
    message_sid TEXT NOT NULL,
    twilio_index INTEGER,
    message_seq INTEGER NOT NULL,
    PRIMARY KEY (conversation, message_sid)
);
CREATE INDEX IF NOT EXISTS twilio_seen_seq ON twilio_seen(conversation, message_seq);
"""


@dataclass
class ReadState:
    conversation: str
    cursor: str | None = None
    complete: bool = False
    newest_index: int | None = None
    oldest_index: int | None = None
    refreshed_at: float = 0.0

    @property
    def started(self) -> bool:
        return self.refreshed_at > 0


@dataclass(frozen=True)
class Imported:
    """A Twilio message to store: who wrote it, when (Twilio's time), its text and files."""

    sid: str
    index: int | None
    author: str
    role: str
    text: str
    created_at: str
    uploads: tuple[UploadRow, ...]


class HistoryRows:
    def __init__(self, store: Store) -> None:
        self.store, self.db = store, store.db
        self.db.executescript(SCHEMA)
        reserve_history_range(self.db)

    # -- reading state --------------------------------------------------------------
    def state(self, cid: str) -> ReadState:
        r = self.db.execute("SELECT cursor, complete, newest_index, oldest_index, refreshed_at FROM twilio_history"
                            " WHERE conversation = ?", (cid,)).fetchone()
        return ReadState(cid) if r is None else ReadState(cid, r[0], bool(r[1]), r[2], r[3], r[4])

    def save(self, s: ReadState) -> None:
        self.db.execute(
            "INSERT INTO twilio_history (conversation, cursor, complete, newest_index, oldest_index, refreshed_at)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (conversation) DO UPDATE SET cursor = excluded.cursor,"
            " complete = excluded.complete, newest_index = excluded.newest_index,"
            " oldest_index = excluded.oldest_index, refreshed_at = excluded.refreshed_at",
            (s.conversation, s.cursor, int(s.complete), s.newest_index, s.oldest_index, s.refreshed_at))

    # -- what the store holds -----------------------------------------------------------
    def held(self, cid: str, sid: str, key: str | None) -> int | None:
        """The seq of the stored message this Twilio message is (by its SID, or our idempotency key)."""
        r = self.db.execute("SELECT message_seq FROM twilio_seen WHERE conversation = ? AND message_sid = ?",
                            (cid, sid)).fetchone()
        if r is not None:
            return r[0]
        for k in (sid, key):
            if k:
                r = self.db.execute("SELECT seq FROM messages WHERE conversation = ? AND idempotency_key = ?",
                                    (cid, k)).fetchone()
                if r is not None:
                    return r[0]
        return None

    def seen(self, cid: str, sid: str, index: int | None, seq: int) -> None:
        self.db.execute("INSERT OR IGNORE INTO twilio_seen (conversation, message_sid, twilio_index, message_seq)"
                        " VALUES (?, ?, ?, ?)", (cid, sid, index, seq))

    def seq_seen(self, cid: str, seq: int) -> bool:
        return self.db.execute("SELECT 1 FROM twilio_seen WHERE conversation = ? AND message_seq = ? LIMIT 1",
                               (cid, seq)).fetchone() is not None

    def live_unmatched(self, cid: str) -> tuple[int, str | None]:
        """(how many live messages Twilio's listing has not shown yet, the oldest live message's time)."""
        total, oldest = self.db.execute("SELECT COUNT(*), MIN(created_at) FROM messages WHERE conversation = ?"
                                        " AND seq > ?", (cid, LIVE_BASE)).fetchone()
        matched = self.db.execute("SELECT COUNT(DISTINCT message_seq) FROM twilio_seen WHERE conversation = ?"
                                  " AND message_seq > ?", (cid, LIVE_BASE)).fetchone()[0]
        return total - matched, oldest

    def count_before(self, cid: str, before: int | None, enough: int) -> int:
        """Messages with seq < before (all when None), counted up to `enough`."""
        return self.db.execute("SELECT COUNT(*) FROM (SELECT 1 FROM messages WHERE conversation = ? AND seq < ?"
                               " LIMIT ?)", (cid, before if before is not None else 2**63 - 1, enough)).fetchone()[0]

    # -- storing -----------------------------------------------------------------------
    def insert(self, cid: str, m: Imported, *, past: bool) -> tuple[dict[str, Any], bool]:
        """Store one Twilio message: `past` below every seq held (history), else as the newest (live).
        (message, created); a message another process stored meanwhile stands."""
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            there = db.execute("SELECT seq FROM messages WHERE conversation = ? AND idempotency_key = ?",
                               (cid, m.sid)).fetchone()
            if there is not None:     # another process stored it meanwhile: that one stands
                self.seen(cid, m.sid, m.index, there[0])
                db.execute("COMMIT")
                return self.store.find_by_key(cid, m.sid) or {}, False
            db.execute("INSERT OR IGNORE INTO conversations (id, created_at) VALUES (?, ?)", (cid, m.created_at))
            seq = None
            if past:
                lowest = db.execute("SELECT MIN(seq) FROM messages").fetchone()[0]
                seq = min(lowest if lowest is not None else LIVE_BASE + 1, LIVE_BASE + 1) - 1
            cur = db.execute(
                "INSERT INTO messages (seq, id, conversation, sender, sender_name, sender_role, text, created_at,"
                " idempotency_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (seq, uuid.uuid4().hex, cid, m.author, m.author, m.role, m.text, m.created_at, m.sid))
            seq = cur.lastrowid
            db.executemany("INSERT INTO attachments (message_seq, position, upload_id) VALUES (?, ?, ?)",
                           [(seq, i, u.id) for i, u in enumerate(m.uploads)])
            self.seen(cid, m.sid, m.index, seq)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        stored = self.store.find_by_key(cid, m.sid)
        assert stored is not None
        return stored, True


def reserve_history_range(db: sqlite3.Connection) -> None:
    """Live seqs start above LIVE_BASE; a data dir from before moves its messages up there, once.

    Pages that held the old seqs resume with `after=<old seq>`, which replays
    the conversation (the page shows each message once, by id).
    """
    row = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'messages'").fetchone()
    if row is not None and row[0] >= LIVE_BASE:
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute("PRAGMA defer_foreign_keys = ON")
        db.execute("UPDATE messages SET seq = seq + ? WHERE seq <= ?", (LIVE_BASE, LIVE_BASE))
        db.execute("UPDATE attachments SET message_seq = message_seq + ? WHERE message_seq <= ?",
                   (LIVE_BASE, LIVE_BASE))
        top = db.execute("SELECT MAX(seq) FROM messages").fetchone()[0] or 0
        db.execute("DELETE FROM sqlite_sequence WHERE name = 'messages'")
        db.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('messages', ?)", (max(top, LIVE_BASE),))
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
