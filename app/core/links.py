"""Expiring media links: which link is which file, and when it stops working.

The reference server signs every attachment URL with an expiry (``e=`` unix
time, see server/media/link_signer.py); other backends' links may carry none. A page kept
open for longer than a link lives swaps the old URLs for fresh ones from the
history, matching them by what they point at: the URL without its query.

Pure: no clock of its own, no browser imports.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import parse_qs, urlsplit

from app.core.models import Message

__all__ = ["expiry", "file_key", "fresh_links", "next_check"]

# Fetch fresh links this long before the old ones end (links live between 3/4 and all of their ttl).
AHEAD_S = 60.0
MIN_GAP_S = 10.0  # never ask for fresh links more often than this


def file_key(url: str) -> str:
    """What a link points at, whatever its signature and expiry: the URL without query or fragment."""
    return url.split("#", 1)[0].split("?", 1)[0]


def expiry(url: str) -> int | None:
    """The unix time a signed link stops working (its ``e`` parameter), or None."""
    values = parse_qs(urlsplit(url).query).get("e", [])
    if len(values) != 1 or not values[0].isascii() or not values[0].isdigit() or len(values[0]) > 12:
        return None
    return int(values[0])


def fresh_links(messages: Iterable[Message]) -> dict[str, str]:
    """file key -> the newest link for it (the file's and its thumbnail's), from messages the server just sent."""
    urls = [u for m in messages for a in m.attachments for u in (a.url, a.thumbnail_url) if u]
    return {file_key(u): u for u in urls}


def next_check(urls: Iterable[str], now: float) -> float | None:
    """Seconds until fresh links are worth fetching (0: now), or None when no link expires."""
    ends = [e for e in map(expiry, urls) if e is not None]
    if not ends:
        return None
    lifetime_left = min(ends) - now
    # a short-lived link (tests, strict deployments) is renewed when half of what is left has passed
    return max(0.0, lifetime_left - AHEAD_S, lifetime_left / 2)
