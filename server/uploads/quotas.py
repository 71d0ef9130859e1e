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
import time
from collections.abc import Callable

from sqlalchemy import case, func, select, true

from app.core.humanize import human_size
from server.http.api_error import ApiError
from server.store.database import Database
from server.store.schema import upload_quota, uploads

WINDOW = 24 * 3600.0
PRUNE_EVERY = 60.0     # seconds between deletions of ledger rows past the window (rows read are filtered anyway)


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
    def __init__(self, database: Database, max_open: int, daily_bytes: int, expiry: float,
                 clock: Callable[[], float] = time.time) -> None:
        self.database, self.max_open, self.daily_bytes, self.expiry = database, max_open, daily_bytes, expiry
        self._clock = clock
        self._pruned = -math.inf

    def admit(self, owner: str, name: str, size: int) -> None:
        """Raise 429 when one more upload of `size` bytes would pass a quota of `owner`."""
        now = self._clock()
        if now - self._pruned >= PRUNE_EVERY:     # not on every upload: one statement less on the busy path
            self.database.run(upload_quota.delete().where(upload_quota.c.at <= now - WINDOW))
            self._pruned = now
        window = upload_quota.c.owner == owner, upload_quota.c.at > now - WINDOW
        opened = select(func.count().label("n"), func.min(uploads.c.touched_at).label("oldest")).where(
            uploads.c.owner == owner, uploads.c.sha256.is_(None), uploads.c.touched_at > now - self.expiry).subquery()
        spent = select(func.coalesce(func.sum(upload_quota.c.bytes), 0).label("bytes")).where(*window).subquery()
        count, oldest, used = self.database.first(      # both quotas in one round trip
            select(opened.c.n, opened.c.oldest, spent.c.bytes).select_from(opened.join(spent, true())))
        if count >= self.max_open:
            wait = oldest + self.expiry - now
            raise _refuse(
                "too_many_open_uploads", "max_open_uploads", self.max_open, wait,
                f"You have {count} uploads in progress, the most this server takes at once ({self.max_open}). "
                f"One frees up when you finish or cancel it, or in {in_words(wait)} at the latest, "
                "when the oldest expires.",
                "Finish or cancel an upload in progress, then try again.")
        need = used + size - self.daily_bytes
        if need > 0:     # refused: when is there room? (the ledger's rows, oldest first)
            rows = self.database.rows(select(upload_quota.c.at, upload_quota.c.bytes).where(*window)
                                      .order_by(upload_quota.c.at))
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
        insert = self.database.insert(upload_quota).values(upload_id=upload_id, owner=owner, at=self._clock(),
                                                           bytes=size)
        self.database.run(insert.on_conflict_do_update(index_elements=["upload_id"], set_={
            "owner": insert.excluded.owner, "at": insert.excluded.at, "bytes": insert.excluded.bytes}))

    def settle(self, upload_id: str, received: int) -> None:
        """An upload is gone before it finished: only the bytes it received still count."""
        self.database.run(upload_quota.update().where(upload_quota.c.upload_id == upload_id).values(
            bytes=case((upload_quota.c.bytes < received, upload_quota.c.bytes), else_=received)))


def _refuse(code: str, quota: str, limit: int, wait: float, message: str, hint: str) -> ApiError:
    retry = max(1, math.ceil(wait))
    return ApiError(429, code, message, hint, headers={"Retry-After": str(retry)},
                    quota=quota, limit=limit, retry_after=retry)
