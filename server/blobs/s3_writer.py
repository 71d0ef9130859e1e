"""A tus PATCH's bytes into S3 (`PartWriter`): the old tail first, 8 MiB parts one at a time while the next
arrive, what is left at the end a part or the new tail (the layout is s3_parts.py's)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from typing import Any

from server.blobs.protocol import media_key
from server.blobs.s3_parts import MIN_PART, PART_SIZE, Bucket, Partial
from server.http.api_error import ApiError


class S3Writer:
    """A `PartWriter`: the tail is prepended, 8 MiB parts go out one at a time, what is left becomes the tail."""

    def __init__(self, blobs: Bucket, state: Partial, start: int, size: int, hasher: Any, tail: bytes,
                 thumbnailed: bool = False) -> None:
        self.blobs, self.state, self.start, self.size, self.hasher = blobs, state, start, size, hasher
        self.thumbnailed = thumbnailed          # a file stored whole is kept for its thumbnail (`keep_fresh`)
        self.buf = bytearray(tail)              # bytes not in a part yet (the old tail first)
        self.fresh: list[bytes] = []            # added but not hashed yet
        self.stored_end = start                 # the upload's bytes safely in S3
        self._pending: asyncio.Future[None] | None = None
        self._digest: str | None = None

    @classmethod
    async def open(cls, blobs: Bucket, state: Partial, start: int, size: int, hasher: Any, *,
                   thumbnailed: bool = False) -> S3Writer:
        if state.offset != start:       # cannot happen under the lock; never write at a wrong offset
            raise ApiError(409, "offset_mismatch", f"The server has {state.offset} bytes, not {start}.",
                           "Ask for the upload's offset (HEAD) and continue from there.", offset=state.offset)
        tail = await blobs.run(state.read_tail) if state.tail else b""
        return cls(blobs, state, start, size, hasher, tail, thumbnailed)

    @property
    def written(self) -> int:
        return self.stored_end - self.start

    def _hash_fresh(self, fresh: list[bytes]) -> None:
        if self.hasher is not None:
            for c in fresh:
                self.hasher.update(c)

    def _push(self, data: bytes, fresh: list[bytes]) -> None:
        """One part (in a worker thread); a tail it starts with is absorbed, so its object is stale."""
        self._hash_fresh(fresh)
        self.state.absorb_tail()
        self.state.push(data)
        self.stored_end = sum(p["Size"] for p in self.state.parts)

    async def add(self, chunk: bytes) -> None:
        self.buf += chunk
        self.fresh.append(chunk)
        if len(self.buf) >= PART_SIZE:
            await self._submit(self._push, bytes(self.buf))
            self.buf = bytearray()

    async def _submit(self, job: Any, data: bytes) -> None:
        await self.settle(raise_error=True)
        fresh, self.fresh = self.fresh, []
        self._pending = asyncio.get_running_loop().run_in_executor(self.blobs.pool, job, data, fresh)

    async def settle(self, raise_error: bool = False) -> None:
        if self._pending is not None:
            if raise_error:
                await asyncio.shield(self._pending)     # a cancel must not orphan a running part
            else:
                await asyncio.wait([self._pending])

    def _last(self, data: bytes, fresh: list[bytes]) -> None:
        """The end of a PATCH: a part if big enough (or the upload's last), else the tail."""
        position = sum(p["Size"] for p in self.state.parts) + len(data)
        if position == self.size and not self.state.parts:      # the whole file is here: straight to media
            self._hash_fresh(fresh)
            self._digest = self.hasher.hexdigest() if self.hasher is not None else hashlib.sha256(data).hexdigest()
            self.blobs.call("put_object", Key=self.blobs.key(media_key(self._digest)), Body=data)
            if self.thumbnailed:
                self.blobs.keep_fresh(media_key(self._digest), data)
        elif position == self.size or len(data) >= MIN_PART:
            if data:
                self._push(data, fresh)
            else:
                self._hash_fresh(fresh)
        elif fresh:
            self._hash_fresh(fresh)
            self.state.keep_tail(data)
        self.stored_end = position
        for suffix in self.state.stale:
            self.blobs.call("delete_object", Key=self.state.name(suffix))
        self.state.stale = []

    async def flush(self) -> None:
        data, self.buf = bytes(self.buf), bytearray()
        await self._submit(self._last, data)
        await self.settle(raise_error=True)
        if self._digest is None and self.stored_end < self.size:    # the next PATCH goes on from this state
            self.blobs.keep_state(self.state.upload_id, self.state)

    async def discard(self) -> None:
        await self.settle()
        self.buf, self.fresh = bytearray(), []

    async def salvage(self) -> None:
        await self.settle()
        ok = self._pending is None or (not self._pending.cancelled() and self._pending.exception() is None)
        whole = sum(p["Size"] for p in self.state.parts) + len(self.buf) >= self.size   # a client resends that
        if ok and self.fresh and not whole:
            with contextlib.suppress(Exception):    # the store is gone too: what is in S3 is what counts
                await self.blobs.run(self._last, bytes(self.buf), self.fresh)
        self.buf, self.fresh = bytearray(), []

    async def complete(self, digest: str | None) -> str:
        if self._digest is not None:                     # stored whole by `_last`
            if not self.state.empty:
                await self.blobs.run(self.state.clean)
            return self._digest
        return await self.blobs.run(self.state.finish, digest)
