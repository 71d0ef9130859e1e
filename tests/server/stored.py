"""What a test server has stored, read straight from its store (the --data folder or the S3 bucket).

Why: the upload tests check what is kept and what is gone (a refused file
leaves nothing, a sent file is never swept); the same assertions must hold
whichever store the server uses, so they ask this view, not the folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol


class Stored(Protocol):
    def media(self, sha256: str) -> bytes | None: ...
    def media_names(self) -> list[str]: ...
    def partials(self) -> list[str]: ...
    def thumbnails(self) -> list[str]: ...
    def put_partial(self, name: str, data: bytes) -> None: ...
    def secret(self) -> bytes: ...


class FolderStored:
    def __init__(self, data: Path) -> None:
        self.data = data

    def _names(self, folder: str) -> list[str]:
        path = self.data / folder
        return sorted(p.name for p in path.iterdir()) if path.is_dir() else []

    def media(self, sha256: str) -> bytes | None:
        path = self.data / "media" / sha256
        return path.read_bytes() if path.exists() else None

    def media_names(self) -> list[str]:
        return self._names("media")

    def partials(self) -> list[str]:
        return self._names("uploads")

    def thumbnails(self) -> list[str]:
        return self._names("thumbnails")

    def put_partial(self, name: str, data: bytes) -> None:
        (self.data / "uploads" / name).write_bytes(data)

    def secret(self) -> bytes:
        return (self.data / "secret").read_text().strip().encode()


class S3Stored:
    def __init__(self, client: Any, bucket: str, prefix: str) -> None:
        self.client, self.bucket, self.prefix = client, bucket, prefix

    def _names(self, folder: str) -> list[str]:
        names, token = [], None
        while True:
            page = self.client.list_objects_v2(Bucket=self.bucket, Prefix=f"{self.prefix}/{folder}/",
                                               **({"ContinuationToken": token} if token else {}))
            names += [o["Key"].rsplit("/", 1)[-1] for o in page.get("Contents", [])]
            token = page.get("NextContinuationToken")
            if not token:
                return sorted(names)

    def media(self, sha256: str) -> bytes | None:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=f"{self.prefix}/media/{sha256}")["Body"].read()
        except self.client.exceptions.NoSuchKey:
            return None

    def media_names(self) -> list[str]:
        return self._names("media")

    def partials(self) -> list[str]:
        """Objects under uploads/, and multipart uploads not finished or aborted."""
        pending = self.client.list_multipart_uploads(Bucket=self.bucket, Prefix=f"{self.prefix}/uploads/")
        return sorted(self._names("uploads") + [u["Key"].rsplit("/", 1)[-1] + " (multipart)"
                                                 for u in pending.get("Uploads", [])])

    def thumbnails(self) -> list[str]:
        return self._names("thumbnails")

    def put_partial(self, name: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=f"{self.prefix}/uploads/{name}", Body=data)

    def secret(self) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=f"{self.prefix}/secret")["Body"].read().strip()
