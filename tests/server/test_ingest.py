"""`server.uploads.ingest`: files the server fetches itself (Twilio media) meet the same rules as tus uploads.

In-process (no HTTP route calls ingest yet): a real Store per test, and a data dir or an S3 bucket (moto).
"""

from __future__ import annotations

import hashlib
import os

import pytest
from sqlalchemy import text

from app.core.restrictions import Restrictions
from server.blobs.folder import FolderBlobs
from server.blobs.s3 import S3Blobs
from server.config.storage_config import StorageConfig
from server.http.api_error import ApiError
from server.store.queries import Store
from server.uploads.ingest import ingest as ingest_upload
from server.uploads.service import Uploads
from server.uploads.sweeper import sweep

from tests.conftest import run_async

from .conftest import EXE, PDF, PNG, STORAGES
from .stored import FolderStored, S3Stored

RULES = Restrictions(max_file_size=10_000_000, accepted_types=("image/*", ".pdf"), max_files_per_message=1)


@pytest.fixture(params=STORAGES)
def stored(request, tmp_path):
    """The store under test and a view of what it holds."""
    if request.param == "folder":
        return FolderBlobs(tmp_path), FolderStored(tmp_path)
    bucket = request.getfixturevalue("s3_bucket")
    prefix = tmp_path.name
    blobs = S3Blobs(StorageConfig(bucket.name, prefix, bucket.moto.endpoint))
    return blobs, S3Stored(bucket.moto.client(), bucket.name, prefix)


@pytest.fixture
def uploads(tmp_path, stored):
    store = Store(tmp_path / "db.sqlite3")
    yield Uploads(store, stored[0], RULES, expiry=3600)
    store.close()


@pytest.fixture
def view(stored):
    return stored[1]


class Source:
    """An async iterable of chunks that counts how much was read from it."""

    def __init__(self, data: bytes, chunk: int = 65536) -> None:
        self.data, self.chunk, self.read = data, chunk, 0

    def __aiter__(self):
        return self._gen()

    async def _gen(self):
        for i in range(0, len(self.data), self.chunk):
            piece = self.data[i:i + self.chunk]
            self.read += len(piece)
            yield piece



def ingest(uploads: Uploads, name: str, declared: str, chunks) -> object:
    return run_async(ingest_upload(uploads, "customer", name, declared, chunks))


def leftovers(view) -> list[str]:
    return view.partials() + view.media_names()


def test_bytes_become_a_complete_upload_a_message_can_use(uploads, view):
    u = ingest(uploads, "photo.png", "image/png", PNG)
    assert u.complete and (u.owner, u.name, u.size, u.offset) == ("customer", "photo.png", len(PNG), len(PNG))
    assert u.content_type == "image/png" and u.sha256 == hashlib.sha256(PNG).hexdigest()
    assert view.media(u.sha256) == PNG
    assert uploads.store.get_upload(u.id) == u
    message, _ = uploads.store.add_message("sms-1", "customer", "", "key", [u])
    assert [a.id for a in message["attachments"]] == [u.id]
    assert view.partials() == []


def test_a_stream_of_chunks_is_hashed_as_it_is_written(uploads, view):
    data = PDF + os.urandom(9 * 1024 * 1024)            # several writer batches
    u = ingest(uploads, "scan.pdf", "", Source(data))
    assert u.sha256 == hashlib.sha256(data).hexdigest() and u.content_type == "application/pdf"
    assert view.media(u.sha256) == data


def test_the_same_bytes_twice_share_one_media_file(uploads, view):
    a = ingest(uploads, "a.png", "image/png", PNG)
    b = ingest(uploads, "b.png", "", PNG)
    assert a.id != b.id and a.sha256 == b.sha256
    assert len(view.media_names()) == 1


@pytest.mark.parametrize("name,declared,data,status,code", [
    ("photo.png", "image/png", EXE, 415, "type_mismatch"),          # judged by content
    ("README", "", EXE, 415, "type_not_accepted"),
    ("empty.png", "image/png", b"", 422, "empty"),
    ("", "image/png", PNG, 422, "invalid_name"),
])
def test_refused_files_leave_nothing_behind(uploads, view, name, declared, data, status, code):
    with pytest.raises(ApiError) as refused:
        ingest(uploads, name, declared, Source(data))
    assert (refused.value.status, refused.value.code) == (status, code)
    assert leftovers(view) == []
    assert uploads.store.database.scalar(text("SELECT count(*) FROM uploads")) == 0


def test_a_type_refused_by_name_is_not_even_downloaded(uploads):
    source = Source(EXE)
    with pytest.raises(ApiError) as refused:
        ingest(uploads, "setup.exe", "application/x-msdownload", source)
    assert refused.value.code == "type_not_accepted" and "setup.exe" in refused.value.message
    assert source.read == 0


def test_an_oversized_stream_is_cut_off_at_the_limit(uploads, view):
    source = Source(PDF + bytes(30_000_000), chunk=1_000_000)
    with pytest.raises(ApiError) as refused:
        ingest(uploads, "huge.pdf", "application/pdf", source)
    assert (refused.value.status, refused.value.code) == (413, "too_large")
    assert source.read <= RULES.max_file_size + 1_000_000          # stopped reading at the limit
    assert leftovers(view) == []


def test_an_unsent_ingested_file_expires_like_any_upload(uploads, view):
    kept = ingest(uploads, "kept.png", "image/png", PNG)
    uploads.store.add_message("sms-1", "customer", "", "k", [kept])
    dropped = ingest(uploads, "dropped.pdf", "application/pdf", PDF)
    swept = run_async(sweep(uploads, now=dropped.touched_at + uploads.expiry + 1))
    assert (swept.complete, swept.media) == (1, 1)
    assert uploads.store.get_upload(dropped.id) is None and view.media(dropped.sha256) is None
    assert view.media(kept.sha256) == PNG
