"""Statements on the busy paths: each one is a database round trip that holds the event loop (and, in a
send, the message lock), so the hot requests make only the ones they need.

In-process: a real Store (SQLite) and the --data folder; the statements are counted as SQLAlchemy runs them.
"""

from __future__ import annotations

import hashlib
import os

import pytest
from sqlalchemy import event

from app.core.restrictions import Restrictions
from server.blobs.folder import FolderBlobs
from server.blobs.protocol import StorageUnavailable
from server.http.api_error import ApiError
from server.live.upload_locks import LocalUploadLock, UploadBusy
from server.store.queries import Store
from server.uploads.service import Uploads

from tests.conftest import run_async

from .conftest import PDF, PNG


class Statements(list):
    """The statements the store runs, first words only (`SELECT uploads`, `UPDATE uploads`, ...)."""

    def of(self, verb: str, table: str) -> int:
        return sum(1 for s in self if s.startswith(verb) and f" {table} " in f" {s} ")


@pytest.fixture
def store(tmp_path):
    store = Store(tmp_path / "db.sqlite3")
    yield store
    store.close()


@pytest.fixture
def statements(store) -> Statements:
    seen = Statements()
    event.listen(store.database.engine, "before_cursor_execute", lambda *a: seen.append(" ".join(a[2].split())))
    return seen


@pytest.fixture
def uploads(tmp_path, store) -> Uploads:
    return Uploads(store, FolderBlobs(tmp_path), Restrictions(accepted_types=("image/*", ".pdf")), expiry=3600)


async def _chunks(data: bytes):
    yield data


def whole_patch(uploads: Uploads, name: str, data: bytes, declared: str):
    async def go():
        u = await uploads.create("agent", name, len(data), declared)
        return (await uploads.append(u.id, "agent", 0, len(data), _chunks(data)))[0]
    return run_async(go())


def test_a_whole_file_patch_reads_its_row_once_and_records_it_once(uploads, statements):
    data = PDF + os.urandom(5000)
    u = whole_patch(uploads, "report.pdf", data, "application/pdf")
    assert u.complete and u.sha256 == hashlib.sha256(data).hexdigest()
    patch = statements[statements.index(next(s for s in statements if s.startswith("INSERT INTO uploads"))) + 1:]
    assert [s.split(" FROM ")[0][:14] for s in patch if "uploads" in s] == ["SELECT uploads", "UPDATE uploads"]
    stored = uploads.store.get_upload(u.id)
    assert (stored.offset, stored.sha256) == (len(data), u.sha256)


def test_a_chunk_short_of_the_end_records_its_offset(uploads, statements):
    data = PDF + os.urandom(5000)

    async def go():
        u = await uploads.create("agent", "report.pdf", len(data), "application/pdf")
        statements.clear()
        return (await uploads.append(u.id, "agent", 0, 100, _chunks(data[:100])))[0]
    u = run_async(go())
    assert statements.of("UPDATE", "uploads") == 1 and uploads.store.get_upload(u.id).offset == 100


def test_a_completion_that_fails_keeps_the_offset_its_bytes_reached(tmp_path, store):
    """The last PATCH's bytes are all stored but moving them to media fails: the offset is recorded
    (it is not written before completion), and asking for the offset completes the upload."""
    class Failing(FolderBlobs):
        fail = True

        async def _to_media(self, path, digest):
            if self.fail:
                raise StorageUnavailable("the disk", "full")
            return await super()._to_media(path, digest)

    blobs = Failing(tmp_path)
    uploads = Uploads(store, blobs, Restrictions(accepted_types=(".pdf",)), expiry=3600)
    data = PDF + os.urandom(5000)
    with pytest.raises(StorageUnavailable):
        whole_patch(uploads, "report.pdf", data, "application/pdf")
    [row] = [store.get_upload(i) for i in store.incomplete_upload_ids()]
    assert row.offset == len(data) and row.sha256 is None
    blobs.fail = False
    assert run_async(uploads.state(row.id, "agent")).sha256 == hashlib.sha256(data).hexdigest()


def test_a_send_reads_again_under_the_lock_only_files_whose_thumbnail_may_come(uploads, statements):
    pdf = whole_patch(uploads, "report.pdf", PDF + b"x", "application/pdf")
    photo = whole_patch(uploads, "photo.png", PNG, "image/png")
    store = uploads.store
    rows = store.uploads_to_send([pdf.id, photo.id])
    for attached, reads in (([rows[pdf.id]], 0), ([rows[photo.id]], 1), ([rows[pdf.id], rows[photo.id]], 1)):
        statements.clear()
        message, created = store.add_message("sea", "agent", "", os.urandom(8).hex(), attached)
        assert created and [a.id for a in message["attachments"]] == [a.id for a in attached]
        assert statements.of("SELECT", "uploads.id,") == reads, statements
    store.record_thumbnail(photo.sha256, 10, 10)
    shown = store.uploads_to_send([photo.id])[photo.id]
    statements.clear()
    message, _ = store.add_message("sea", "agent", "", "made", [shown])
    assert message["attachments"][0].thumbnail == (10, 10) and statements.of("SELECT", "uploads.id,") == 0


def test_an_upload_held_elsewhere_is_busy_for_its_owner_and_unknown_to_others(tmp_path, store):
    """The PATCH takes the upload's lock before reading its row; held by another process, the owner
    is told to wait (423) and anyone else still finds nothing (404), as before the lock."""
    class HeldElsewhere(LocalUploadLock):
        def hold(self, upload_id, *, wait=True):
            raise UploadBusy(upload_id)

    uploads = Uploads(store, FolderBlobs(tmp_path), Restrictions(), expiry=3600, locks=HeldElsewhere())
    u = run_async(uploads.create("agent", "a.txt", 5, "text/plain"))
    for owner, status in (("agent", 423), ("someone-else", 404)):
        with pytest.raises(ApiError) as refused:
            run_async(uploads.append(u.id, owner, 0, 5, _chunks(b"hello")))
        assert refused.value.status == status


def test_a_streams_read_is_one_statement_with_the_files_and_one_more_for_updates(uploads, statements):
    pdf = whole_patch(uploads, "report.pdf", PDF + b"y", "application/pdf")
    photo = whole_patch(uploads, "photo.png", PNG, "image/png")
    store = uploads.store
    rows = store.uploads_to_send([pdf.id, photo.id])
    first, _ = store.add_message("sea", "agent", "both", "k1", [rows[pdf.id], rows[photo.id]])
    store.add_message("sea", "agent", "text only", "k2", [])
    [(_, update_seq)] = store.record_thumbnail(photo.sha256, 12, 8)
    statements.clear()
    events = store.events("sea")
    assert len(statements) == 1
    assert [(kind, m["text"]) for _seq, kind, m in events] == [("message", "both"), ("message", "text only")]
    assert [(a.name, a.thumbnail) for a in events[0][2]["attachments"]] == [("report.pdf", None),
                                                                             ("photo.png", (12, 8))]
    statements.clear()
    [(seq, kind, updated)] = store.events("sea", after=update_seq - 1)
    assert len(statements) == 2 and (seq, kind, updated["id"]) == (update_seq, "update", first["id"])
    assert [(a.name, a.thumbnail) for a in updated["attachments"]] == [("report.pdf", None), ("photo.png", (12, 8))]
