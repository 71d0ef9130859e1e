"""Which blob store a server uses: the --data folder without [storage], else the S3 bucket.

Apart from server.blobs.protocol (the interface) so that neither store's module and the
interface import each other.
"""

from __future__ import annotations

from pathlib import Path

from server.blobs.folder import FolderBlobs
from server.blobs.protocol import Blobs
from server.config.storage_config import StorageConfig


def open_blobs(storage: StorageConfig | None, data_dir: Path) -> Blobs:
    """The store the config names: the --data folder without [storage], else the S3 bucket."""
    if storage is None:
        return FolderBlobs(data_dir)
    from server.blobs.s3 import S3Blobs  # loads boto3 only when a bucket is configured
    return S3Blobs(storage)
