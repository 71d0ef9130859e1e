"""Seed a long conversation straight into a reference server's SQLite database (tests and bench only).

Why not over the API: 100,000 messages through POST take minutes; one
transaction takes a second. The rows are exactly what `server.store.queries` writes
(the same columns, seq from AUTOINCREMENT), so the server serves them like any
others; a running server sees them at once (SQLite WAL). Attachments reuse an
upload the API already made (`attach`: its id), as if the same file had been
sent again: the same media file, the same thumbnail.
"""
from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

TEXT = "Message {i:05d}: the quick brown fox jumps over the lazy dog, order #{order} ships tomorrow."


def seed(db_path: Path, conversation: str, count: int, *, attach: str | None = None, attach_every: int = 50,
         text: Callable[[int], str] = lambda i: TEXT.format(i=i, order=1000 + i),
         created_at: Callable[[int], str] | None = None) -> list[int]:
    """Add `count` messages (customer and agent in turn, i = 0..count-1); returns their seqs."""
    start = datetime.now(UTC) - timedelta(minutes=count)
    when = created_at or (lambda i: (start + timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%SZ"))
    db = sqlite3.connect(db_path, isolation_level=None, timeout=30)
    try:
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT OR IGNORE INTO conversations (id, created_at) VALUES (?, ?)", (conversation, when(0)))
        template = None
        if attach is not None:
            template = db.execute("SELECT owner, name, size, declared_type, content_type, sha256, created_at"
                                  " FROM uploads WHERE id = ?", (attach,)).fetchone()
        seqs: list[int] = []
        for i in range(count):
            sender = "agent" if i % 2 else "customer"
            cur = db.execute(
                "INSERT INTO messages (id, conversation, sender, sender_name, sender_role, text, created_at,"
                " idempotency_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (uuid.uuid4().hex, conversation, sender, sender.title(), sender, text(i), when(i), uuid.uuid4().hex))
            assert cur.lastrowid is not None   # set by every INSERT
            seqs.append(cur.lastrowid)
            if template is not None and i % attach_every == 0:
                upload_id = uuid.uuid4().hex
                owner, name, size, declared, content_type, sha, created = template
                db.execute('INSERT INTO uploads (id, owner, name, size, declared_type, content_type, "offset",'
                           " head_checked, sha256, created_at, touched_at) VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?, 0)",
                           (upload_id, owner, f"photo-{i}.png", size, declared, content_type, size, sha, created))
                db.execute("INSERT INTO attachments (message_seq, position, upload_id) VALUES (?, 0, ?)",
                           (cur.lastrowid, upload_id))
        db.execute("COMMIT")
        return seqs
    finally:
        db.close()
