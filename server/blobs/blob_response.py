"""A stored file as an HTTP answer, streamed from whichever store holds it, with single byte ranges.

Why not FileResponse: the bytes may be in a bucket, not a file; reading them
through `Blobs.read` serves both stores the same way (video seeking and
resumed downloads need `Range`). One range is answered with 206; several are
answered with the whole file (RFC 9110 lets a server ignore Range); a
malformed one is 400 and one past the end 416, as Starlette's FileResponse did.
Names are content hashes, so the hash is a strong ETag.
"""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse

from server.blobs.protocol import Blobs

_RANGE = re.compile(r"^\s*(\d*)\s*-\s*(\d*)\s*$")


class BadRange(ValueError):
    """Malformed Range header (400)."""


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """`Range: bytes=a-b` -> (start, end exclusive); None: serve the whole file; BadRange; raises
    IndexError when the one range starts past the end (416)."""
    units, _, spec = header.partition("=")
    if units.strip().lower() != "bytes" or not spec.strip():
        raise BadRange("Range header: only 'bytes=start-end' is supported.")
    parts = [p for p in spec.split(",") if p.strip() not in ("", "-")]
    if not parts:
        raise BadRange("Range header: range must be requested.")
    if len(parts) != 1:
        return None
    match = _RANGE.match(parts[0])
    if match is None or not (match.group(1) or match.group(2)):
        raise BadRange("Range header: malformed range.")
    first, last = match.group(1), match.group(2)
    if not first:                                   # bytes=-N: the last N bytes
        start, end = max(size - int(last), 0), size
    else:
        start, end = int(first), size if not last else min(int(last) + 1, size)
    if not 0 <= start < size:
        raise IndexError(size)
    if start >= end:
        raise BadRange("Range header: start must be less than end.")
    return start, end


def blob_response(request: Request, blobs: Blobs, key: str, size: int, media_type: str,
                  headers: dict[str, str], etag: str) -> Response:
    """200 (or 206 for one range, 304 for a matching If-None-Match) streaming `key`; HEAD sends the headers only."""
    headers = {**headers, "Accept-Ranges": "bytes", "ETag": f'"{etag}"'}
    if request.headers.get("if-none-match") in (headers["ETag"], "*"):
        return Response(status_code=304, headers=headers)
    start, end, status = 0, size, 200
    wanted = request.headers.get("range")
    if_range = request.headers.get("if-range")
    if wanted is not None and size > 0 and (if_range is None or if_range == headers["ETag"]):
        try:
            chosen = parse_range(wanted, size)
        except BadRange as e:
            return PlainTextResponse(str(e), status_code=400)
        except IndexError:
            return PlainTextResponse("", status_code=416, headers={"Content-Range": f"bytes */{size}"})
        if chosen is not None:
            (start, end), status = chosen, 206
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    headers["Content-Length"] = str(end - start)
    if request.method == "HEAD":
        return Response(status_code=status, media_type=media_type, headers=headers)
    return StreamingResponse(blobs.read(key, start, end), status_code=status, media_type=media_type,
                             headers=headers)
