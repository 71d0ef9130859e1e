"""Signed media URLs and the media download endpoint.

Why signed URLs: <img>/<video> tags cannot send a bearer token, so each
attachment URL carries an HMAC made with a secret that never leaves the data
dir. The signature covers the hash, the file name, the conversation and an
expiry: a valid link cannot be edited into `invoice.exe`, only serves a file
that was sent in that conversation, and stops working after
`[auth] media_link_ttl` (links are handed out only to members, by history and
events; a page shown again fetches fresh ones). Uploaded files are served with the
sandbox CSP and nosniff, and only types `core.media.opens_inline` allows
open in the browser; html/svg/xml always download.
"""

from __future__ import annotations

import hmac
import re
import time
import unicodedata
from hashlib import sha256
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from app.core.media import opens_inline
from server.blob_response import blob_response
from server.blobs import media_key, thumbnail_key
from server.common import CONVERSATION_ID, MIME_TYPE, ApiError

MEDIA_CSP = "sandbox; default-src 'none'; img-src 'self'; media-src 'self'; style-src 'unsafe-inline'"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
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


def content_disposition(kind: str, name: str) -> str:
    """RFC 6266 with an ASCII fallback and the exact name in RFC 5987 `filename*`."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    ascii_name = re.sub(r'[^A-Za-z0-9 ._()+,@=-]', "_", ascii_name).strip() or "download"
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


def _bad_link() -> ApiError:
    return ApiError(403, "bad_signature", "This media link is not valid.", "Reload the conversation for fresh links.")


def _signed(request: Request, digest: str, name: str) -> tuple[str, int]:
    """(conversation, seconds the link has left) of a valid, unexpired signed link; 403 otherwise."""
    q = request.query_params
    cid, expires, sig = q.get("c", ""), q.get("e", ""), q.get("sig", "")
    if not (_SHA256.match(digest) and CONVERSATION_ID.match(cid) and sig and expires.isascii()
            and expires.isdigit() and len(expires) <= 12):
        raise _bad_link()
    if not request.app.state.signer.verify(cid, int(expires), digest, name, sig):
        raise _bad_link()
    left = int(expires) - int(time.time())
    if left <= 0:
        raise ApiError(403, "link_expired", "This media link has expired.", "Reload the conversation for fresh links.")
    return cid, left


def _headers(disposition: str, left: int) -> dict[str, str]:
    return {
        "Content-Disposition": disposition,
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": MEDIA_CSP,
        "Cache-Control": f"private, max-age={left}, immutable",   # never cached beyond the link's life
    }


async def download(request: Request) -> Response:
    """GET /media/{sha256}/{filename}?c=conversation&e=expiry&sig=..."""
    state = request.app.state
    digest = request.path_params["sha256"]
    name = request.path_params["filename"]
    cid, left = _signed(request, digest, name)
    content_type = state.store.attached_media_type(digest, name, cid)
    size = None if content_type is None else await state.uploads.blobs.size(media_key(digest))
    if size is None or content_type is None:
        raise ApiError(404, "media_not_found", f"{name} is no longer on the server.")
    if not MIME_TYPE.fullmatch(content_type):      # a v1 data dir may hold anything here
        content_type = "application/octet-stream"
    kind = "inline" if opens_inline(content_type) else "attachment"
    headers = _headers(content_disposition(kind, name), left)
    if content_type.startswith("text/") and "charset" not in content_type:
        content_type += "; charset=utf-8"
    return blob_response(request, state.uploads.blobs, media_key(digest), size, content_type, headers, digest)


async def thumbnail(request: Request) -> Response:
    """GET /thumbnails/{sha256}?c=conversation&e=expiry&sig=... (a link from Signer.thumbnail_url)"""
    state = request.app.state
    digest = request.path_params["sha256"]
    cid, left = _signed(request, digest, THUMBNAIL)
    key = thumbnail_key(digest)
    size = await state.uploads.blobs.size(key) if state.store.attached_in(digest, cid) else None
    if size is None:
        raise ApiError(404, "media_not_found", "This thumbnail is no longer on the server.")
    return blob_response(request, state.uploads.blobs, key, size, "image/webp", _headers("inline", left),
                         f"{digest}.webp")
