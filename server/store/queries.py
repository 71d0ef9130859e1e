"""Persistence for conversations, messages and uploads: SQLite (the default) or PostgreSQL.

Why synchronous on the event-loop thread: every statement here is small and
indexed (well under a millisecond on SQLite, one round trip on PostgreSQL), so
calling the database directly is both the simplest and the fastest choice;
bulk byte work (writing and hashing uploads) happens elsewhere, in threads.
server/store/database.py holds the engine, its timeouts and the few dialect
differences; the queries below are written once for both.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import RowMapping, exc, literal, select

from app.core.media import thumbnail_ok
from server.store.database import Database
from server.store.migrate import open_database
from server.store.rows import (
    AFTER,
    ATTACHED_IN_SPAN,
    BY_IDS,
    BY_KEY,
    INSERT_MESSAGE,
    IS_ATTACHED,
    LAST_SEQ,
    MEDIA_IN_USE,
    PAGE,
    SHOWING,
    TO_SEND,
    TOUCH_UPLOAD,
    UPDATE_UPLOAD,
    UPLOAD,
    UploadRow,
    grouped,
    message_dict,
    sent_in,
    upload_row,
    uploads_by_id,
)
from server.store.schema import attachments, cluster, conversations, thumbnails, uploads

MAX_SEQ = 2**63 - 1


def utc_now() -> str:
    """ISO 8601 UTC with a Z, second precision, as the contract shows."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Store:
    """Every query of conversations, messages, uploads and thumbnails; `Store(path)` opens SQLite at `path`."""

    def __init__(self, database: Database | Path | str) -> None:
        self.database = database if isinstance(database, Database) else open_database(None, database)
        self._conversations: set[str] = set()   # known to have their row (conversations are never deleted)

    def close(self) -> None:
        self.database.close()

    # -- uploads -----------------------------------------------------------
    def create_upload(self, owner: str, name: str, size: int, declared_type: str, content_type: str) -> UploadRow:
        row, _ = self.create_upload_once(owner, name, size, declared_type, content_type, None)
        return row

    def create_upload_once(self, owner: str, name: str, size: int, declared_type: str, content_type: str,
                           creation_key: str | None) -> tuple[UploadRow, bool]:
        """A new upload, and True; for a `creation_key` the owner used before, the upload made then, and False
        (one statement either way when new: the key's unique index finds the earlier one)."""
        row = UploadRow(uuid.uuid4().hex, owner, name, size, declared_type, content_type, 0, False, None, utc_now(),
                        time.time())
        insert = self.database.insert(uploads).values(
            id=row.id, owner=owner, name=name, size=size, declared_type=declared_type, content_type=content_type,
            offset=0, head_checked=0, sha256=None, created_at=row.created_at, touched_at=row.touched_at,
            creation_key=creation_key)
        if creation_key is None:
            self.database.run(insert)
            return row, True
        if self.database.run(insert.on_conflict_do_nothing(index_elements=["owner", "creation_key"])):
            return row, True
        earlier = self.created_with(owner, creation_key)
        if earlier is None:         # terminated in between: the key is free again
            return self.create_upload_once(owner, name, size, declared_type, content_type, creation_key)
        return earlier, False

    def created_with(self, owner: str, creation_key: str) -> UploadRow | None:
        """The owner's upload that a creation with this key made, if it is still there."""
        r = self.database.first(select(uploads).where(uploads.c.owner == owner,
                                                      uploads.c.creation_key == creation_key))
        return None if r is None else upload_row(r._mapping)

    def get_upload(self, upload_id: str) -> UploadRow | None:
        r = self.database.first(UPLOAD, {"id": upload_id})
        return None if r is None else upload_row(r._mapping)

    def uploads_to_send(self, upload_ids: list[str]) -> dict[str, UploadRow]:
        """The uploads a message names, by id, each with its thumbnail's state as the message shows it:
        one statement for them all (a send is the hot path)."""
        if not upload_ids:
            return {}
        return uploads_by_id(self.database.rows(TO_SEND, {"ids": upload_ids}))

    def update_upload(self, upload: UploadRow) -> None:
        """Record progress; every change is activity, so it also restarts the expiry clock."""
        upload.touched_at = time.time()
        self.database.run(UPDATE_UPLOAD, {
            "b_id": upload.id, "b_offset": upload.offset, "b_head_checked": int(upload.head_checked),
            "b_type": upload.content_type, "b_sha256": upload.sha256, "b_touched_at": upload.touched_at})

    def touch_upload(self, upload: UploadRow) -> None:
        upload.touched_at = time.time()
        self.database.run(TOUCH_UPLOAD, {"b_id": upload.id, "b_touched_at": upload.touched_at})

    def is_attached(self, upload_id: str) -> bool:
        """Sent in a message: such an upload never expires."""
        return self.database.first(IS_ATTACHED, {"id": upload_id}) is not None

    def stale_uploads(self, before: float) -> list[UploadRow]:
        """Uploads no message uses whose last activity is older than `before` (the sweeper's list)."""
        rows = self.database.rows(select(uploads).where(
            uploads.c.touched_at < before, uploads.c.id.not_in(select(attachments.c.upload_id))))
        return [upload_row(r._mapping) for r in rows]

    def media_in_use(self, sha256: str) -> bool:
        """Media files are shared by every upload of the same bytes: any remaining row keeps the file."""
        return self.database.first(MEDIA_IN_USE, {"sha256": sha256}) is not None

    def incomplete_upload_ids(self) -> set[str]:
        return {r[0] for r in self.database.rows(select(uploads.c.id).where(uploads.c.sha256.is_(None)))}

    def delete_upload(self, upload_id: str) -> None:
        self.database.run(uploads.delete().where(
            uploads.c.id == upload_id, uploads.c.id.not_in(select(attachments.c.upload_id))))

    def media_type(self, sha256: str, name: str) -> str | None:
        """The type we believed when a file with these bytes and this name was uploaded."""
        return self.database.scalar(select(uploads.c.content_type).where(
            uploads.c.sha256 == sha256, uploads.c.name == name).limit(1))

    # -- thumbnails (server/media/thumbnails.py makes the files) ----------------------
    def has_thumbnail(self, sha256: str) -> bool:
        """Made already (or found impossible: 0 x 0) for the file with these bytes."""
        return self._exists(select(literal(1)).where(thumbnails.c.sha256 == sha256))

    def record_thumbnail(self, sha256: str, width: int, height: int) -> list[tuple[str, int]]:
        """Record it, and announce it to every message that shows the file: one update event each,
        as (conversation, seq). Under the message lock, so a message is either stored before (and
        gets its update) or after (and shows the thumbnail itself): none waits for it forever."""
        insert = self.database.insert(thumbnails).values(sha256=sha256, width=width, height=height,
                                                         made_at=time.time())
        with self.database.transaction() as conn:
            self.database.lock_messages(conn)
            conn.execute(insert.on_conflict_do_update(index_elements=["sha256"], set_={
                "width": insert.excluded.width, "height": insert.excluded.height, "made_at": insert.excluded.made_at}))
            showing = conn.execute(SHOWING, {"sha256": sha256}).all()
            return [(r.conversation, self._insert_update(conn, r.conversation, r.id)) for r in showing]

    def _insert_update(self, conn: Any, conversation: str, message_id: str) -> int:
        """An update event of `message_id` at a new seq (the caller holds the message lock)."""
        return int(conn.execute(INSERT_MESSAGE, {
            "id": uuid.uuid4().hex, "conversation": conversation, "sender": "", "sender_name": "",
            "sender_role": "", "text": "", "created_at": utc_now(), "idempotency_key": "",
            "update_of": message_id}).scalar_one())

    def forget_thumbnail(self, sha256: str) -> None:
        self.database.run(thumbnails.delete().where(thumbnails.c.sha256 == sha256))

    def uploads_without_thumbnail(self) -> list[UploadRow]:
        """One complete upload per file (sha256) that has no thumbnail row yet (the backfill's list)."""
        rows = self.database.rows(select(uploads).where(
            uploads.c.sha256.is_not(None),
            ~select(literal(1)).where(thumbnails.c.sha256 == uploads.c.sha256).exists()).order_by(uploads.c.id))
        first = {r._mapping["sha256"]: r for r in reversed(rows)}
        return [upload_row(r._mapping) for r in reversed(first.values())]

    # -- messages ----------------------------------------------------------
    def find_by_key(self, conversation: str, key: str) -> dict[str, Any] | None:
        if not key:
            return None
        found = grouped(self.database.rows(BY_KEY, {"conversation": conversation, "key": key}))
        return message_dict(*found[0]) if found else None

    def add_message(self, conversation: str, sender: str, text: str, key: str, uploads: list[UploadRow],
                    sender_name: str = "", sender_role: str = "") -> tuple[dict[str, Any], bool]:
        """Insert a message; returns (message, created). An existing key wins (idempotent resend), also
        when another process inserts the same key at the same moment: the loser returns the winner's.
        The key's unique index finds a resend (no lookup before the insert: a send is the hot path,
        a resend is rare)."""
        try:
            return self._insert_message(conversation, sender, text, key, uploads, sender_name, sender_role)
        except exc.IntegrityError:
            existing = self.find_by_key(conversation, key)
            if existing is None:
                raise
            return existing, False

    def _insert_message(self, conversation: str, sender: str, text: str, key: str, attached: list[UploadRow],
                        sender_name: str, sender_role: str) -> tuple[dict[str, Any], bool]:
        row: dict[str, Any] = {
            "id": uuid.uuid4().hex, "conversation": conversation, "sender": sender, "sender_name": sender_name,
            "sender_role": sender_role, "text": text, "created_at": utc_now(), "idempotency_key": key,
            "update_of": None}
        with self.database.transaction() as conn:
            self.database.lock_messages(conn)          # commit order = seq order, across processes
            if conversation not in self._conversations:
                conn.execute(self.database.insert(conversations).values(id=conversation, created_at=row["created_at"])
                             .on_conflict_do_nothing())
            pending = [u.id for u in attached if u.thumbnail is None and u.sha256 and thumbnail_ok(u.content_type)]
            if pending:     # their thumbnails as of now: one recorded later announces itself (under the lock)
                fresh = uploads_by_id(conn.execute(TO_SEND, {"ids": pending}))
                attached = [fresh.get(u.id, u) for u in attached]
            row["seq"] = conn.execute(INSERT_MESSAGE, row).scalar_one()
            if attached:
                conn.execute(attachments.insert(), [{"message_seq": row["seq"], "position": i, "upload_id": u.id}
                                                    for i, u in enumerate(attached)])
        self._conversations.add(conversation)
        return message_dict(row, attached), True      # as stored: no statement to read it back

    def messages(self, conversation: str, after: int | None = None) -> list[dict[str, Any]]:
        """The conversation's messages after `after`, oldest first (no update events)."""
        return [m for _seq, kind, m in self.events(conversation, after) if kind == "message"]

    def events(self, conversation: str, after: int | None = None) -> list[tuple[int, str, dict[str, Any]]]:
        """The conversation's events after `after` in seq order (the live backlog): (seq, "message",
        the message) or (seq, "update", the updated message as it is now). An update of a message
        that is itself in the list, or updated again later in it, is left out: that copy is current."""
        rows = grouped(self.database.rows(AFTER, {"conversation": conversation, "after": after or 0}))
        current = {r["id"]: message_dict(r, files) for r, files in rows if r["update_of"] is None}
        last_update = {r["update_of"]: r["seq"] for r, _files in rows if r["update_of"] is not None}
        updated = self._by_ids([i for i in last_update if i not in current])
        out = []
        for r, _files in rows:
            target = r["update_of"]
            if target is None:
                out.append((r["seq"], "message", current[r["id"]]))
            elif target in updated and last_update[target] == r["seq"]:
                out.append((r["seq"], "update", updated[target]))
        return out

    def _by_ids(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        if not ids:
            return {}
        return {r["id"]: message_dict(r, files) for r, files in grouped(self.database.rows(BY_IDS, {"ids": ids}))}

    def page(self, conversation: str, *, before: int | None = None, after: int | None = None,
             limit: int = 100) -> tuple[list[dict[str, Any]], int | None]:
        """The newest `limit` messages with after < seq < before, oldest first, and the seq to ask
        `before` for the page older than this one (None: this page reaches the start of that range).

        Keyset paging on the (conversation, seq) index: every page costs the same, however deep."""
        rows = [r._mapping for r in self.database.rows(PAGE, {
            "conversation": conversation, "after": after or 0, "before": MAX_SEQ if before is None else before,
            "limit": limit + 1})]
        older = rows[limit - 1]["seq"] if len(rows) > limit else None
        rows = rows[:limit]
        rows.reverse()
        return self._with_attachments(conversation, rows), older

    def _with_attachments(self, conversation: str, rows: list[RowMapping]) -> list[dict[str, Any]]:
        """Message dicts for `rows` (oldest first) with their uploads, in one more query over their seq range."""
        if not rows:
            return []
        attached: dict[int, list[UploadRow]] = {}
        span = {"first": rows[0]["seq"], "last": rows[-1]["seq"], "conversation": conversation}
        for u in self.database.rows(ATTACHED_IN_SPAN, span):
            attached.setdefault(u._mapping["message_seq"], []).append(upload_row(u._mapping))
        return [message_dict(r, attached.get(r["seq"], [])) for r in rows]

    def last_seq(self) -> int:
        return int(self.database.scalar(LAST_SEQ))

    def cluster_id(self) -> str:
        """The name drawn once for this database: processes that share it name their Redis keys after it."""
        return str(self.database.scalar(select(cluster.c.id)))

    def attached_media_type(self, sha256: str, name: str, conversation: str) -> str | None:
        """The type of a file with these bytes and this name sent in `conversation` (None: not sent there)."""
        return self.database.scalar(sent_in(select(uploads.c.content_type), sha256, conversation)
                                    .where(uploads.c.name == name).limit(1))

    def attached_in(self, sha256: str, conversation: str) -> bool:
        """Was a file with these bytes sent in `conversation` (under any name)? Its thumbnail may be shown there."""
        return self._exists(sent_in(select(literal(1)), sha256, conversation))

    def _exists(self, query: Any) -> bool:
        return self.database.first(query.limit(1)) is not None
