"""Upload quotas per identity (token `sub`): uploads in progress at once, and bytes per 24 hours.

Why at creation: tus announces an upload's size up front, so an upload that
would pass a quota is refused (429) before any byte is sent, and a burst of
creations is stopped at the `max_open_uploads`-th one.

Why a ledger table of its own: an upload's declared size counts against the
daily bytes from the moment it is created (so parallel uploads cannot overrun
the quota), and one that is terminated or expires early gives back what it
never received. Its upload row is deleted by then, so the ledger keeps what
each upload cost for 24 hours. Statements run on the event loop with no await
between the check and the creation, so a burst cannot slip past.

Every refusal says which quota, with `Retry-After` and a sentence the page
shows: when the room frees up at the latest (the oldest upload in progress
expires, or the oldest bytes leave the 24-hour window).
"""

from __future__ import annotations

import math
import sqlite3
import time
from collections.abc import Callable

from app.core.humanize import human_size
from server.common import ApiError

WINDOW = 24 * 3600.0
SCHEMA = """
CREATE TABLE IF NOT EXISTS upload_quota (
    upload_id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    at REAL NOT NULL,              -- unix time of creation
    bytes INTEGER NOT NULL         -- declared size; what was received once it is gone unfinished
);
CREATE INDEX IF NOT EXISTS upload_quota_owner ON upload_quota(owner, at);
CREATE INDEX IF NOT EXISTS upload_quota_at ON upload_quota(at);
CREATE INDEX IF NOT EXISTS uploads_open ON uploads(owner, touched_at) WHERE sha256 IS NULL;
"""


def in_words(seconds: float) -> str:
    """A wait as people say it: '40 seconds', '12 minutes', '3 hours 5 minutes'."""
    s = max(1, math.ceil(seconds))
    if s < 60:
        return f"{s} second{'s' * (s != 1)}"
    m = math.ceil(s / 60)
    if m < 60:
        return f"{m} minute{'s' * (m != 1)}"
    h, m = divmod(m, 60)
    hours = f"{h} hour{'s' * (h != 1)}"
    return hours if not m else f"{hours} {m} minute{'s' * (m != 1)}"


class Quotas:
    def __init__(self, db: sqlite3.Connection, max_open: int, daily_bytes: int, expiry: float,
                 clock: Callable[[], float] = time.time) -> None:
        self.db, self.max_open, self.daily_bytes, self.expiry, self._clock = db, max_open, daily_bytes, expiry, clock
        db.executescript(SCHEMA)

    def admit(self, owner: str, name: str, size: int) -> None:
        """Raise 429 when one more upload of `size` bytes would pass a quota of `owner`."""
        now = self._clock()
        self.db.execute("DELETE FROM upload_quota WHERE at <= ?", (now - WINDOW,))
        count, oldest = self.db.execute(
            "SELECT COUNT(*), MIN(touched_at) FROM uploads WHERE owner = ? AND sha256 IS NULL AND touched_at > ?",
            (owner, now - self.expiry)).fetchone()
        if count >= self.max_open:
            wait = oldest + self.expiry - now
            raise _refuse(
                "too_many_open_uploads", "max_open_uploads", self.max_open, wait,
                f"You have {count} uploads in progress, the most this server takes at once ({self.max_open}). "
                f"One frees up when you finish or cancel it, or in {in_words(wait)} at the latest, "
                "when the oldest expires.",
                "Finish or cancel an upload in progress, then try again.")
        rows = self.db.execute("SELECT at, bytes FROM upload_quota WHERE owner = ? ORDER BY at",
                               (owner,)).fetchall()
        used = sum(b for _, b in rows)
        need = used + size - self.daily_bytes
        if need > 0:
            freed, wait = 0, WINDOW
            for at, cost in rows:
                freed += cost
                if freed >= need:
                    wait = at + WINDOW - now
                    break
            raise _refuse(
                "daily_upload_quota", "daily_bytes_per_identity", self.daily_bytes, wait,
                f"{name} ({human_size(size)}) would take your uploads past {human_size(self.daily_bytes)} in "
                f"24 hours: {human_size(used)} are uploaded or on their way. There is room for it in "
                f"{in_words(wait)}.",
                "Send it later, or send a smaller file.")

    def charge(self, upload_id: str, owner: str, size: int) -> None:
        """Count a new upload's declared size from now on."""
        self.db.execute("INSERT OR REPLACE INTO upload_quota (upload_id, owner, at, bytes) VALUES (?, ?, ?, ?)",
                        (upload_id, owner, self._clock(), size))

    def settle(self, upload_id: str, received: int) -> None:
        """An upload is gone before it finished: only the bytes it received still count."""
        self.db.execute("UPDATE upload_quota SET bytes = MIN(bytes, ?) WHERE upload_id = ?", (received, upload_id))


def _refuse(code: str, quota: str, limit: int, wait: float, message: str, hint: str) -> ApiError:
    retry = max(1, math.ceil(wait))
    return ApiError(429, code, message, hint, headers={"Retry-After": str(retry)},
                    quota=quota, limit=limit, retry_after=retry)
