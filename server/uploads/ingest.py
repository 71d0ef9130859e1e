"""Server-side ingest: a complete file from another service (e.g. Twilio's media) becomes an upload.

Why through `Uploads`: a file that arrives by the server's own download must
meet the same rules (size, type by name, type by content) and land in the
same deduplicated media store as one a browser sent, so a message can refer
to it by id like any other.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterable, AsyncIterator

from app.core.sniff import HEAD_SIZE
from server.blobs.folder import FLUSH_BYTES, Sink
from server.blobs.protocol import media_key
from server.http.api_error import ApiError
from server.store.rows import UploadRow
from server.uploads.service import Uploads
from server.uploads.verdicts import judge_head, judge_start


async def _pieces(chunks: AsyncIterable[bytes] | bytes) -> AsyncIterator[bytes]:
    if isinstance(chunks, (bytes, bytearray, memoryview)):
        data = bytes(chunks)
        for i in range(0, len(data), FLUSH_BYTES):
            yield data[i:i + FLUSH_BYTES]
        return
    async for chunk in chunks:
        yield bytes(chunk)


async def ingest(uploads: Uploads, owner: str, name: str, declared_type: str,
                 chunks: AsyncIterable[bytes] | bytes) -> UploadRow:
    """Spool to a local scratch file (hashing as it goes), then create, judge and complete the upload.

    Raises ApiError (413 too_large, 415 type_not_accepted / type_mismatch,
    422 empty / invalid_name) and leaves nothing behind when refused. The
    size is not known up front, so the limit is enforced while reading.
    """
    judge_start(name, 1, declared_type, uploads.restrictions)            # a refused type costs no download
    limit = uploads.restrictions.max_file_size
    tmp = uploads.blobs.scratch()
    tmp.touch()
    sink = Sink(tmp, 0, hashlib.sha256())
    size = 0
    try:
        async for chunk in _pieces(chunks):
            size += len(chunk)
            if size > limit:
                judge_start(name, size, declared_type, uploads.restrictions)   # raises too_large, naming the file
            await sink.add(chunk)
        await sink.flush()
    except BaseException:
        await sink.settle()
        sink.close()
        tmp.unlink(missing_ok=True)
        raise
    try:
        u = await uploads.create(owner, name, size, declared_type)   # empty and the rest, as at tus creation
    except ApiError:
        tmp.unlink(missing_ok=True)
        raise
    digest = sink.hasher.hexdigest()

    async def moved() -> str:
        await uploads.blobs.put_file(media_key(digest), tmp)
        await uploads.blobs.drop(u.id)           # the empty partial `create` began
        return digest
    try:
        with open(tmp, "rb") as f:
            judge_head(u, f.read(HEAD_SIZE), uploads.restrictions)
        await uploads.complete(u, moved())
    except BaseException:
        tmp.unlink(missing_ok=True)
        if uploads.store.get_upload(u.id) is not None:
            await uploads.discard(u)
        raise
    return u
