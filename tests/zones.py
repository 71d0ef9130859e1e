"""A reader's time zone for tests, written out (no tz database needed)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone


def paris(moment: datetime) -> int:
    """Central European time: +60 minutes, or +120 from 01:00 UTC on the last Sunday of March to
    01:00 UTC on the last Sunday of October. What JS Date's getTimezoneOffset says in Paris."""
    def last_sunday(month: int) -> datetime:
        day = datetime(moment.year, month, 31, 1, tzinfo=timezone.utc)
        return day - timedelta(days=(day.weekday() + 1) % 7)
    return 120 if last_sunday(3) <= moment < last_sunday(10) else 60
