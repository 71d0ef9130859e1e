"""The media and thumbnail download endpoints, behind signed links (server/media/link_signer.py).

The signature covers the hash, the file name, the conversation and an
expiry: a valid link cannot be edited into `invoice.exe`, only serves a file
that was sent in that conversation, and stops working after
`[auth] media_link_ttl` (links are handed out only to members, by history and
events; a page shown again fetches fresh ones). Uploaded files are served with the
sandbox CSP and nosniff, and only types `core.media.opens_inline` allows
open in the browser; html/svg/xml always download.
"""

from __future__ import annotations

import re
import time
import unicodedata
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.core.media import opens_inline
from server.blobs.blob_response import blob_response
from server.blobs.protocol import Blobs, media_key, thumbnail_key
from server.http.api_error import ApiError
from server.http.inputs import CONVERSATION_ID, MIME_TYPE
from server.media.link_signer import THUMBNAIL, Signer
from server.store.queries import Store

MEDIA_CSP = "sandbox; default-src 'none'; img-src 'self'; media-src 'self'; style-src 'unsafe-inline'"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def content_disposition(kind: str, name: str) -> str:
    """RFC 6266 with an ASCII fallback and the exact name in RFC 5987 `filename*`."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    ascii_name = re.sub(r'[^A-Za-z0-9 ._()+,@=-]', "_", ascii_name).strip() or "download"
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


def _bad_link() -> ApiError:
    return ApiError(403, "bad_signature", "This media link is not valid.", "Reload the conversation for fresh links.")


def _signed(request: Request, signer: Signer, digest: str, name: str) -> tuple[str, int]:
    """(conversation, seconds the link has left) of a valid, unexpired signed link; 403 otherwise."""
    q = request.query_params
    cid, expires, sig = q.get("c", ""), q.get("e", ""), q.get("sig", "")
    if not (_SHA256.match(digest) and CONVERSATION_ID.match(cid) and sig and expires.isascii()
            and expires.isdigit() and len(expires) <= 12):
        raise _bad_link()
    if not signer.verify(cid, int(expires), digest, name, sig):
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


class MediaDownloads:
    """The endpoints, given where the bytes are, which messages name them, and the link signer."""

    def __init__(self, store: Store, blobs: Blobs, signer: Signer) -> None:
        self.store, self.blobs, self.signer = store, blobs, signer

    def routes(self) -> list[Route]:
        return [Route("/media/{sha256}/{filename:path}", self.download), Route("/thumbnails/{sha256}", self.thumbnail)]

    async def download(self, request: Request) -> Response:
        """GET /media/{sha256}/{filename}?c=conversation&e=expiry&sig=..."""
        digest = request.path_params["sha256"]
        name = request.path_params["filename"]
        cid, left = _signed(request, self.signer, digest, name)
        content_type = self.store.attached_media_type(digest, name, cid)
        size = None if content_type is None else await self.blobs.size(media_key(digest))
        if size is None or content_type is None:
            raise ApiError(404, "media_not_found", f"{name} is no longer on the server.")
        if not MIME_TYPE.fullmatch(content_type):      # a v1 data dir may hold anything here
            content_type = "application/octet-stream"
        kind = "inline" if opens_inline(content_type) else "attachment"
        headers = _headers(content_disposition(kind, name), left)
        if content_type.startswith("text/") and "charset" not in content_type:
            content_type += "; charset=utf-8"
        return blob_response(request, self.blobs, media_key(digest), size, content_type, headers, digest)

    async def thumbnail(self, request: Request) -> Response:
        """GET /thumbnails/{sha256}?c=conversation&e=expiry&sig=... (a link from Signer.thumbnail_url)"""
        digest = request.path_params["sha256"]
        cid, left = _signed(request, self.signer, digest, THUMBNAIL)
        key = thumbnail_key(digest)
        size = await self.blobs.size(key) if self.store.attached_in(digest, cid) else None
        if size is None:
            raise ApiError(404, "media_not_found", "This thumbnail is no longer on the server.")
        return blob_response(request, self.blobs, key, size, "image/webp", _headers("inline", left),
                             f"{digest}.webp")
