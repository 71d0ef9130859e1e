"""An S3 bucket (AWS or any S3-compatible store) as a blob store, for several processes at once.

Why boto3 in threads: it is the reference S3 client (credentials from the
standard AWS chain, retries, multipart transfers), and its calls are blocking,
so each runs in a small thread pool of our own: the event loop never waits.

Keys are the --data folder's names under the configured prefix. A tus upload
is stored as tusd's s3store does it (see s3_parts.py): an S3 multipart
upload at `uploads/<id>` (its id in `uploads/<id>.info`), one part per 8 MiB,
and a chunk under S3's 5 MiB minimum part size kept as `uploads/<id>.part`
until the next PATCH prepends it. The offset is what the bucket holds, so any
process can resume an upload another one started.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import tempfile
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import boto3
from boto3.exceptions import S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError

from server.blobs.protocol import StorageUnavailable
from server.blobs.s3_parts import PART_SIZE, Missing, Partial, Taken
from server.blobs.s3_writer import S3Writer

if TYPE_CHECKING:
    from server.config.storage_config import StorageConfig

T = TypeVar("T")
READ_CHUNK = 1024 * 1024
KEPT_STATES = 256                # uploads whose bucket state is kept per table (`_seen`, `_left`)
FRESH_BYTES = 64 * 1024 * 1024   # files just stored whole, kept for their thumbnail (`keep_fresh`)
TAIL_BYTES = 64 * 1024 * 1024    # tails kept with the states PATCHes left, for the next PATCH (`keep_state`)
_OUR_FAULT = ("InvalidPart", "InvalidPartOrder", "EntityTooSmall", "InvalidArgument", "MalformedXML")


class S3Blobs:
    """`Blobs` over one bucket and key prefix; every S3 call runs in `self.pool`."""

    def __init__(self, storage: StorageConfig) -> None:
        session = boto3.session.Session()
        self.bucket, self.prefix = storage.bucket, storage.prefix
        self.where = storage.url + (f" at {storage.endpoint_url}" if storage.endpoint_url else "")
        self.client = session.client(
            "s3", endpoint_url=storage.endpoint_url, region_name=storage.region or session.region_name or "us-east-1",
            config=BotoConfig(max_pool_connections=16, connect_timeout=5, read_timeout=60,
                              retries={"max_attempts": 3, "mode": "standard"},
                              s3={"addressing_style": "path"} if storage.endpoint_url else {}))
        self.pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="s3")
        # upload id -> what the last reconcile found; the PATCH that reconciled (under the lock) uses it next
        self._seen: OrderedDict[str, Partial] = OrderedDict()
        # upload id -> its state as this process's last PATCH left it (see `reconcile`)
        self._left: OrderedDict[str, Partial] = OrderedDict()
        self._fresh: OrderedDict[str, bytes] = OrderedDict()
        self._fresh_size = 0
        self._fresh_lock = threading.Lock()              # written by the pool's threads, read by the loop

    def key(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    # -- calling S3 ------------------------------------------------------------------------
    def call(self, method: str, **kwargs: Any) -> Any:
        """One S3 call (in a worker thread); its failures as `Missing`, `Taken` or `StorageUnavailable`."""
        try:
            return getattr(self.client, method)(Bucket=self.bucket, **kwargs)
        except ClientError as e:
            error = e.response.get("Error", {})
            code, status = str(error.get("Code", "")), e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if code in ("NoSuchKey", "NoSuchUpload", "404") or (status == 404 and code != "NoSuchBucket"):
                raise Missing(code) from None
            if code == "PreconditionFailed":
                raise Taken(code) from None
            if code in _OUR_FAULT:
                raise                                   # a bug of ours, not an outage: a 500 and a log line
            raise StorageUnavailable(self.where, _why(code, status)) from None
        except BotoCoreError as e:
            raise StorageUnavailable(self.where, _short(e)) from None

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.pool, fn, *args)

    async def acall(self, method: str, **kwargs: Any) -> Any:
        return await self.run(lambda: self.call(method, **kwargs))

    def check(self) -> None:
        """The bucket answers and lets us in (HeadBucket); else StorageUnavailable naming it."""
        try:
            self.call("head_bucket")
        except Missing:
            raise StorageUnavailable(self.where, "the bucket does not exist") from None

    def link_secret(self) -> bytes:
        """`secret` in the bucket: made once (a conditional PUT, so two processes starting together agree).
        Whoever can read the bucket can sign links, but could read the files themselves anyway."""
        try:
            value = self.call("get_object", Key=self.key("secret"))["Body"].read()
        except Missing:
            with contextlib.suppress(Taken):            # another process made it first: use theirs
                self.call("put_object", Key=self.key("secret"), Body=secrets.token_hex(32).encode(), IfNoneMatch="*")
            value = self.call("get_object", Key=self.key("secret"))["Body"].read()
        if len(value.strip()) < 32:
            raise StorageUnavailable(self.where, "its 'secret' object is damaged; delete it to make a new one "
                                                 "(old media links will break)")
        return value.strip()

    # -- complete objects ------------------------------------------------------------------
    async def size(self, key: str) -> int | None:
        try:
            return int((await self.acall("head_object", Key=self.key(key)))["ContentLength"])
        except Missing:
            await self.run(self.check)        # a HEAD cannot tell a missing object from a missing bucket
            return None

    async def read(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        if end is not None and end <= start:
            return
        ranged = {} if start == 0 and end is None else {"Range": f"bytes={start}-{'' if end is None else end - 1}"}
        try:
            body = (await self.acall("get_object", Key=self.key(key), **ranged))["Body"]
        except Missing:
            raise FileNotFoundError(key) from None
        try:
            while chunk := await self.run(self._read_body, body):
                yield chunk
        finally:
            body.close()                       # never an await here: a download cut off closes at once

    def _read_body(self, body: Any) -> bytes:
        try:
            return body.read(READ_CHUNK)
        except (BotoCoreError, OSError) as e:
            raise StorageUnavailable(self.where, _short(e)) from None

    async def put(self, key: str, data: bytes) -> None:
        await self.acall("put_object", Key=self.key(key), Body=data)

    async def put_file(self, key: str, path: Path) -> None:
        def upload() -> None:
            try:
                self.client.upload_file(str(path), self.bucket, self.key(key), Config=TransferConfig(
                    multipart_threshold=64 * 1024 * 1024, multipart_chunksize=PART_SIZE * 2, use_threads=False))
            except (S3UploadFailedError, BotoCoreError) as e:
                raise StorageUnavailable(self.where, _short(e)) from None
        await self.run(upload)
        path.unlink(missing_ok=True)

    async def delete(self, key: str) -> None:
        with contextlib.suppress(Missing):
            await self.acall("delete_object", Key=self.key(key))

    def keep_fresh(self, key: str, data: bytes) -> None:
        """A file this process just stored whole (under 8 MiB): its thumbnail is made from these bytes, not
        read back from the bucket (a GET less per photo). The oldest go beyond FRESH_BYTES in all."""
        with self._fresh_lock:
            self._fresh_size += len(data) - len(self._fresh.pop(key, b""))
            self._fresh[key] = data
            while self._fresh_size > FRESH_BYTES:
                self._fresh_size -= len(self._fresh.popitem(last=False)[1])

    def _take_fresh(self, key: str) -> bytes | None:
        with self._fresh_lock:
            data = self._fresh.pop(key, None)
            self._fresh_size -= len(data or b"")
            return data

    @contextlib.asynccontextmanager
    async def local(self, key: str) -> AsyncIterator[Path]:
        path = self.scratch()
        try:
            fresh = self._take_fresh(key)
            if fresh is not None:
                await self.run(path.write_bytes, fresh)
            else:
                with path.open("wb") as f:
                    async for chunk in self.read(key):
                        await self.run(f.write, chunk)
            yield path
        finally:
            path.unlink(missing_ok=True)

    def scratch(self, folder: str = "uploads") -> Path:
        fd, name = tempfile.mkstemp(prefix="attache-", suffix=".tmp")
        os.close(fd)
        return Path(name)

    # -- partial uploads -------------------------------------------------------------------
    async def begin(self, upload_id: str) -> None:
        """Nothing in the bucket yet (the multipart upload is created with the first part; most files fit in
        one PATCH): the first PATCH here goes on from an empty state, without listing the bucket
        (`reconcile`). Were a PATCH on another process to die before recording what it stored, that is
        written over by part number, or left to the sweeper."""
        _keep(self._left, upload_id, Partial(self, upload_id, empty=True))     # no tail: nothing to trim

    async def _load(self, upload_id: str) -> Partial:
        return await self.run(Partial.load, self, upload_id)

    async def reconcile(self, upload_id: str, recorded: int, *, writing: bool = False) -> int:
        """What the bucket holds (three requests), or, for a PATCH when this process's last PATCH stored the
        bytes the database records, what that PATCH left: nobody can have appended since without recording a
        larger offset, and bytes stored by a process that died before recording them are written again, by
        part number, over them. A HEAD always asks the bucket: it is how a client learns the truth."""
        left = self._left.pop(upload_id, None)
        state = left if writing and left is not None and left.offset == recorded else await self._load(upload_id)
        _keep(self._seen, upload_id, state)     # HEADs reconcile without writing: only the latest are kept
        return state.offset

    def keep_state(self, upload_id: str, state: Partial) -> None:
        """A PATCH stored all its bytes: the state it leaves, for the next PATCH of the upload here. The
        tail it wrote is kept with it (the next PATCH prepends it without a GET) within TAIL_BYTES, the
        newest first."""
        _keep(self._left, upload_id, state)
        self._trim_tails()

    def _trim_tails(self) -> None:
        """Kept tails past TAIL_BYTES are dropped (a state moves from `_left` to `_seen` as its PATCH begins,
        so both tables are counted, the PATCHes under way first)."""
        kept = 0
        for state in [*reversed(self._seen.values()), *reversed(self._left.values())]:
            if state.tail_bytes is not None:
                kept += len(state.tail_bytes)
                if kept > TAIL_BYTES:
                    state.tail_bytes = None

    async def head(self, upload_id: str, n: int) -> bytes:
        state = self._seen.get(upload_id) or await self._load(upload_id)
        if n <= 0 or state.parts or state.assembled or not state.tail:
            return b""                          # bytes in parts cannot be read back before completion
        return await self.run(state.read_tail, n)

    async def writer(self, upload_id: str, start: int, size: int, hasher: Any, *, thumbnailed: bool = False
                     ) -> S3Writer:
        state = self._seen.pop(upload_id, None) or await self._load(upload_id)
        return await S3Writer.open(self, state, start, size, hasher, thumbnailed=thumbnailed)

    async def finish(self, upload_id: str) -> str:
        self._left.pop(upload_id, None)
        state = self._seen.pop(upload_id, None) or await self._load(upload_id)
        return await self.run(state.finish)

    async def drop(self, name: str) -> None:
        self._seen.pop(name, None)
        self._left.pop(name, None)
        await self.run(Partial.drop, self, name)

    # -- the sweeper -----------------------------------------------------------------------
    def _listing(self, folder: str, before: float) -> list[str]:
        names, token = [], None
        while True:
            page = self.call("list_objects_v2", Prefix=self.key(folder + "/"),
                             **({"ContinuationToken": token} if token else {}))
            names += [o["Key"].rsplit("/", 1)[-1] for o in page.get("Contents", [])
                      if o["LastModified"].timestamp() < before]
            token = page.get("NextContinuationToken")
            if not token:
                return names

    async def stale_partials(self, before: float) -> list[str]:
        def ids() -> list[str]:
            found = {n.split(".", 1)[0] for n in self._listing("uploads", before)}
            uploads = self.call("list_multipart_uploads", Prefix=self.key("uploads/")).get("Uploads", [])
            found |= {u["Key"].rsplit("/", 1)[-1] for u in uploads if u["Initiated"].timestamp() < before}
            return sorted(found)
        return await self.run(ids)

    async def stale_media(self, before: float) -> list[str]:
        return await self.run(self._listing, "media", before)


def _keep(states: OrderedDict[str, Partial], upload_id: str, state: Partial) -> None:
    states[upload_id] = state
    if len(states) > KEPT_STATES:
        states.popitem(last=False)


def _why(code: str, status: int) -> str:
    if code == "NoSuchBucket":
        return "the bucket does not exist"
    if code in ("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "AllAccessDisabled"):
        return f"access refused ({code}): check the AWS credentials and the bucket's policy"
    return f"it answered {status or ''} {code}".replace("  ", " ").strip()


def _short(error: Exception) -> str:
    text = str(error).split("\n")[0]
    return text[:200] or type(error).__name__
