"""What the bridge has already done, in the server's database, so retries and redeliveries do nothing twice.

Outgoing: one row per (conversation, idempotency key, part) written *before*
the message POST ("posting") and completed after it ("sent" + the Twilio SID).
A retry that finds "sent" answers from the row without calling Twilio; one
that finds "posting" (the answer was lost: the message may or may not exist)
reads Twilio's recent messages for our key before posting again.

Incoming: Twilio's `I-Twilio-Idempotency-Token` and the message SID of every
webhook fully processed, so a redelivery is answered 200 and does nothing.

Why the server's database and not a file of its own: in a cluster a retry or
a redelivery may reach any process, and each must find what the others did.
A ledger file of an older version (twilio.sqlite3) is read in once, at start.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import ColumnElement, or_, select

from server.store.database import Database
from server.store.migrate import open_database
from server.store.schema import twilio_sends, twilio_webhooks

_KEY = ("conversation", "idempotency_key", "part")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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
    """`Ledger(database)` shares the server's database; `Ledger(path)` opens a SQLite file of its own."""

    def __init__(self, database: Database | str | Path) -> None:
        self._owned = not isinstance(database, Database)
        self.database = database if isinstance(database, Database) else open_database(None, database)

    def close(self) -> None:
        if self._owned:
            self.database.close()

    # -- outgoing ---------------------------------------------------------------
    def part(self, conversation: str, key: str, part: int) -> PartRow | None:
        r = self.database.first(select(twilio_sends).where(_is(conversation, key, part)))
        if r is None:
            return None
        sent = SentPart(part, r.message_sid, r.message_index, r.media_sid, r.created_at or "") \
            if r.state == "sent" else None
        return PartRow(r.state, r.media_sid, sent)

    def posting(self, conversation: str, key: str, part: int, media_sid: str | None) -> None:
        """Written before the POST: from now on a retry must look before it posts."""
        self._upsert({"conversation": conversation, "idempotency_key": key, "part": part, "state": "posting",
                      "media_sid": media_sid, "updated_at": _now()})

    def sent(self, conversation: str, key: str, sent: SentPart) -> None:
        self._upsert({"conversation": conversation, "idempotency_key": key, "part": sent.part, "state": "sent",
                      "media_sid": sent.media_sid, "message_sid": sent.message_sid, "message_index": sent.index,
                      "created_at": sent.created_at, "updated_at": _now()})

    def _upsert(self, row: dict[str, object]) -> None:
        insert = self.database.insert(twilio_sends).values(**row)
        self.database.run(insert.on_conflict_do_update(
            index_elements=list(_KEY), set_={k: insert.excluded[k] for k in row if k not in _KEY}))

    def forget(self, conversation: str, key: str, part: int) -> None:
        """Twilio said no for sure: nothing was created, a retry starts afresh."""
        self.database.run(twilio_sends.delete().where(_is(conversation, key, part)))

    # -- incoming ---------------------------------------------------------------
    def processed(self, token: str, message_sid: str) -> bool:
        """Has this delivery (by token) or this message (by SID) been processed already?"""
        by_token = (twilio_webhooks.c.token == token) & (twilio_webhooks.c.token != "")
        return self.database.first(select(twilio_webhooks.c.token).where(
            or_(by_token, twilio_webhooks.c.message_sid == message_sid)).limit(1)) is not None

    def mark_processed(self, token: str, message_sid: str) -> None:
        self.database.run(self.database.insert(twilio_webhooks).values(
            token=token or f"sid:{message_sid}", message_sid=message_sid, processed_at=_now()).on_conflict_do_nothing())

    # -- a ledger file of an older version ---------------------------------------
    def adopt(self, path: Path) -> int:
        """Read the rows of an older version's ledger file into this database (once: the file is then
        renamed *.imported), so a retry or redelivery after the upgrade still finds them. Returns the rows read."""
        if not path.exists():
            return 0
        old = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        old.row_factory = sqlite3.Row
        try:
            sends = [dict(r) for r in old.execute("SELECT * FROM twilio_sends")]
            hooks = [dict(r) for r in old.execute("SELECT * FROM twilio_webhooks")]
        finally:
            old.close()
        with self.database.transaction() as conn:
            for table, rows in ((twilio_sends, sends), (twilio_webhooks, hooks)):
                if rows:
                    conn.execute(self.database.insert(table).on_conflict_do_nothing(), rows)
        path.rename(path.with_name(path.name + ".imported"))
        return len(sends) + len(hooks)


def _is(conversation: str, key: str, part: int) -> ColumnElement[bool]:
    return (twilio_sends.c.conversation == conversation) & (twilio_sends.c.idempotency_key == key) \
        & (twilio_sends.c.part == part)


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
