"""Signed media URLs: an HMAC over the file's hash, its name, the conversation and an expiry.

Why signed URLs: <img>/<video> tags cannot send a bearer token, so each
attachment URL carries an HMAC made with a secret that never leaves the data
dir. A valid link cannot be edited into `invoice.exe`, only serves a file
that was sent in that conversation, and stops working after
`[auth] media_link_ttl`.
"""

from __future__ import annotations

import hmac
import time
from hashlib import sha256
from urllib.parse import quote

THUMBNAIL = "\0thumbnail"


class Signer:
    def __init__(self, secret: bytes, ttl: int = 3600, clock=time.time) -> None:
        self._secret, self.ttl, self._clock = secret, ttl, clock

    def expiry(self) -> int:
        """now + ttl, rounded down to a quarter of the ttl, so the links of one page view are the
        same URL (the browser's cache works) and no link lives longer than the ttl."""
        step = max(1, self.ttl // 4)
        return (int(self._clock()) + self.ttl) // step * step

    def sig(self, cid: str, expires: int, digest: str, name: str) -> str:
        message = f"{cid}\n{expires}\n{digest}/{name}".encode()
        return hmac.new(self._secret, message, sha256).hexdigest()[:32]

    def url(self, cid: str, digest: str, name: str) -> str:
        """Root-relative, so it works behind any host name; clients join it to their base URL."""
        expires = self.expiry()
        return (f"/media/{digest}/{quote(name, safe='')}?c={quote(cid, safe='')}&e={expires}"
                f"&sig={self.sig(cid, expires, digest, name)}")

    def thumbnail_url(self, cid: str, digest: str) -> str:
        """The thumbnail of a sent file: signed and expiring like its media link, but for another
        resource (the name signed is one no upload can have: names lose control characters)."""
        expires = self.expiry()
        return (f"/thumbnails/{digest}?c={quote(cid, safe='')}&e={expires}"
                f"&sig={self.sig(cid, expires, digest, THUMBNAIL)}")

    def verify(self, cid: str, expires: int, digest: str, name: str, sig: str) -> bool:
        return hmac.compare_digest(self.sig(cid, expires, digest, name), sig)
