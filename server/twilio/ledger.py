"""What the bridge has already done, in SQLite, so retries and redeliveries do nothing twice.

Outgoing: one row per (conversation, idempotency key, part) written *before*
the message POST ("posting") and completed after it ("sent" + the Twilio SID).
A retry that finds "sent" answers from the row without calling Twilio; one
that finds "posting" (the answer was lost: the message may or may not exist)
reads Twilio's recent messages for our key before posting again.

Incoming: Twilio's `I-Twilio-Idempotency-Token` and the message SID of every
webhook fully processed, so a redelivery is answered 200 and does nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS twilio_sends (
    conversation TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    part INTEGER NOT NULL,
    state TEXT NOT NULL,                -- 'posting' | 'sent'
    media_sid TEXT,                     -- uploaded to MCS, reused by a retry
    message_sid TEXT,
    message_index INTEGER,
    created_at TEXT,                    -- Twilio's date_created of the message
    updated_at TEXT NOT NULL,
    PRIMARY KEY (conversation, idempotency_key, part)
);
CREATE TABLE IF NOT EXISTS twilio_webhooks (
    token TEXT PRIMARY KEY,             -- I-Twilio-Idempotency-Token ('' never stored)
    message_sid TEXT NOT NULL,
    processed_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS twilio_webhooks_message ON twilio_webhooks(message_sid);
"""


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class SentPart:
    part: int
    message_sid: str
    index: int | None
    media_sid: str | None
    created_at: str


@dataclass(frozen=True)
class PartRow:
    state: str
    media_sid: str | None
    sent: SentPart | None


class Ledger:
    def __init__(self, path: str | Path) -> None:
        self.db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    # -- outgoing ---------------------------------------------------------------
    def part(self, conversation: str, key: str, part: int) -> PartRow | None:
        r = self.db.execute(
            "SELECT state, media_sid, message_sid, message_index, created_at FROM twilio_sends"
            " WHERE conversation = ? AND idempotency_key = ? AND part = ?", (conversation, key, part)).fetchone()
        if r is None:
            return None
        sent = SentPart(part, r[2], r[3], r[1], r[4] or "") if r[0] == "sent" else None
        return PartRow(r[0], r[1], sent)

    def posting(self, conversation: str, key: str, part: int, media_sid: str | None) -> None:
        """Written before the POST: from now on a retry must look before it posts."""
        self.db.execute(
            "INSERT INTO twilio_sends (conversation, idempotency_key, part, state, media_sid, updated_at)"
            " VALUES (?, ?, ?, 'posting', ?, ?) ON CONFLICT (conversation, idempotency_key, part)"
            " DO UPDATE SET state = 'posting', media_sid = excluded.media_sid, updated_at = excluded.updated_at",
            (conversation, key, part, media_sid, _now()))

    def sent(self, conversation: str, key: str, sent: SentPart) -> None:
        self.db.execute(
            "INSERT INTO twilio_sends (conversation, idempotency_key, part, state, media_sid, message_sid,"
            " message_index, created_at, updated_at) VALUES (?, ?, ?, 'sent', ?, ?, ?, ?, ?)"
            " ON CONFLICT (conversation, idempotency_key, part) DO UPDATE SET state = 'sent',"
            " media_sid = excluded.media_sid, message_sid = excluded.message_sid,"
            " message_index = excluded.message_index, created_at = excluded.created_at,"
            " updated_at = excluded.updated_at",
            (conversation, key, sent.part, sent.media_sid, sent.message_sid, sent.index, sent.created_at, _now()))

    def forget(self, conversation: str, key: str, part: int) -> None:
        """Twilio said no for sure: nothing was created, a retry starts afresh."""
        self.db.execute("DELETE FROM twilio_sends WHERE conversation = ? AND idempotency_key = ? AND part = ?",
                        (conversation, key, part))

    # -- incoming ---------------------------------------------------------------
    def processed(self, token: str, message_sid: str) -> bool:
        """Has this delivery (by token) or this message (by SID) been processed already?"""
        r = self.db.execute("SELECT 1 FROM twilio_webhooks WHERE (token = ? AND token != '') OR message_sid = ?"
                            " LIMIT 1", (token, message_sid)).fetchone()
        return r is not None

    def mark_processed(self, token: str, message_sid: str) -> None:
        self.db.execute("INSERT OR IGNORE INTO twilio_webhooks (token, message_sid, processed_at) VALUES (?, ?, ?)",
                        (token or f"sid:{message_sid}", message_sid, _now()))


class KeyedLocks:
    """One asyncio lock per key, dropped when nobody holds or awaits it."""

    def __init__(self) -> None:
        self._locks: dict[object, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: object) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)
