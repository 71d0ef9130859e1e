"""The --data folder as a blob store: today's layout, byte for byte, so existing data folders keep working.

Why files written in a worker thread in ~4 MiB batches: bytes go from the
request to the partial file while the event loop keeps receiving the next
batch, so a 200 MB PATCH costs a few dozen thread hops, never 200 MB of RAM;
the sha256 is computed as the bytes pass, so completing needs no second read.
A partial upload is one file, `uploads/<id>.part`, appended in place; the
database records the offset after the bytes are written, and `reconcile` trims
a longer file (or lowers the offset) so the two agree after a crash.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import secrets
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from server.blobs.protocol import media_key

FLUSH_BYTES = 4 * 1024 * 1024     # batch size handed to the writer thread
READ_CHUNK = 1024 * 1024          # what a download reads at a time
_UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")
_SCRATCH = re.compile(r"^[A-Za-z0-9_-]+\.(part|tmp)$")


class Sink:
    """Appends to a local file from `start`; `written` counts the bytes safely in the file."""

    def __init__(self, path: Path, start: int, hasher: Any = None) -> None:
        self.path, self.start = path, start
        self._f = open(path, "r+b")  # noqa: SIM115 - the Sink owns the file until its close()
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
        self.close()

    async def settle(self) -> None:
        """Wait for an in-flight write to finish, whatever its outcome (after a refusal)."""
        if self._pending is not None:
            await asyncio.wait([self._pending])

    async def discard(self) -> None:
        await self.settle()
        self.close()
        os.truncate(self.path, self.start)   # refuse this request's bytes, keep the upload
        self.written = 0

    async def salvage(self) -> None:
        """Cancelled (shutdown) or failed: keep what already arrived when the disk allows."""
        await self.settle()
        pending_ok = self._pending is None or (not self._pending.cancelled() and self._pending.exception() is None)
        if self._batch and pending_ok:
            with contextlib.suppress(OSError):
                self._write(self._batch)     # < FLUSH_BYTES: cheap enough on the loop
        self._batch = []
        self.close()
        with contextlib.suppress(OSError):
            os.truncate(self.path, self.start + self.written)   # a half-written batch is not counted

    def close(self) -> None:
        self._f.close()


class FolderWriter(Sink):
    """A `PartWriter` over `uploads/<id>.part`."""

    def __init__(self, blobs: FolderBlobs, upload_id: str, start: int, hasher: Any) -> None:
        super().__init__(blobs.part_path(upload_id), start, hasher)
        self.blobs, self.upload_id = blobs, upload_id

    async def complete(self, digest: str | None) -> str:
        return await self.blobs._to_media(self.path, digest)


class FolderBlobs:
    """Keys are paths under the data folder."""

    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir
        self.where = f"the --data folder {data_dir}"
        self.parts = data_dir / "uploads"
        for folder in ("uploads", "media", "thumbnails"):
            (data_dir / folder).mkdir(parents=True, exist_ok=True)

    def check(self) -> None:
        """Nothing to reach: the folders were made above (an unwritable folder fails there, loudly)."""

    def link_secret(self) -> bytes:
        """`secret`: created once per data folder (0600); stable across restarts so old links keep working."""
        path = self.root / "secret"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            value = path.read_text().strip()
            if len(value) < 32:
                raise RuntimeError(
                    f"{path} is damaged; delete it to create a new one (old media links will break)") from None
            return value.encode()
        value = secrets.token_hex(32)
        with os.fdopen(fd, "w") as f:
            f.write(value + "\n")
        return value.encode()

    def path(self, key: str) -> Path:
        return self.root / key

    def part_path(self, upload_id: str) -> Path:
        return self.parts / f"{upload_id}.part"

    # -- complete objects ------------------------------------------------------------------
    async def size(self, key: str) -> int | None:
        try:
            return self.path(key).stat().st_size
        except FileNotFoundError:
            return None

    async def read(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        # FileNotFoundError: the caller asked size() first. The `with` closes without an await,
        # so a download cut off closes the file at once.
        with open(self.path(key), "rb") as f:
            f.seek(start)
            left = None if end is None else end - start
            while left is None or left > 0:
                chunk = await asyncio.to_thread(f.read, READ_CHUNK if left is None else min(left, READ_CHUNK))
                if not chunk:
                    break
                left = None if left is None else left - len(chunk)
                yield chunk

    async def put(self, key: str, data: bytes) -> None:
        tmp = self.scratch(key.split("/")[0])
        tmp.write_bytes(data)
        await self.put_file(key, tmp)

    async def put_file(self, key: str, path: Path) -> None:
        os.replace(path, self.path(key))            # same folder tree: a rename, atomic

    async def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    @contextlib.asynccontextmanager
    async def local(self, key: str) -> AsyncIterator[Path]:
        yield self.path(key)

    def scratch(self, folder: str = "uploads") -> Path:
        return self.root / folder / f"scratch-{uuid.uuid4().hex}.tmp"   # beside its destination: a rename

    # -- partial uploads -------------------------------------------------------------------
    async def begin(self, upload_id: str) -> None:
        self.part_path(upload_id).touch()

    async def reconcile(self, upload_id: str, recorded: int, *, writing: bool = False) -> int:
        """The file is written before the offset is recorded: a longer one is trimmed, a shorter one
        (lost page cache) lowers the offset."""
        path = self.part_path(upload_id)
        try:
            actual = path.stat().st_size
        except FileNotFoundError:
            path.touch()
            actual = 0
        if actual > recorded:
            os.truncate(path, recorded)
        return min(actual, recorded)

    async def head(self, upload_id: str, n: int) -> bytes:
        if n <= 0:
            return b""
        with open(self.part_path(upload_id), "rb") as f:
            return f.read(n)

    async def writer(self, upload_id: str, start: int, size: int, hasher: Any, *, thumbnailed: bool = False
                     ) -> FolderWriter:
        return FolderWriter(self, upload_id, start, hasher)

    async def finish(self, upload_id: str) -> str:
        return await self._to_media(self.part_path(upload_id), None)

    async def _to_media(self, path: Path, digest: str | None) -> str:
        if digest is None:
            digest = await asyncio.to_thread(hash_file, path)
        os.replace(path, self.path(media_key(digest)))   # same bytes, same name: replacing is harmless
        return digest

    async def drop(self, name: str) -> None:
        if _UPLOAD_ID.match(name):
            self.part_path(name).unlink(missing_ok=True)
        elif _SCRATCH.match(name):
            (self.parts / name).unlink(missing_ok=True)

    # -- the sweeper -----------------------------------------------------------------------
    async def stale_partials(self, before: float) -> list[str]:
        names = []
        for path in self.parts.iterdir():
            if path.name.endswith((".part", ".tmp")) and _older(path, before):
                stem = path.name.removesuffix(".part")
                names.append(stem if _UPLOAD_ID.match(stem) else path.name)
        return names

    async def stale_media(self, before: float) -> list[str]:
        return [p.name for p in (self.root / "media").iterdir() if _older(p, before)]


def _older(path: Path, before: float) -> bool:
    try:
        return path.stat().st_mtime < before
    except FileNotFoundError:
        return False


def hash_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(FLUSH_BYTES):
            h.update(block)
    return h.hexdigest()

