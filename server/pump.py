"""The byte pump: request bytes to a file in batches written (and hashed) in a worker thread.

Why this shape: bytes go from the request to the partial file in ~4 MiB
batches handed to a worker thread while the event loop keeps receiving the
next batch, so a 200 MB PATCH costs a few dozen thread hops, never 200 MB of
RAM, and no per-byte Python work; the sha256 of a whole upload is computed as
its bytes pass, so completing it needs no second read of the file.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from starlette.requests import ClientDisconnect, Request

FLUSH_BYTES = 4 * 1024 * 1024     # batch size handed to the writer thread
DRAIN_LIMIT = 16 * 1024 * 1024    # read (and drop) at most this much of a refused body
DRAIN_IDLE = 2.0                  # ... and stop waiting for a client that sends nothing for this long


class Sink:
    """Appends to `path` from `start`; `written` counts the bytes safely in the file."""

    def __init__(self, path: Path, start: int, hasher: Any = None) -> None:
        self._f = open(path, "r+b")
        self._f.seek(start)
        self.hasher = hasher
        self.written = 0                 # updated by the writer thread, read after `flush`/`settle`
        self._batch: list[bytes] = []
        self._batch_len = 0
        self._pending: asyncio.Future[None] | None = None

    def _write(self, chunks: list[bytes]) -> None:
        if self.hasher is not None:
            for c in chunks:
                self.hasher.update(c)    # hashlib releases the GIL for big buffers
        self._f.writelines(chunks)
        self._f.flush()
        self.written += sum(map(len, chunks))

    async def add(self, chunk: bytes) -> None:
        self._batch.append(chunk)
        self._batch_len += len(chunk)
        if self._batch_len >= FLUSH_BYTES:
            await self._submit()

    async def _submit(self) -> None:
        if self._pending is not None:
            await asyncio.shield(self._pending)   # a cancel must not orphan a running write
        batch, self._batch, self._batch_len = self._batch, [], 0
        self._pending = asyncio.get_running_loop().run_in_executor(None, self._write, batch)

    async def flush(self) -> None:
        """Everything added is in the file (raises the writer's error, if any)."""
        await self._submit()
        assert self._pending is not None
        await asyncio.shield(self._pending)

    async def settle(self) -> None:
        """Wait for an in-flight write to finish, whatever its outcome (after a refusal)."""
        if self._pending is not None:
            await asyncio.wait([self._pending])

    async def salvage(self) -> None:
        """Cancelled (shutdown) or failed: keep what already arrived when the disk allows."""
        await self.settle()
        pending_ok = self._pending is None or (not self._pending.cancelled() and self._pending.exception() is None)
        if self._batch and pending_ok:
            with contextlib.suppress(OSError):
                self._write(self._batch)     # < FLUSH_BYTES: cheap enough on the loop
        self._batch = []

    def close(self) -> None:
        self._f.close()


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
    except (StopAsyncIteration, ClientDisconnect, RuntimeError, asyncio.TimeoutError):
        pass                                   # RuntimeError: stream already consumed
    finally:
        await stream.aclose()
    return seen


def read_prefix(path: Path, n: int) -> bytes:
    if n <= 0:
        return b""
    with open(path, "rb") as f:
        return f.read(n)


def hash_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(FLUSH_BYTES):
            h.update(block)
    return h.hexdigest()
