"""Resumable uploads (tus-like): POST creates, PATCH appends, GET reports.

Why this shape: bytes go from `request.stream()` to the partial file under
DATA/uploads/ in ~4 MiB batches written (and hashed) in a worker thread while
the event loop keeps receiving the next batch, so a 200 MB PATCH costs a few
dozen thread hops, never 200 MB of RAM, and no per-byte Python work. The
first 4096 bytes are judged by the same `core.restrictions.check` the browser
used, now with real content (a renamed .exe is refused here).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import unicodedata
from pathlib import Path
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from app.core.models import FileInfo
from app.core.restrictions import check
from app.core.sniff import HEAD_SIZE, effective_type
from server.common import ApiError, authenticate, error_response, json_body
from server.store import Store, UploadRow

FLUSH_BYTES = 4 * 1024 * 1024     # batch size handed to the writer thread
DRAIN_LIMIT = 16 * 1024 * 1024    # read (and drop) at most this much of a refused body
_UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")


def clean_name(name: object) -> str:
    """A display/download name: no directories, no control characters, <= 255 chars."""
    if not isinstance(name, str):
        raise ApiError(422, "invalid_name", "'name' must be a string.")
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C").strip()
    if name in ("", ".", ".."):
        raise ApiError(422, "invalid_name", "The file needs a name.", "Rename the file and try again.")
    if len(name) > 255:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: 254 - len(ext)] + "." + ext) if dot and len(ext) < 16 else name[:255]
    return name


def upload_json(u: UploadRow) -> dict[str, Any]:
    return {"upload_id": u.id, "name": u.name, "size": u.size, "content_type": u.content_type,
            "offset": u.offset, "complete": u.complete}


class Uploads:
    """Owns partial files, media files and the in-process incremental hashers."""

    def __init__(self, store: Store, data_dir: Path) -> None:
        self.store = store
        self.parts = data_dir / "uploads"
        self.media = data_dir / "media"
        self.parts.mkdir(parents=True, exist_ok=True)
        self.media.mkdir(parents=True, exist_ok=True)
        self._locks: dict[str, asyncio.Lock] = {}
        self._active = 0                 # PATCH bodies being received right now
        self.stopping = False            # set at shutdown: running PATCHes keep what they have and stop
        # upload id -> (bytes hashed so far, hasher); lost on restart, then we rehash from disk.
        self._hashers: dict[str, tuple[int, Any]] = {}

    def part_path(self, upload_id: str) -> Path:
        return self.parts / f"{upload_id}.part"

    def media_path(self, sha256: str) -> Path:
        return self.media / sha256

    # -- helpers -------------------------------------------------------------
    def owned(self, upload_id: str, identity: str) -> UploadRow:
        u = self.store.get_upload(upload_id) if _UPLOAD_ID.match(upload_id) else None
        if u is None or u.owner != identity:
            raise ApiError(404, "upload_not_found", f"Upload {upload_id} does not exist.",
                           "Start the upload again with POST /api/uploads.")
        return u

    def reconcile(self, u: UploadRow) -> None:
        """Make the partial file and the recorded offset agree after a crash.

        The file is written before the offset is recorded, so a longer file is
        trimmed; a shorter one (lost page cache) lowers the offset.
        """
        if u.complete:
            return
        path = self.part_path(u.id)
        try:
            actual = path.stat().st_size
        except FileNotFoundError:
            path.touch()
            actual = 0
        if actual > u.offset:
            os.truncate(path, u.offset)
        elif actual < u.offset:
            self._hashers.pop(u.id, None)
            self._set_offset(u, actual)

    def discard(self, u: UploadRow) -> None:
        self.part_path(u.id).unlink(missing_ok=True)
        self.store.delete_upload(u.id)
        self._hashers.pop(u.id, None)
        self._locks.pop(u.id, None)

    # -- endpoints -------------------------------------------------------------
    async def create(self, request: Request) -> Response:
        """POST /api/uploads: judge name, size and declared type before any byte is sent."""
        identity = authenticate(request)
        body = await json_body(request)
        name = clean_name(body.get("name"))
        size = body.get("size")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ApiError(422, "invalid_size", "'size' must be the file size in bytes (an integer >= 0).")
        declared = body.get("content_type") or ""
        if not isinstance(declared, str) or len(declared) > 255:
            raise ApiError(422, "invalid_content_type", "'content_type' must be a MIME type string.")
        info = FileInfo(name=name, size=size, declared_type=declared, head=b"")
        problems = check(info, request.app.state.config.restrictions)
        if problems:
            raise ApiError.from_problem(problems[0])
        u = self.store.create_upload(identity, name, size, declared, effective_type(info))
        self.part_path(u.id).touch()
        return JSONResponse(upload_json(u), status_code=201,
                            headers={"Location": f"/api/uploads/{u.id}", "Upload-Offset": "0"})

    async def status(self, request: Request) -> Response:
        """GET /api/uploads/{id}: where to resume."""
        identity = authenticate(request)
        u = self.owned(request.path_params["upload_id"], identity)
        lock = self._lock(u.id)
        if lock.locked():           # a PATCH is running: report what is recorded, do not wait for it
            return _upload_response(u)
        async with lock:
            u = self.owned(u.id, identity)
            self.reconcile(u)
        return _upload_response(u)

    async def append(self, request: Request) -> Response:
        """PATCH /api/uploads/{id}: stream the body to disk at Upload-Offset."""
        identity = authenticate(request)
        u = self.owned(request.path_params["upload_id"], identity)
        offset = _header_int(request, "upload-offset")
        length = request.headers.get("content-length")
        async with self._lock(u.id):
            u = self.owned(u.id, identity)       # may have changed while we waited
            self.reconcile(u)
            if u.complete and offset == u.size and await _drain(request) == 0:
                return _upload_response(u)       # a retried final PATCH: nothing left to do
            if offset != u.offset or u.complete:
                await _drain(request)
                raise ApiError(409, "offset_mismatch",
                               f"{u.name}: the server has {u.offset} bytes, not {offset}.",
                               "Continue from the server's offset.", offset=u.offset)
            if length is not None and length.isdigit() and offset + int(length) > u.size:
                await _drain(request)
                raise _beyond(u)
            self._active += 1
            try:
                return await self._receive(request, u)
            finally:
                self._active -= 1

    # -- the byte pump ---------------------------------------------------------
    async def _receive(self, request: Request, u: UploadRow) -> Response:
        restrictions = request.app.state.config.restrictions
        loop = asyncio.get_running_loop()
        start = u.offset
        hashed = self._hashers.pop(u.id, None)
        hasher = hashed[1] if hashed and hashed[0] == start else (hashlib.sha256() if start == 0 else None)
        head_needed = 0 if u.head_checked else min(HEAD_SIZE, u.size)
        head = _read_prefix(self.part_path(u.id), min(start, head_needed)) if head_needed else b""

        f = open(self.part_path(u.id), "r+b")
        f.seek(start)
        written = [0]                    # bytes of this request safely in the file (thread-updated)
        batch: list[bytes] = []
        batch_len = received = 0
        pending: asyncio.Future[None] | None = None
        interrupted = False

        def write(chunks: list[bytes]) -> None:
            if hasher is not None:
                for c in chunks:
                    hasher.update(c)     # hashlib releases the GIL for big buffers
            f.writelines(chunks)
            f.flush()
            written[0] += sum(map(len, chunks))

        try:
            if head_needed and len(head) >= head_needed:   # defensive: bytes on disk never judged
                self._judge(u, head, restrictions)
                head_needed = 0
            try:
                async for chunk in request.stream():
                    if self.stopping:
                        interrupted = True
                        break
                    received += len(chunk)
                    if start + received > u.size:
                        raise _beyond(u)
                    batch.append(chunk)
                    batch_len += len(chunk)
                    if head_needed and len(head) < head_needed:
                        head += chunk[: head_needed - len(head)]
                        if len(head) >= head_needed:
                            self._judge(u, head, restrictions)
                            head_needed = 0
                    if batch_len >= FLUSH_BYTES:
                        if pending is not None:
                            await asyncio.shield(pending)   # a cancel must not orphan a running write
                        pending = loop.run_in_executor(None, write, batch)
                        batch, batch_len = [], 0
            except ClientDisconnect:
                pass   # keep what arrived: the client resumes from the offset it asks for
            if pending is not None:
                await asyncio.shield(pending)
            pending = loop.run_in_executor(None, write, batch)
            batch = []
            await asyncio.shield(pending)
        except ApiError as e:
            await _settle(pending)
            f.close()
            if e.code == "exceeds_declared_size":
                os.truncate(self.part_path(u.id), start)   # refuse this request's bytes, keep the upload
            else:
                self.discard(u)                           # refused content: nothing of it stays
            await _drain(request)
            raise
        except BaseException:                             # cancelled at shutdown, or a disk error
            await _settle(pending)
            if batch and (pending is None or pending.exception() is None):
                with contextlib.suppress(OSError):
                    write(batch)                          # < FLUSH_BYTES: keep what already arrived
            f.close()
            self._set_offset(u, start + written[0])
            raise
        f.close()
        self._set_offset(u, start + written[0], hasher)
        if u.offset == u.size:
            await self._complete(u, hasher)
        elif interrupted:
            return error_response(503, "server_stopping", "The server is restarting; the bytes so far are kept.",
                                  "Ask for the upload's offset and continue from there.",
                                  {"Retry-After": "1", "Upload-Offset": str(u.offset), "Connection": "close"},
                                  offset=u.offset)
        return _upload_response(u)

    def _set_offset(self, u: UploadRow, offset: int, hasher: Any = None) -> None:
        """Record how far the file is good; the head verdict only counts once its bytes are there."""
        os.truncate(self.part_path(u.id), offset)
        u.offset = offset
        if offset < min(HEAD_SIZE, u.size):
            u.head_checked = False
        if hasher is not None and offset < u.size:
            self._hashers[u.id] = (offset, hasher)
        self.store.update_upload(u)

    def _judge(self, u: UploadRow, head: bytes, restrictions: Any) -> None:
        """Second opinion with the real first bytes; raises to refuse."""
        info = FileInfo(name=u.name, size=u.size, declared_type=u.declared_type, head=head[:HEAD_SIZE])
        problems = check(info, restrictions)
        if problems:
            raise ApiError.from_problem(problems[0])
        u.content_type = effective_type(info)
        u.head_checked = True

    async def _complete(self, u: UploadRow, hasher: Any) -> None:
        """Name the bytes by their sha256 and move them into media/ (deduplicated)."""
        part = self.part_path(u.id)
        if hasher is not None:
            digest = hasher.hexdigest()
        else:
            digest = await asyncio.get_running_loop().run_in_executor(None, _hash_file, part)
        os.replace(part, self.media_path(digest))   # same bytes, same name: replacing is harmless
        u.sha256 = digest
        self.store.update_upload(u)
        self._hashers.pop(u.id, None)
        self._locks.pop(u.id, None)

    def _lock(self, upload_id: str) -> asyncio.Lock:
        """One writer per upload; a second PATCH waits, then usually gets 409."""
        return self._locks.setdefault(upload_id, asyncio.Lock())

    async def wait_idle(self, timeout: float) -> None:
        """At shutdown: let cancelled PATCHes record their offset before the database closes."""
        deadline = asyncio.get_running_loop().time() + timeout
        while self._active and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.02)


def _upload_response(u: UploadRow) -> JSONResponse:
    return JSONResponse(upload_json(u), headers={"Upload-Offset": str(u.offset)})


def _beyond(u: UploadRow) -> ApiError:
    return ApiError(413, "exceeds_declared_size", f"{u.name}: more bytes were sent than the declared {u.size}.",
                    "Start a new upload with the right size.")


def _header_int(request: Request, name: str) -> int:
    value = request.headers.get(name, "")
    if not value.isdigit():
        raise ApiError(400, "bad_offset", f"The {name} header must be a non-negative integer.",
                       "Send the offset returned by the last Upload response.")
    return int(value)


async def _drain(request: Request) -> int:
    """Read a refused body (up to a limit) so the client sees our answer, not a reset; returns its size."""
    seen = 0
    try:
        async for chunk in request.stream():
            seen += len(chunk)
            if seen > DRAIN_LIMIT:
                break
    except (ClientDisconnect, RuntimeError):   # RuntimeError: stream already consumed
        pass
    return seen


async def _settle(pending: "asyncio.Future[None] | None") -> None:
    """Wait for an in-flight write to finish, whatever its outcome."""
    if pending is not None:
        await asyncio.wait([pending])


def _read_prefix(path: Path, n: int) -> bytes:
    if n <= 0:
        return b""
    with open(path, "rb") as f:
        return f.read(n)


def _hash_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(FLUSH_BYTES):
            h.update(block)
    return h.hexdigest()
