"""The tus 1.0.0 endpoints (core, creation, expiration, termination) over `Uploads`.

`/api/uploads` is the upload-creation URL; `/api/uploads/<id>` is an upload
URL, and `<id>` (its last segment) is what a message's `attachments` lists.
Errors keep the JSON problem body the page shows; tus clients only read the
status and headers, so both kinds of client get what they need.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from server.auth.principals import authenticate, upload_owner
from server.config.config_file import Config
from server.http.api_error import ApiError, error_response
from server.http.inputs import check_content_type, clean_name, parse_uint
from server.store.rows import UploadRow
from server.uploads import tus_protocol as tus
from server.uploads.service import Uploads

DRAIN_LIMIT = 16 * 1024 * 1024    # read (and drop) at most this much of a refused body
DRAIN_IDLE = 2.0                  # ... and stop waiting for a client that sends nothing for this long


async def body(request: Request) -> AsyncIterator[bytes]:
    """The request body; a client that drops ends it early (the bytes that arrived are kept)."""
    try:
        async for chunk in request.stream():
            yield chunk
    except ClientDisconnect:
        return


async def drain(request: Request) -> int:
    """Read a refused body (up to a limit) so the client sees our answer, not a reset; returns its size.

    A client that stalls mid-body is not waited for: it would wait for our answer forever, and we for it.
    """
    seen = 0
    stream = request.stream()
    try:
        while seen <= DRAIN_LIMIT:
            seen += len(await asyncio.wait_for(anext(stream), DRAIN_IDLE))
    except (TimeoutError, StopAsyncIteration, ClientDisconnect, RuntimeError):
        pass                                   # RuntimeError: stream already consumed
    finally:
        await stream.aclose()
    return seen


def _expiry_headers(uploads: Uploads, u: UploadRow, *, unsent: bool = False) -> dict[str, str]:
    expires = uploads.expires_at(u, unsent=unsent)
    return {} if expires is None else {"Upload-Expires": tus.http_date(expires)}


class TusRoutes:
    """The endpoints, given the uploads they act on and the config that says who may."""

    def __init__(self, uploads: Uploads, config: Config) -> None:
        self.uploads, self.config = uploads, config

    def owner_of(self, request: Request) -> str:
        """Who owns the uploads this request makes or touches, and whose quotas they count against."""
        return upload_owner(authenticate(request, self.config))

    async def options(self, request: Request) -> Response:
        """OPTIONS: what this server speaks; public, like the restrictions it reflects."""
        return Response(status_code=204, headers={
            "Tus-Version": tus.TUS_VERSION, "Tus-Extension": tus.TUS_EXTENSIONS,
            "Tus-Max-Size": str(self.uploads.restrictions.max_file_size)})

    async def create(self, request: Request) -> Response:
        """POST /api/uploads (creation): judged by name, size and declared type before any byte is sent.

        Order: who (401), then every header's shape (400 malformed, 422 invalid
        name or type), then the rules (413/415, 422 empty), then the quotas (429).
        """
        owner = self.owner_of(request)
        headers = request.headers
        if "upload-defer-length" in headers:
            raise ApiError(400, "length_required", "This server needs the file's size up front (no deferred length).",
                           "Send Upload-Length.")
        size = tus.header_int(headers, "Upload-Length")
        meta = tus.parse_metadata(headers.get("upload-metadata", ""))
        field = "filetype" if "filetype" in meta else "type"
        declared = check_content_type(meta.get(field, ""), field)
        name = clean_name(meta.get("filename", meta.get("name", "")))
        uploads = self.uploads
        u = await uploads.create(owner, name, size, declared, metered=True, creation_key=tus.creation_key(meta))
        return Response(status_code=201, headers={"Location": f"{tus.UPLOADS_PATH}/{u.id}",
                                                  **_expiry_headers(uploads, u)})

    async def head(self, request: Request) -> Response:
        """HEAD /api/uploads/<id>: where to resume."""
        uploads = self.uploads
        u = await uploads.state(request.path_params["upload_id"], self.owner_of(request))
        return Response(status_code=200, headers={
            "Upload-Offset": str(u.offset), "Upload-Length": str(u.size), "Cache-Control": "no-store",
            "Upload-Metadata": tus.encode_metadata({"filename": u.name, "filetype": u.declared_type}),
            **_expiry_headers(uploads, u)})

    async def patch(self, request: Request) -> Response:
        """PATCH /api/uploads/<id>: stream the body to disk at Upload-Offset."""
        uploads = self.uploads
        try:
            owner = self.owner_of(request)
            kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
            if kind != "application/offset+octet-stream":
                raise ApiError(415, "bad_content_type", "A PATCH body must be 'application/offset+octet-stream'.",
                               "Send the bytes with Content-Type: application/offset+octet-stream.")
            offset = tus.header_int(request.headers, "Upload-Offset")
            declared = request.headers.get("content-length")
            length = None if declared is None else parse_uint(declared, "The Content-Length header")
            u, interrupted = await uploads.append(request.path_params["upload_id"], owner, offset, length,
                                                  body(request))
        except ApiError:
            await drain(request)     # the client sees our answer, not a reset
            raise
        # incomplete when this PATCH began, so no message could use it yet: no need to ask
        headers = {"Upload-Offset": str(u.offset), **_expiry_headers(uploads, u, unsent=offset < u.size)}
        if interrupted:
            return error_response(503, "server_stopping", "The server is restarting; the bytes so far are kept.",
                                  "Ask for the upload's offset and continue from there.",
                                  {**headers, "Retry-After": "1", "Connection": "close"}, offset=u.offset)
        return Response(status_code=204, headers=headers)

    async def delete(self, request: Request) -> Response:
        """DELETE /api/uploads/<id> (termination): the upload and its bytes are gone."""
        await self.uploads.terminate(request.path_params["upload_id"], self.owner_of(request))
        return Response(status_code=204)

    def routes(self) -> list[Route]:
        return [
            Route(tus.UPLOADS_PATH, self.options, methods=["OPTIONS"]),
            Route(tus.UPLOADS_PATH, self.create, methods=["POST"]),
            Route(tus.UPLOADS_PATH + "/{upload_id}", self.head, methods=["HEAD"]),
            Route(tus.UPLOADS_PATH + "/{upload_id}", self.patch, methods=["PATCH"]),
            Route(tus.UPLOADS_PATH + "/{upload_id}", self.delete, methods=["DELETE"]),
            Route(tus.UPLOADS_PATH + "/{upload_id}", self.options, methods=["OPTIONS"]),
        ]
