"""tus 1.0.0 plumbing: versions, headers, metadata, dates, and the middleware that enforces them.

Why a middleware: every request and response of the upload URLs carries
`Tus-Resumable`, other versions get 412 (no version: 400) before any handler runs, and
`X-HTTP-Method-Override` must change the method before routing; doing it
once here keeps the handlers about uploads only. CORS preflights never get
here (CORSMiddleware answers them), so a plain OPTIONS reaches the handler.
"""

from __future__ import annotations

import base64
import binascii
import re
from email.utils import formatdate

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.http.api_error import ApiError, error_response
from server.http.inputs import parse_uint

TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = "creation,expiration,termination"
UPLOADS_PATH = "/api/uploads"
# CORS: what a browser tus client (tus-js-client, Uppy) sends and must be able to read.
REQUEST_HEADERS = ["Tus-Resumable", "Upload-Length", "Upload-Metadata", "Upload-Offset",
                   "X-HTTP-Method-Override", "X-Requested-With"]
EXPOSE_HEADERS = ["Location", "Upload-Offset", "Upload-Length", "Upload-Expires", "Upload-Metadata",
                  "Tus-Resumable", "Tus-Version", "Tus-Extension", "Tus-Max-Size", "Retry-After"]
_OVERRIDABLE = {"PATCH", "DELETE", "HEAD"}
_VERSION = re.compile(r"[0-9]{1,4}\.[0-9]{1,4}\.[0-9]{1,4}")


def http_date(timestamp: float) -> str:
    """RFC 9110 IMF-fixdate, as Upload-Expires wants: 'Wed, 25 Jun 2014 16:00:00 GMT'."""
    return formatdate(timestamp, usegmt=True)


def parse_metadata(value: str) -> dict[str, str]:
    """`Upload-Metadata`: comma-separated `key base64value` pairs (value optional); 400 when malformed."""
    result: dict[str, str] = {}
    for pair in value.split(","):
        pair = pair.strip()
        if not pair:
            continue
        key, _, encoded = pair.partition(" ")
        encoded = encoded.strip()
        if not key or " " in encoded or key in result:
            raise _bad_metadata(f"{pair[:40]!r} is not a unique 'key base64value' pair.")
        try:
            result[key] = base64.b64decode(encoded, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            raise _bad_metadata(f"the value of {key[:40]!r} is not base64 of UTF-8 text.") from None
    return result


CREATION_KEY = "idempotency-key"              # Upload-Metadata: a creation sent again names the same upload
_KEY_SHAPE = re.compile(r"[A-Za-z0-9_-]{16,128}")


def creation_key(meta: dict[str, str]) -> str | None:
    """The creation's key (the page sends a random one per file; other clients need none); 400 if malformed."""
    key = meta.get(CREATION_KEY)
    if key is not None and not _KEY_SHAPE.fullmatch(key):
        raise ApiError(400, "bad_metadata", f"Upload-Metadata: {CREATION_KEY} must be 16 to 128 letters, digits, "
                       "'-' or '_'.", "Send a random key, e.g. 32 hex digits, or none.")
    return key


def encode_metadata(values: dict[str, str]) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode('ascii')}" if v else k for k, v in values.items())


def _bad_metadata(why: str) -> ApiError:
    return ApiError(400, "bad_metadata", f"Upload-Metadata: {why}",
                    "Send 'filename' and 'filetype' as base64, e.g. 'filename cGhvdG8ucG5n,filetype aW1hZ2UvcG5n'.")


def header_int(headers: Headers, name: str) -> int:
    """A required non-negative integer header (ASCII digits, <= 2**63-1), else 400 naming it."""
    return parse_uint(headers.get(name, ""), f"The {name} header", 400, f"bad_{name.lower().replace('-', '_')}")


def version_problem(version: str | None) -> ApiError | None:
    """None for 1.0.0; 412 for another version (tus says so); 400 when there is no version at all.

    A missing or garbled header is a malformed request, not a version this
    server lacks, so only something shaped like a version gets 412. Both
    answers carry `Tus-Version`, so a client learns what to speak.
    """
    if version == TUS_VERSION:
        return None
    headers = {"Tus-Version": TUS_VERSION}
    hint = f"Send 'Tus-Resumable: {TUS_VERSION}' (tus clients do)."
    if version is not None and _VERSION.fullmatch(version):
        return ApiError(412, "tus_version_unsupported",
                        f"This server speaks tus {TUS_VERSION}; the request sent '{version}'.", hint, headers)
    said = "no Tus-Resumable header" if version is None else f"Tus-Resumable {version[:20]!r}, which is not a version"
    return ApiError(400, "bad_tus_resumable", f"This server speaks tus {TUS_VERSION}; the request sent {said}.",
                    hint, headers)


def is_upload_path(path: str) -> bool:
    return path == UPLOADS_PATH or path.startswith(UPLOADS_PATH + "/")


class TusProtocol:
    """On the upload URLs: method override, the 412 version check, and `Tus-Resumable` on every answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_upload_path(scope["path"]):
            return await self.app(scope, receive, send)
        headers = Headers(scope=scope)
        override = headers.get("x-http-method-override", "").strip().upper()
        if scope["method"] == "POST" and override in _OVERRIDABLE:
            scope = {**scope, "method": override}

        async def stamped(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []),
                                                  (b"tus-resumable", TUS_VERSION.encode())]}
            await send(message)

        problem = None if scope["method"] == "OPTIONS" else version_problem(headers.get("tus-resumable"))
        if problem is not None:
            response = error_response(problem.status, problem.code, problem.message, problem.hint, problem.headers)
            return await response(scope, receive, stamped)
        await self.app(scope, receive, stamped)
