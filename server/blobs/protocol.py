"""Where uploaded bytes, media and thumbnails live: the `Blobs` Protocol, and the choice between stores.

Why one interface: the --data folder (one machine, the embedded default) and
an S3 bucket (many processes, `[storage] url = "s3://..."`) keep the same
things under the same names, and nothing outside `folder.py` and
`s3.py` knows which is in use. The names (keys) are the folder's layout:

    uploads/<upload id>.part    a partial tus upload (S3: a multipart upload, see s3.py)
    media/<sha256>              a complete file, shared by every upload of the same bytes
    thumbnails/<sha256>.webp    its thumbnail

A partial upload is written only through a `PartWriter` while its `UploadLock`
is held; complete files are written once under their content's name.
A store that cannot be reached raises `StorageUnavailable`: 503 with
Retry-After, so a client retries and nothing it was told is stored is lost.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any, Protocol

from server.http.api_error import ApiError

RETRY_AFTER = 5          # s a client waits before trying again while the store is unreachable


def media_key(sha256: str) -> str:
    return f"media/{sha256}"


def thumbnail_key(sha256: str) -> str:
    return f"thumbnails/{sha256}.webp"


class StorageUnavailable(ApiError):
    """The blob store did not answer (or refused us): the request can be retried later."""

    def __init__(self, where: str, why: str) -> None:
        super().__init__(503, "storage_unavailable", f"The file storage ({where}) is unreachable: {why}.",
                         "Try again in a few seconds; nothing already stored is lost.",
                         {"Retry-After": str(RETRY_AFTER)})
        self.where, self.why = where, why


class PartWriter(Protocol):
    """Appends one PATCH's bytes to a partial upload from `start`; used inside the upload's lock.

    `written` counts the bytes after `start` that are safely stored (what the
    offset may say). `hasher`, when given, sees every byte added, in order.
    """

    hasher: Any

    @property
    def written(self) -> int: ...

    async def add(self, chunk: bytes) -> None: ...

    async def flush(self) -> None:
        """Everything added is stored (raises the store's error, if any)."""
        ...

    async def discard(self) -> None:
        """This request's bytes are refused: store nothing more of them (the folder trims back to `start`)."""
        ...

    async def salvage(self) -> None:
        """Cancelled or failed: keep what already arrived when the store allows (never raises)."""
        ...

    async def complete(self, digest: str | None) -> str:
        """All `size` bytes are stored: move them to media/<sha256> (hashing them when `digest` is None)."""
        ...


class Blobs(Protocol):
    """Bytes by name (keys above), partial uploads, and the sweeper's listings."""

    where: str                  # for messages: "the --data folder /srv/attache" or "s3://bucket/prefix"

    def check(self) -> None:
        """At start: raise `StorageUnavailable` when the store cannot be used (the process then exits)."""
        ...

    def link_secret(self) -> bytes:
        """At start: the HMAC key of media links, made once and kept with the files, so every process
        sharing them signs and checks links alike."""
        ...

    # -- complete objects ------------------------------------------------------------------
    async def size(self, key: str) -> int | None: ...

    def read(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """Bytes [start, end) of `key`, streamed (end None: to the end)."""
        ...

    async def put(self, key: str, data: bytes) -> None: ...

    async def put_file(self, key: str, path: Path) -> None:
        """Store a local file under `key`; the local file is gone afterwards."""
        ...

    async def delete(self, key: str) -> None: ...

    def local(self, key: str) -> AbstractAsyncContextManager[Path]:
        """A local file holding `key`'s bytes while the block runs (for Pillow, which wants a file)."""
        ...

    def scratch(self, folder: str = "uploads") -> Path:
        """A new local file name (the file may not exist yet) for bytes on their way in to `folder`
        (ingest: "uploads", a thumbnail: "thumbnails"); `put_file` takes the file."""
        ...

    # -- partial uploads -------------------------------------------------------------------
    async def begin(self, upload_id: str) -> None: ...

    async def reconcile(self, upload_id: str, recorded: int, *, writing: bool = False) -> int:
        """How many bytes of the partial upload are good, given the offset the database recorded. `writing`:
        a PATCH asks, and will write next (a store may then trust what its own last PATCH left)."""
        ...

    async def head(self, upload_id: str, n: int) -> bytes:
        """Up to the first `n` bytes of a partial upload (fewer when the store cannot read them back)."""
        ...

    async def writer(self, upload_id: str, start: int, size: int, hasher: Any, *, thumbnailed: bool = False
                     ) -> PartWriter:
        """Where a PATCH's bytes go; `thumbnailed`: the file will get a thumbnail (a store that keeps
        recent bytes for it keeps only those)."""
        ...

    async def finish(self, upload_id: str) -> str:
        """All bytes are stored but no writer saw them all: hash them by reading back, move to media."""
        ...

    async def drop(self, name: str) -> None:
        """Delete a partial upload (by id) or a leftover scratch file (by name)."""
        ...

    # -- the sweeper -----------------------------------------------------------------------
    async def stale_partials(self, before: float) -> list[str]:
        """Partial uploads (ids) and scratch files (names) untouched since `before`."""
        ...

    async def stale_media(self, before: float) -> list[str]:
        """The sha256 of media stored before `before` (the sweeper deletes those no upload uses)."""
        ...


class StoredFile:
    """A complete file in a store, read on demand (the Twilio bridge streams it to Twilio's media service)."""

    def __init__(self, blobs: Blobs, key: str) -> None:
        self.blobs, self.key = blobs, key

    async def head(self, n: int) -> bytes:
        return b"".join([chunk async for chunk in self.blobs.read(self.key, 0, n)])

    def chunks(self) -> AsyncIterator[bytes]:
        return self.blobs.read(self.key)
