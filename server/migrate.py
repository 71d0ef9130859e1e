"""Schema migrations for existing data directories, run at every start.

Why additive only: a v1 data dir must keep working, and a newer server must
never leave one that an older copy cannot read. So columns are added with
defaults (SQLite's ALTER TABLE ADD COLUMN is instant) and rows are filled in,
inside one transaction.
"""

from __future__ import annotations

import sqlite3
import time


def _columns(db: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in db.execute(f"PRAGMA table_info({table})")}


def migrate(db: sqlite3.Connection) -> None:
    """v1 -> v2: uploads record their last activity (expiry); messages record the sender's display
    name and role besides its id (`sender` = sub); media links look attachments up by upload (an index)."""
    db.execute("CREATE INDEX IF NOT EXISTS attachments_upload ON attachments(upload_id)")
    if "touched_at" not in _columns(db, "uploads"):
        # Data dirs from before expiry: their uploads start their grace period now, not in 1970.
        db.execute("ALTER TABLE uploads ADD COLUMN touched_at REAL NOT NULL DEFAULT 0")
        db.execute("UPDATE uploads SET touched_at = ?", (time.time(),))
    if "sender_role" in _columns(db, "messages"):
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        if "sender_role" not in _columns(db, "messages"):    # another process may have done it meanwhile
            db.execute("ALTER TABLE messages ADD COLUMN sender_name TEXT NOT NULL DEFAULT ''")
            db.execute("ALTER TABLE messages ADD COLUMN sender_role TEXT NOT NULL DEFAULT ''")
            # v1 senders were development identities: "customer" the customer, the rest agents.
            db.execute("UPDATE messages SET sender_name = upper(substr(sender, 1, 1)) || substr(sender, 2),"
                       " sender_role = CASE sender WHEN 'customer' THEN 'customer' ELSE 'agent' END")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
