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

Tables (the server's database, SQLite or PostgreSQL, made by migration 0002):
- twilio_history: per conversation, how far back Twilio was read (the next
  older page's URL, or complete), the newest and oldest Twilio index seen, and
  when the newest page was last read.
- twilio_seen: each Twilio message SID examined -> the stored message's seq
  (two SIDs may share one: text and file sent as two Twilio messages).

Every history insert holds the message lock as the store's own inserts do
(server.store.database.lock_messages), so commit order stays seq order for the live
feed; the history's seqs are below its floor anyway.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, func, literal, select, text

from server.store.database import Database
from server.store.queries import MAX_SEQ, Store
from server.store.rows import UploadRow
from server.store.schema import attachments, conversations, messages, twilio_history, twilio_seen

LIVE_BASE = 2**40          # seqs <= this are history imported from Twilio; JSON-safe (< 2**53)


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
    """The history reader's queries, on the store's database (`reserve_history_range` runs once here)."""

    def __init__(self, store: Store) -> None:
        self.store, self.database = store, store.database
        reserve_history_range(self.database)

    # -- reading state --------------------------------------------------------------
    def state(self, cid: str) -> ReadState:
        r = self.database.first(_STATE, {"cid": cid})
        return ReadState(cid) if r is None else ReadState(cid, r[0], bool(r[1]), r[2], r[3], r[4])

    def save(self, s: ReadState) -> None:
        insert = self.database.insert(twilio_history).values(
            conversation=s.conversation, cursor=s.cursor, complete=int(s.complete), newest_index=s.newest_index,
            oldest_index=s.oldest_index, refreshed_at=s.refreshed_at)
        self.database.run(insert.on_conflict_do_update(index_elements=["conversation"], set_={
            name: insert.excluded[name] for name in
            ("cursor", "complete", "newest_index", "oldest_index", "refreshed_at")}))

    # -- what the store holds -----------------------------------------------------------
    def held(self, cid: str, sid: str, key: str | None) -> int | None:
        """The seq of the stored message this Twilio message is (by its SID, or our idempotency key)."""
        seq = self.database.scalar(_SEEN_SEQ, {"cid": cid, "sid": sid})
        if seq is not None:
            return int(seq)
        for k in (sid, key):
            if k and (seq := self.database.scalar(_SEQ_BY_KEY, {"cid": cid, "key": k})) is not None:
                return int(seq)
        return None

    def seen(self, cid: str, sid: str, index: int | None, seq: int) -> None:
        with self.database.connection() as conn:
            self._seen(conn, cid, sid, index, seq)

    def _seen(self, conn: Connection, cid: str, sid: str, index: int | None, seq: int) -> None:
        conn.execute(self.database.insert(twilio_seen).values(
            conversation=cid, message_sid=sid, twilio_index=index, message_seq=seq).on_conflict_do_nothing())

    def seq_seen(self, cid: str, seq: int) -> bool:
        return self.database.first(_SEQ_SEEN, {"cid": cid, "seq": seq}) is not None

    def live_unmatched(self, cid: str) -> tuple[int, str | None]:
        """(how many live messages Twilio's listing has not shown yet, the oldest live message's time)."""
        total, oldest = self.database.first(_LIVE, {"cid": cid, "base": LIVE_BASE})
        matched = self.database.scalar(_LIVE_MATCHED, {"cid": cid, "base": LIVE_BASE})
        return int(total) - int(matched), oldest

    def count_before(self, cid: str, before: int | None, enough: int) -> int:
        """Messages with seq < before (all when None), counted up to `enough`."""
        return int(self.database.scalar(_COUNT_BEFORE, {
            "cid": cid, "before": before if before is not None else MAX_SEQ, "enough": enough}))

    # -- storing -----------------------------------------------------------------------
    def insert(self, cid: str, m: Imported, *, past: bool) -> tuple[dict[str, Any], bool]:
        """Store one Twilio message: `past` below every seq held (history), else as the newest (live).
        (message, created); a message another process stored meanwhile stands."""
        database = self.database
        with database.transaction() as conn:
            database.lock_messages(conn)            # commit order = seq order, as for every insert
            there = conn.execute(_SEQ_BY_KEY, {"cid": cid, "key": m.sid}).scalar()
            if there is not None:     # another process stored it meanwhile: that one stands
                self._seen(conn, cid, m.sid, m.index, there)
                created = False
            else:
                conn.execute(database.insert(conversations).values(id=cid, created_at=m.created_at)
                             .on_conflict_do_nothing())
                values: dict[str, Any] = {
                    "id": uuid.uuid4().hex, "conversation": cid, "sender": m.author, "sender_name": m.author,
                    "sender_role": m.role, "text": m.text, "created_at": m.created_at, "idempotency_key": m.sid}
                if past:
                    lowest = conn.execute(_LOWEST).scalar()
                    values["seq"] = min(lowest if lowest is not None else LIVE_BASE + 1, LIVE_BASE + 1) - 1
                seq = conn.execute(messages.insert().values(**values).returning(messages.c.seq)).scalar_one()
                if m.uploads:
                    conn.execute(attachments.insert(), [{"message_seq": seq, "position": i, "upload_id": u.id}
                                                        for i, u in enumerate(m.uploads)])
                self._seen(conn, cid, m.sid, m.index, seq)
                created = True
        stored = self.store.find_by_key(cid, m.sid)
        assert stored is not None
        return stored, created


def reserve_history_range(database: Database) -> None:
    """Live seqs start above LIVE_BASE; a database from before moves its messages up there, once.

    Why here and not in a migration: only a Twilio-bridged server has a past
    below its live messages; other servers keep their small seqs. Under the
    message lock, so no insert of another process draws a seq meanwhile. Pages
    that held the old seqs resume with `after=<old seq>`, which replays the
    conversation (the page shows each message once, by id).
    """
    with database.transaction() as conn:
        database.lock_messages(conn)
        if _next_seq_floor(database, conn) >= LIVE_BASE:
            return
        if database.dialect == "postgresql":
            conn.execute(text("SET CONSTRAINTS ALL DEFERRED"))     # attachments' key is DEFERRABLE (0002)
        else:
            conn.execute(text("PRAGMA defer_foreign_keys = ON"))
        shift = {"base": LIVE_BASE}
        conn.execute(messages.update().where(messages.c.seq <= bindparam("base"))
                     .values(seq=messages.c.seq + bindparam("base")), shift)
        conn.execute(attachments.update().where(attachments.c.message_seq <= bindparam("base"))
                     .values(message_seq=attachments.c.message_seq + bindparam("base")), shift)
        top = max(int(conn.execute(select(func.coalesce(func.max(messages.c.seq), 0))).scalar_one()), LIVE_BASE)
        if database.dialect == "postgresql":
            conn.execute(text("SELECT setval(pg_get_serial_sequence('messages', 'seq'), :top)"), {"top": top})
        else:
            conn.execute(text("DELETE FROM sqlite_sequence WHERE name = 'messages'"))
            conn.execute(text("INSERT INTO sqlite_sequence (name, seq) VALUES ('messages', :top)"), {"top": top})


def _next_seq_floor(database: Database, conn: Connection) -> int:
    """The value the next seq is drawn above (0: none drawn yet)."""
    if database.dialect == "postgresql":
        return int(conn.execute(text("SELECT coalesce(pg_sequence_last_value("
                                     "pg_get_serial_sequence('messages', 'seq')::regclass), 0)")).scalar_one())
    value = conn.execute(text("SELECT seq FROM sqlite_sequence WHERE name = 'messages'")).scalar()
    return int(value or 0)


_STATE = select(twilio_history.c.cursor, twilio_history.c.complete, twilio_history.c.newest_index,
                twilio_history.c.oldest_index, twilio_history.c.refreshed_at).where(
    twilio_history.c.conversation == bindparam("cid"))
_SEEN_SEQ = select(twilio_seen.c.message_seq).where(twilio_seen.c.conversation == bindparam("cid"),
                                                    twilio_seen.c.message_sid == bindparam("sid"))
_SEQ_BY_KEY = select(messages.c.seq).where(messages.c.conversation == bindparam("cid"),
                                           messages.c.idempotency_key == bindparam("key"))
_SEQ_SEEN = select(literal(1)).where(twilio_seen.c.conversation == bindparam("cid"),
                                     twilio_seen.c.message_seq == bindparam("seq")).limit(1)
_LIVE = select(func.count(), func.min(messages.c.created_at)).where(
    messages.c.conversation == bindparam("cid"), messages.c.seq > bindparam("base"), messages.c.update_of.is_(None))
_LIVE_MATCHED = select(func.count(twilio_seen.c.message_seq.distinct())).where(
    twilio_seen.c.conversation == bindparam("cid"), twilio_seen.c.message_seq > bindparam("base"))
_COUNT_BEFORE = select(func.count()).select_from(
    select(literal(1)).where(messages.c.conversation == bindparam("cid"), messages.c.seq < bindparam("before"),
                             messages.c.update_of.is_(None))
    .limit(bindparam("enough")).subquery())
_LOWEST = select(func.min(messages.c.seq))
