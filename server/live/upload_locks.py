"""One writer per upload: the `UploadLock` Protocol and its in-process implementation.

Why a Protocol: a tus upload's bytes live in the blob store, so any process
may be asked to append to it; two PATCHes of one upload at once (two tabs, a
client retrying on another process) would interleave their bytes. Holding the
upload for the whole PATCH (and for HEAD's reconcile, DELETE and completion)
prevents that. In one process an `asyncio.Lock` per upload is enough
(`LocalUploadLock`); several processes share one held elsewhere (a Redis
implementation answers the same Protocol, as tusd's s3store pairs with a lock).

`hold(upload_id)` waits for a holder in this process (a second PATCH then
usually gets 409 with the first one's offset, as before); a holder in another
process is an `UploadBusy` (423 Locked, which tus clients retry).
`hold(upload_id, wait=False)` raises `UploadBusy` at once when held anywhere:
HEAD uses it to answer with the recorded offset instead of waiting for a PATCH.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Protocol

from server.http.api_error import ApiError

if TYPE_CHECKING:
    import redis.asyncio as aioredis


class UploadBusy(ApiError):
    """Another request (here or in another process) is writing this upload."""

    def __init__(self, upload_id: str) -> None:
        super().__init__(423, "upload_locked", f"Upload {upload_id} is being written by another request.",
                         "Wait for it to finish, ask for the upload's offset (HEAD) and continue from there.",
                         {"Retry-After": "1"})


class UploadLock(Protocol):
    """Exclusive hold of one upload id; see the module docstring for the waiting rules."""

    def hold(self, upload_id: str, *, wait: bool = True) -> AbstractAsyncContextManager[None]: ...

    async def held(self, upload_id: str) -> bool:
        """Is a request holding it right now (the sweeper leaves such an upload alone)?"""
        ...

    def forget(self, upload_id: str) -> None:
        """The upload is gone or complete: drop what is kept for it (a waiter then finds no row)."""
        ...


class LocalUploadLock:
    """An `asyncio.Lock` per upload id, for one process (the embedded default)."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}

    @contextlib.asynccontextmanager
    async def hold(self, upload_id: str, *, wait: bool = True) -> AsyncIterator[None]:
        lock = self._locks.setdefault(upload_id, asyncio.Lock())
        if not wait and lock.locked():
            raise UploadBusy(upload_id)
        async with lock:
            yield

    async def held(self, upload_id: str) -> bool:
        lock = self._locks.get(upload_id)
        return lock is not None and lock.locked()

    def forget(self, upload_id: str) -> None:
        self._locks.pop(upload_id, None)


def upload_lock(redis: aioredis.Redis | None, prefix: str) -> UploadLock:
    """In this process without a broker; with one (`[broker]`, its Redis client and the cluster's key
    prefix), shared by every process."""
    if redis is None:
        return LocalUploadLock()
    from server.live.redis_state import RedisUploadLock  # imports redis only with a [broker]
    return RedisUploadLock(redis, UploadBusy, prefix=prefix)
