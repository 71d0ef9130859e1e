"""SQLite persistence for conversations, messages and uploads.

Why SQLite in WAL mode on the event-loop thread: every statement here is
small and indexed (well under a millisecond), so a single connection without
thread hops is both the simplest and the fastest choice; bulk byte work
(writing and hashing uploads) happens elsewhere, in threads.
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from server.migrate import migrate

SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,      -- global, never reused
    id TEXT NOT NULL UNIQUE,
    conversation TEXT NOT NULL REFERENCES conversations(id),
    sender TEXT NOT NULL,
    text TEXT NOT NULL,
    created_at TEXT NOT NULL,
    idempotency_key TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX IF NOT EXISTS messages_idempotency
    ON messages(conversation, idempotency_key) WHERE idempotency_key != '';
CREATE INDEX IF NOT EXISTS messages_conversation ON messages(conversation, seq);
CREATE TABLE IF NOT EXISTS uploads (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    name TEXT NOT NULL,
    size INTEGER NOT NULL,
    declared_type TEXT NOT NULL,
    content_type TEXT NOT NULL,
    "offset" INTEGER NOT NULL DEFAULT 0,
    head_checked INTEGER NOT NULL DEFAULT 0,
    sha256 TEXT,                                -- set when complete
    created_at TEXT NOT NULL,
    touched_at REAL NOT NULL DEFAULT 0          -- unix time of the last activity; expiry counts from here
);
CREATE INDEX IF NOT EXISTS uploads_media ON uploads(sha256, name);
CREATE TABLE IF NOT EXISTS attachments (
    message_seq INTEGER NOT NULL REFERENCES messages(seq),
    position INTEGER NOT NULL,
    upload_id TEXT NOT NULL REFERENCES uploads(id),
    PRIMARY KEY (message_seq, position)
);
CREATE TABLE IF NOT EXISTS thumbnails (
    sha256 TEXT PRIMARY KEY,                    -- of the original (media/<sha256>)
    width INTEGER NOT NULL,                     -- 0 x 0: none could be made (a bad or hostile image)
    height INTEGER NOT NULL,
    made_at REAL NOT NULL
);
"""
MAX_SEQ = 2**63 - 1
# An attachment's thumbnail, joined as `LEFT JOIN thumbnails t ON t.sha256 = u.sha256`.
THUMB_COLUMNS = "t.width AS thumb_width, t.height AS thumb_height"


