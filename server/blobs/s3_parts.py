"""A tus upload in S3, as tusd's s3store keeps one: a multipart upload plus a small tail object.

Objects of upload <id> (under the prefix):
    uploads/<id>.info        {"multipart": <S3 UploadId>}, written with the first part
    uploads/<id>             the multipart upload's key; an object once all parts are assembled
    uploads/<id>.part.<n>    bytes after the parts, under S3's 5 MiB minimum part size, that become
                             the start of part <n> (the next PATCH downloads and prepends them)

The offset is the parts' sizes (1, 2, ... without a gap) plus the tail whose
<n> follows the last part, all read from S3: a process that never saw the
upload resumes it. A tail whose <n> is already a part was absorbed (a crash
before it was deleted) and is ignored, so no byte counts twice. Parts go one
at a time (the next is received while one is sent), so there is never a gap.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from server.blobs.protocol import media_key

PART_SIZE = 8 * 1024 * 1024        # what a PATCH pushes at a time
MIN_PART = 5 * 1024 * 1024         # S3's minimum for every part but the last
HASH_CHUNK = 8 * 1024 * 1024
_TAIL = re.compile(r"^\.part\.(\d{1,5})$")


class Missing(Exception):
    """The object (or multipart upload) is not there."""


T = TypeVar("T")


class Bucket(Protocol):
    """What the parts need of the S3 store (server.blobs.s3.Bucket): keys, calls and its thread pool."""

    bucket: str

    @property
    def pool(self) -> Executor: ...

    def key(self, name: str) -> str: ...

    def call(self, method: str, **kwargs: Any) -> Any: ...

    def keep_fresh(self, key: str, data: bytes) -> None: ...

    def keep_state(self, upload_id: str, state: Partial) -> None: ...

    async def run(self, fn: Callable[..., T], *args: Any) -> T: ...


class Taken(Exception):
    """A conditional write found the object already there."""


@dataclass
class Partial:
    """What the bucket holds of one upload."""

    blobs: Bucket
    upload_id: str
    multipart: str | None = None
    parts: list[dict[str, Any]] = field(default_factory=list)   # {"PartNumber", "ETag", "Size"}, 1..n
    tail: int = 0                                               # bytes in uploads/<id>.part.<n+1>
    assembled: int | None = None                                # size of uploads/<id> once assembled
    stale: list[str] = field(default_factory=list)              # absorbed tails, deleted when convenient
    tail_bytes: bytes | None = field(default=None, repr=False)  # the tail as this process wrote it, if kept
    # nothing of the upload in the bucket (created here, or listed so): a file then stored whole needs no clean-up
    empty: bool = False

    @property
    def offset(self) -> int:
        return self.assembled if self.assembled is not None else sum(p["Size"] for p in self.parts) + self.tail

    def name(self, suffix: str = "") -> str:
        return self.blobs.key(f"uploads/{self.upload_id}{suffix}")

    @classmethod
    def load(cls, blobs: Bucket, upload_id: str) -> Partial:
        """One listing of uploads/<id>*, the .info and the parts (runs in a worker thread)."""
        state = cls(blobs, upload_id)
        listing = blobs.call("list_objects_v2", Prefix=state.name())
        objects = {o["Key"].removeprefix(state.name()): o["Size"] for o in listing.get("Contents", [])}
        if "" in objects:
            state.assembled = objects[""]
        if ".info" in objects:
            state.multipart = state._recorded_multipart()
        if state.multipart is not None and state.assembled is None:
            state.parts = state._list_parts()
        state.empty = not objects
        for suffix, size in objects.items():
            tail = _TAIL.match(suffix)
            if tail and int(tail.group(1)) == len(state.parts) + 1 and state.assembled is None:
                state.tail = size
            elif tail:
                state.stale.append(suffix)
        return state

    def _recorded_multipart(self) -> str | None:
        """The multipart upload id recorded in `uploads/<id>.info` (tusd keeps its state there too)."""
        try:
            body = self.blobs.call("get_object", Key=self.name(".info"))["Body"].read()
        except Missing:
            return None
        return json.loads(body).get("multipart")

    def _list_parts(self) -> list[dict[str, Any]]:
        found: dict[int, dict[str, Any]] = {}
        marker = 0
        while True:
            try:
                page = self.blobs.call("list_parts", Key=self.name(), UploadId=self.multipart, PartNumberMarker=marker)
            except Missing:                 # aborted, or completed by a process that then stopped
                self.multipart = None
                return []
            for p in page.get("Parts", []):
                found[p["PartNumber"]] = {"PartNumber": p["PartNumber"], "ETag": p["ETag"], "Size": p["Size"]}
            if not page.get("IsTruncated"):
                break
            marker = page["NextPartNumberMarker"]
        parts: list[dict[str, Any]] = []
        while len(parts) + 1 in found:
            parts.append(found[len(parts) + 1])
        return parts

    def read_tail(self, n: int | None = None) -> bytes:
        """The tail's bytes (or its first `n`): the copy this process wrote if it kept one, else a GET."""
        if self.tail_bytes is not None and len(self.tail_bytes) == self.tail:
            return self.tail_bytes if n is None else self.tail_bytes[:n]
        ranged = {} if n is None else {"Range": f"bytes=0-{n - 1}"}
        return self.blobs.call("get_object", Key=self.name(f".part.{len(self.parts) + 1}"), **ranged)["Body"].read()

    def push(self, data: bytes) -> None:
        """One more part (creating the multipart upload with the first)."""
        self.empty = False
        if self.multipart is None:
            self.multipart = self.blobs.call("create_multipart_upload", Key=self.name())["UploadId"]
            self.blobs.call("put_object", Key=self.name(".info"), Body=json.dumps({"multipart": self.multipart}))
        number = len(self.parts) + 1
        etag = self.blobs.call("upload_part", Key=self.name(), UploadId=self.multipart, PartNumber=number,
                               Body=data)["ETag"]
        self.parts.append({"PartNumber": number, "ETag": etag, "Size": len(data)})

    def keep_tail(self, data: bytes) -> None:
        """Bytes under the minimum part size wait as uploads/<id>.part.<next part>."""
        self.empty = False
        self.blobs.call("put_object", Key=self.name(f".part.{len(self.parts) + 1}"), Body=data)
        self.tail, self.tail_bytes = len(data), data

    def absorb_tail(self) -> None:
        """The tail went into a part: its object is stale, and the bytes no longer kept."""
        if self.tail:
            self.stale.append(f".part.{len(self.parts) + 1}")
        self.tail, self.tail_bytes = 0, None

    def assemble(self) -> None:
        """All bytes are stored: make them one object, uploads/<id>."""
        if self.assembled is not None:
            return
        if self.multipart is None:                      # never reached a part: the tail is the whole file
            self.blobs.call("copy_object", Key=self.name(),
                            CopySource={"Bucket": self.blobs.bucket, "Key": self.name(".part.1")})
            self.assembled = self.tail
            return
        if self.tail:                                   # the tail is the last part
            self.push(self.read_tail())
            self.tail, self.tail_bytes = 0, None
        self.blobs.call("complete_multipart_upload", Key=self.name(), UploadId=self.multipart,
                        MultipartUpload={"Parts": [{"PartNumber": p["PartNumber"], "ETag": p["ETag"]}
                                                   for p in self.parts]})
        self.assembled = sum(p["Size"] for p in self.parts)

    def finish(self, digest: str | None = None) -> str:
        """Assemble, hash by reading back when `digest` is None, copy to media/<sha256>, clean up."""
        self.assemble()
        if digest is None:
            h = hashlib.sha256()
            body = self.blobs.call("get_object", Key=self.name())["Body"]
            while block := body.read(HASH_CHUNK):
                h.update(block)
            digest = h.hexdigest()
        self.blobs.call("copy_object", Key=self.blobs.key(media_key(digest)),
                        CopySource={"Bucket": self.blobs.bucket, "Key": self.name()})
        self.clean()
        return digest

    def clean(self) -> None:
        """Everything of the upload but media: its objects, and an unfinished multipart upload."""
        self.drop(self.blobs, self.upload_id)

    @staticmethod
    def drop(blobs: Bucket, upload_id: str) -> None:
        if not re.fullmatch(r"[0-9a-f]{32}", upload_id):
            return
        prefix = blobs.key(f"uploads/{upload_id}")
        for u in blobs.call("list_multipart_uploads", Prefix=prefix).get("Uploads", []):
            if u["Key"] == prefix:
                with contextlib.suppress(Missing):
                    blobs.call("abort_multipart_upload", Key=prefix, UploadId=u["UploadId"])
        keys = [o["Key"] for o in blobs.call("list_objects_v2", Prefix=prefix).get("Contents", [])]
        if keys:
            blobs.call("delete_objects", Delete={"Objects": [{"Key": k} for k in keys], "Quiet": True})