def utc_now() -> str:
    """ISO 8601 UTC with a Z, second precision, as the contract shows."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class UploadRow:
    id: str
    owner: str
    name: str
    size: int
    declared_type: str
    content_type: str
    offset: int
    head_checked: bool
    sha256: str | None
    created_at: str
    touched_at: float = 0.0
    thumbnail: tuple[int, int] | None = None    # (width, height) of its thumbnail, when one was made

    @property
    def complete(self) -> bool:
        return self.sha256 is not None


class Store:
    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")   # WAL + NORMAL: durable across process crashes
        self.db.execute("PRAGMA foreign_keys=ON")
        self.db.executescript(SCHEMA)
        migrate(self.db)

    def close(self) -> None:
        self.db.close()

    # -- uploads -----------------------------------------------------------
    def create_upload(self, owner: str, name: str, size: int, declared_type: str, content_type: str) -> UploadRow:
        row = UploadRow(uuid.uuid4().hex, owner, name, size, declared_type, content_type, 0, False, None, utc_now(),
                        time.time())
        self.db.execute(
            'INSERT INTO uploads (id, owner, name, size, declared_type, content_type, "offset", head_checked,'
            " sha256, created_at, touched_at) VALUES (?, ?, ?, ?, ?, ?, 0, 0, NULL, ?, ?)",
            (row.id, owner, name, size, declared_type, content_type, row.created_at, row.touched_at),
        )
        return row

    def get_upload(self, upload_id: str) -> UploadRow | None:
        r = self.db.execute("SELECT * FROM uploads WHERE id = ?", (upload_id,)).fetchone()
        return None if r is None else _upload(r)

    def update_upload(self, upload: UploadRow) -> None:
        """Record progress; every change is activity, so it also restarts the expiry clock."""
        upload.touched_at = time.time()
        self.db.execute(
            'UPDATE uploads SET "offset" = ?, head_checked = ?, content_type = ?, sha256 = ?, touched_at = ?'
            " WHERE id = ?",
            (upload.offset, int(upload.head_checked), upload.content_type, upload.sha256, upload.touched_at,
             upload.id),
        )

    def touch_upload(self, upload: UploadRow) -> None:
        upload.touched_at = time.time()
        self.db.execute("UPDATE uploads SET touched_at = ? WHERE id = ?", (upload.touched_at, upload.id))

    def is_attached(self, upload_id: str) -> bool:
        """Sent in a message: such an upload never expires."""
        return self.db.execute("SELECT 1 FROM attachments WHERE upload_id = ? LIMIT 1",
                               (upload_id,)).fetchone() is not None

    def stale_uploads(self, before: float) -> list[UploadRow]:
        """Uploads no message uses whose last activity is older than `before` (the sweeper's list)."""
        rows = self.db.execute("SELECT * FROM uploads WHERE touched_at < ?"
                               " AND id NOT IN (SELECT upload_id FROM attachments)", (before,)).fetchall()
        return [_upload(r) for r in rows]

    def media_in_use(self, sha256: str) -> bool:
        """Media files are shared by every upload of the same bytes: any remaining row keeps the file."""
        return self.db.execute("SELECT 1 FROM uploads WHERE sha256 = ? LIMIT 1", (sha256,)).fetchone() is not None

    def upload_ids(self) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT id FROM uploads")}

    def delete_upload(self, upload_id: str) -> None:
        self.db.execute("DELETE FROM uploads WHERE id = ? AND id NOT IN (SELECT upload_id FROM attachments)",
                        (upload_id,))

    def media_type(self, sha256: str, name: str) -> str | None:
        """The type we believed when a file with these bytes and this name was uploaded."""
        r = self.db.execute("SELECT content_type FROM uploads WHERE sha256 = ? AND name = ? LIMIT 1",
                            (sha256, name)).fetchone()
        return None if r is None else r[0]

    # -- messages ----------------------------------------------------------
    def find_by_key(self, conversation: str, key: str) -> dict[str, Any] | None:
        if not key:
            return None
        r = self.db.execute("SELECT * FROM messages WHERE conversation = ? AND idempotency_key = ?",
                            (conversation, key)).fetchone()
        return None if r is None else self._message(r)

    def add_message(self, conversation: str, sender: str, text: str, key: str, uploads: list[UploadRow],
                    sender_name: str = "", sender_role: str = "") -> tuple[dict[str, Any], bool]:
        """Insert a message; returns (message, created). An existing key wins (idempotent resend)."""
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            existing = self.find_by_key(conversation, key)
            if existing is not None:
                db.execute("COMMIT")
                return existing, False
            now = utc_now()
            db.execute("INSERT OR IGNORE INTO conversations (id, created_at) VALUES (?, ?)", (conversation, now))
            cur = db.execute(
                "INSERT INTO messages (id, conversation, sender, sender_name, sender_role, text, created_at,"
                " idempotency_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (uuid.uuid4().hex, conversation, sender, sender_name, sender_role, text, now, key),
            )
            seq = cur.lastrowid
            db.executemany("INSERT INTO attachments (message_seq, position, upload_id) VALUES (?, ?, ?)",
                           [(seq, i, u.id) for i, u in enumerate(uploads)])
            row = db.execute("SELECT * FROM messages WHERE seq = ?", (seq,)).fetchone()
            message = self._message(row)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return message, True

    def messages(self, conversation: str, after: int | None = None) -> list[dict[str, Any]]:
        """The conversation's messages after `after`, oldest first (the events backlog): two queries."""
        rows = self.db.execute("SELECT * FROM messages WHERE conversation = ? AND seq > ? ORDER BY seq",
                               (conversation, after or 0)).fetchall()
        return self._with_attachments(conversation, rows)

    def page(self, conversation: str, *, before: int | None = None, after: int | None = None,
             limit: int = 100) -> tuple[list[dict[str, Any]], int | None]:
        """The newest `limit` messages with after < seq < before, oldest first, and the seq to ask
        `before` for the page older than this one (None: this page reaches the start of that range).

        Keyset paging on the (conversation, seq) index: every page costs the same, however deep."""
        rows = self.db.execute(
            "SELECT * FROM messages WHERE conversation = ? AND seq > ? AND seq < ? ORDER BY seq DESC LIMIT ?",
            (conversation, after or 0, MAX_SEQ if before is None else before, limit + 1)).fetchall()
        older = rows[limit - 1]["seq"] if len(rows) > limit else None
        rows = rows[:limit]
        rows.reverse()
        return self._with_attachments(conversation, rows), older

    def _with_attachments(self, conversation: str, rows: list[sqlite3.Row]) -> list[dict[str, Any]]:
        """Message dicts for `rows` (oldest first) with their uploads, in one more query over their seq range."""
        if not rows:
            return []
        attached: dict[int, list[UploadRow]] = {}
        for u in self.db.execute(
                f"SELECT a.message_seq, u.*, {THUMB_COLUMNS} FROM attachments a JOIN uploads u ON u.id = a.upload_id"
                " JOIN messages m ON m.seq = a.message_seq LEFT JOIN thumbnails t ON t.sha256 = u.sha256"
                " WHERE a.message_seq BETWEEN ? AND ? AND m.conversation = ? ORDER BY a.message_seq, a.position",
                (rows[0]["seq"], rows[-1]["seq"], conversation)):
            attached.setdefault(u["message_seq"], []).append(_upload(u))
        return [_message_dict(r, attached.get(r["seq"], [])) for r in rows]

    def last_seq(self) -> int:
        return self.db.execute("SELECT COALESCE(MAX(seq), 0) FROM messages").fetchone()[0]

    def attached_media_type(self, sha256: str, name: str, conversation: str) -> str | None:
        """The type of a file with these bytes and this name sent in `conversation` (None: not sent there)."""
        r = self.db.execute(
            "SELECT u.content_type FROM uploads u JOIN attachments a ON a.upload_id = u.id"
            " JOIN messages m ON m.seq = a.message_seq WHERE u.sha256 = ? AND u.name = ? AND m.conversation = ?"
            " LIMIT 1", (sha256, name, conversation)).fetchone()
        return None if r is None else r[0]

    def attached_in(self, sha256: str, conversation: str) -> bool:
        """Was a file with these bytes sent in `conversation` (under any name)? Its thumbnail may be shown there."""
        return self.db.execute(
            "SELECT 1 FROM uploads u JOIN attachments a ON a.upload_id = u.id JOIN messages m ON m.seq = a.message_seq"
            " WHERE u.sha256 = ? AND m.conversation = ? LIMIT 1", (sha256, conversation)).fetchone() is not None

    def _message(self, r: sqlite3.Row) -> dict[str, Any]:
        """One message with its attachments (upload rows; the API layer adds URLs)."""
        ups = self.db.execute(
            f"SELECT u.*, {THUMB_COLUMNS} FROM attachments a JOIN uploads u ON u.id = a.upload_id"
            " LEFT JOIN thumbnails t ON t.sha256 = u.sha256 WHERE a.message_seq = ? ORDER BY a.position",
            (r["seq"],)).fetchall()
        return _message_dict(r, [_upload(u) for u in ups])


def _message_dict(r: sqlite3.Row, attachments: list[UploadRow]) -> dict[str, Any]:
    return {
        "id": r["id"], "seq": r["seq"], "conversation": r["conversation"], "sender": r["sender"],
        "sender_name": r["sender_name"], "sender_role": r["sender_role"], "text": r["text"], "created_at": r["created_at"], "idempotency_key": r["idempotency_key"],
        "attachments": attachments,
    }


def _upload(r: sqlite3.Row) -> UploadRow:
    u = UploadRow(r["id"], r["owner"], r["name"], r["size"], r["declared_type"], r["content_type"],
                  r["offset"], bool(r["head_checked"]), r["sha256"], r["created_at"], r["touched_at"])
    if "thumb_width" in r.keys() and r["thumb_width"]:
        u.thumbnail = (r["thumb_width"], r["thumb_height"])
    return u
