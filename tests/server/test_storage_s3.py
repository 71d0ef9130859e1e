"""The S3 store itself: tusd-style parts and tails, resuming on another process, a bucket lost and found,
and refusals at start. (The upload, tus, media, thumbnail and sweeper tests run against S3 too.)"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import pytest

from server.blobs.protocol import media_key
from server.blobs.s3 import S3Blobs
from server.blobs.s3_parts import MIN_PART, PART_SIZE
from server.config.config_error import ConfigError
from server.config.config_file import load_config
from server.config.storage_config import StorageConfig
from tests.services.postgres import database_table
from tests.services.redis import redis_service  # noqa: F401  (session fixture: a real redis-server)
from tests.services.tcp_gate import TcpGate

from tests.conftest import run_async

from .conftest import AGENT, PDF, REPO, TEST_CONFIG, BigPdf, peak_rss_kb, TUS, offset_of, partial_patch, patch, send, start_upload, upload_id
from .test_tus_interop import node, tus_js  # noqa: F401  (the Node fixture and the tus-js-client driver)
from tools.waiting import wait_until

MiB = 1024 * 1024


@pytest.fixture
def storage() -> str:
    return "s3"


def objects(server, uid: str) -> list[str]:
    """The upload's objects in the bucket (names after uploads/), and its unfinished multipart upload."""
    return [n for n in server.stored.partials() if n.startswith(uid)]


def test_small_patches_wait_as_a_tail_and_become_parts_past_the_minimum(server, agent):
    data = PDF + os.urandom(9 * MiB)
    uid = upload_id(start_upload(agent, "big.pdf", len(data), "application/pdf"))
    assert objects(server, uid) == []                                 # nothing until a byte arrives
    assert patch(agent, uid, 0, data[:MiB]).status_code == 204
    assert objects(server, uid) == [f"{uid}.part.1"]                  # under 5 MiB: a tail, no multipart yet
    assert patch(agent, uid, MiB, data[MiB:6 * MiB]).status_code == 204
    # 6 MiB with the tail prepended: part 1 of the multipart upload; the tail is gone
    assert objects(server, uid) == [f"{uid} (multipart)", f"{uid}.info"]
    assert offset_of(agent, uid) == 6 * MiB
    assert patch(agent, uid, 6 * MiB, data[6 * MiB:6 * MiB + 10]).status_code == 204
    assert objects(server, uid) == [f"{uid} (multipart)", f"{uid}.info", f"{uid}.part.2"]
    r = patch(agent, uid, 6 * MiB + 10, data[6 * MiB + 10:])
    assert r.status_code == 204 and r.headers["upload-offset"] == str(len(data))
    assert objects(server, uid) == []                                 # assembled, copied to media, cleaned
    assert server.stored.media(hashlib.sha256(data).hexdigest()) == data


def test_an_upload_begun_on_one_process_is_resumed_on_another(make_server, tmp_path):
    """Two processes share the bucket and the database file; the offset is what S3 holds."""
    data_dir = tmp_path / "shared"
    one, two = make_server(data=data_dir), make_server(data=data_dir)
    data = PDF + os.urandom(10 * MiB)
    with one.client(AGENT) as a, two.client(AGENT) as b:
        uid = upload_id(start_upload(a, "moved.pdf", len(data), "application/pdf"))
        assert patch(a, uid, 0, data[:3 * MiB]).status_code == 204       # a tail, on process one
        assert offset_of(b, uid) == 3 * MiB                              # process two sees it
        assert patch(b, uid, 3 * MiB, data[3 * MiB:9 * MiB]).status_code == 204   # two prepends the tail
        assert offset_of(a, uid) == 9 * MiB
        r = patch(a, uid, 9 * MiB, data[9 * MiB:])        # one saw only the first bytes: it hashes by reading back
        assert r.status_code == 204
        url = send(b, "from two processes", [uid]).json()["attachments"][0]["url"]
        assert a.get(url).content == data and b.get(url).content == data
    assert url.split("/")[2] == hashlib.sha256(data).hexdigest()


def test_processes_sharing_a_bucket_share_the_media_link_key(make_server, tmp_path):
    """The key is kept in the bucket (made once), not in each --data folder: a link signed by one process
    is a valid link for another (both share the database, as [storage] requires)."""
    one = make_server(data=tmp_path / "one", s3_prefix="shared-key")
    two = make_server(data=tmp_path / "two", s3_prefix="shared-key")
    assert not (tmp_path / "one" / "secret").exists() and len(one.stored.secret()) == 64
    with one.client(AGENT) as a, two.client(AGENT) as b:
        uid = upload_id(start_upload(a, "k.pdf", len(PDF), "application/pdf"))
        assert patch(a, uid, 0, PDF).status_code == 204
        url = send(a, "", [uid]).json()["attachments"][0]["url"]
        assert a.get(url).content == PDF
        assert b.get(url).content == PDF          # signed by one, good on the other
        assert b.get(url[:-4] + "0000").json()["error"]["code"] == "bad_signature"


def test_tus_js_client_resumes_on_another_process_an_upload_cut_on_the_first(node, make_server, tmp_path):  # noqa: F811
    data_dir = tmp_path / "shared"
    config = TEST_CONFIG.replace('max_file_size = "300 MB"', 'max_file_size = "30 MB"')
    one, two = make_server(data=data_dir, config_text=config), make_server(data=data_dir, config_text=config)
    data = PDF + os.urandom(7 * MiB)
    with one.client(AGENT) as a:
        uid = upload_id(start_upload(a, "cut.pdf", len(data), "application/pdf"))
        with partial_patch(one, uid, data, 2 * MiB):
            pass                                                         # dropped after 2 MiB
        wait_until(lambda: offset_of(a, uid) == 2 * MiB, "the dropped PATCH's 2 MiB are kept", 10)
    url = f"{two.url}/api/uploads/{uid}"
    result = tus_js(node, two, tmp_path, data, "cut.pdf", "application/pdf", "resume", uploadUrl=url)
    assert result["ok"] is True and result["patches"] == [2 * MiB], result
    with two.client(AGENT) as b:
        att = send(b, "", [uid]).json()["attachments"][0]
        assert b.get(att["url"]).content == data


def test_a_lost_bucket_is_503_with_retry_after_and_nothing_stored_is_lost(make_server, s3_bucket, tmp_path):
    gate = TcpGate(("127.0.0.1", int(s3_bucket.moto.endpoint.rsplit(":", 1)[1]))).open()
    server = make_server(s3_endpoint=gate.url)
    data = PDF + os.urandom(3 * MiB)
    try:
        with server.client(AGENT, timeout=60) as c:
            uid = upload_id(start_upload(c, "through.pdf", len(data), "application/pdf"))
            assert patch(c, uid, 0, data[:MiB]).status_code == 204          # stored before the outage
            gate.close()
            for r in (c.head(f"/api/uploads/{uid}", headers=TUS), patch(c, uid, MiB, data[MiB:2 * MiB])):
                assert r.status_code == 503 and r.headers["retry-after"].isdigit(), r.text
            assert patch(c, uid, MiB, data[MiB:]).json()["error"]["code"] == "storage_unavailable"
            gate.open()                                                      # back: nothing to restart
            assert offset_of(c, uid) == MiB                                  # the 204'd bytes are all there
            assert patch(c, uid, MiB, data[MiB:]).status_code == 204
            url = send(c, "", [uid]).json()["attachments"][0]["url"]
            gate.close()
            r = c.get(url)
            assert r.status_code == 503 and "retry-after" in r.headers
            gate.open()
            assert c.get(url).content == data
        assert "Traceback" not in server.output()
    finally:
        gate.close()


def start_refused(tmp_path, storage: str) -> subprocess.CompletedProcess:
    config = tmp_path / "storage.toml"
    config.write_text(storage)
    return subprocess.run([sys.executable, "-m", "server", "--port", "0", "--config", str(config), "--data",
                           str(tmp_path / "d")], cwd=REPO, capture_output=True, text=True, timeout=60)


def test_an_unreachable_store_at_start_is_named_and_the_process_exits(tmp_path, moto, postgres, request):
    gate = TcpGate(("127.0.0.1", 9))                                     # nothing listens behind it
    shared = database_table(postgres.fresh_database(), request)          # [storage] needs a shared database
    done = start_refused(tmp_path, f'[storage]\nurl = "s3://files/prod"\nendpoint_url = "{gate.url}"\n' + shared)
    assert done.returncode == 3
    assert f"the file storage s3://files/prod at {gate.url} cannot be used" in done.stderr
    done = start_refused(tmp_path, f'[storage]\nurl = "s3://no-such-bucket/x"\nendpoint_url = "{moto.endpoint}"\n'
                         + shared)
    assert done.returncode == 3 and "s3://no-such-bucket/x" in done.stderr and "does not exist" in done.stderr


@pytest.mark.parametrize("table,message", [
    ('url = "/srv/files"', "url must name an S3 bucket"),
    ('url = "s3://Bad_Bucket/x"', "not a valid bucket name"),
    ('url = "s3://files/a//../b"', "key prefix"),
    ('url = "s3://files"\nendpoint_url = "https://key:secret@s3.example"', "without credentials"),
    ('url = "s3://files"\nregion = "Mars"', "region"),
    ('url = "s3://files"\naccess_key = "AKIA..."', "unknown key 'access_key'"),
])
def test_storage_config_errors_say_what_to_write(tmp_path, table, message):
    path = tmp_path / "c.toml"
    path.write_text(f"[storage]\n{table}\n")
    with pytest.raises(ConfigError, match=r"\[storage\]") as error:
        load_config(path)
    assert message in str(error.value)


def test_storage_config_reads_bucket_prefix_and_endpoint(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[storage]\nurl = "s3://attache-files/prod/eu/"\nendpoint_url = "http://127.0.0.1:9000"\n'
                    '[database]\nurl = "postgresql://attache@db.internal/attache"\n'
                    '[broker]\nurl = "redis://cache.internal:6379/0"\n')
    storage = load_config(path).storage
    assert (storage.bucket, storage.prefix, storage.endpoint_url) == ("attache-files", "prod/eu", "http://127.0.0.1:9000")
    assert storage.url == "s3://attache-files/prod/eu" and load_config(None).storage is None


# -- in process: a crash between a part and the tail's deletion --------------------------------------------

def test_a_tail_already_inside_a_part_is_not_counted_twice(s3_bucket, tmp_path):
    blobs = S3Blobs(StorageConfig(s3_bucket.name, tmp_path.name, s3_bucket.moto.endpoint))
    client, uid = s3_bucket.moto.client(), "a" * 32
    first, second = os.urandom(MiB), os.urandom(MIN_PART)

    async def write(start: int, data: bytes) -> int:
        assert await blobs.reconcile(uid, start) == start
        writer = await blobs.writer(uid, start, PART_SIZE * 2, None)
        await writer.add(data)
        await writer.flush()
        return writer.written

    assert run_async(write(0, first)) == MiB
    tail = f"{tmp_path.name}/uploads/{uid}.part.1"
    kept = client.get_object(Bucket=s3_bucket.name, Key=tail)["Body"].read()
    assert run_async(write(MiB, second)) == MIN_PART                     # tail + these bytes became part 1
    client.put_object(Bucket=s3_bucket.name, Key=tail, Body=kept)  # as if the process died before deleting it
    assert run_async(blobs.reconcile(uid, 0)) == MiB + MIN_PART
    run_async(blobs.drop(uid))
    assert client.list_objects_v2(Bucket=s3_bucket.name, Prefix=f"{tmp_path.name}/").get("KeyCount") == 0


def test_a_patch_goes_on_from_what_this_process_left_without_listing_the_bucket(s3_bucket, tmp_path):
    """Three requests less per PATCH: the state this process's last PATCH left is used while the recorded
    offset is the one it left; any other offset (another process wrote, or a crash) reads the bucket again,
    and so does a HEAD."""
    here, other = (S3Blobs(StorageConfig(s3_bucket.name, tmp_path.name, s3_bucket.moto.endpoint)) for _ in "12")
    data, uid = os.urandom(2 * PART_SIZE + 3 * MiB), "c" * 32
    calls: list[str] = []
    call = here.call
    here.call = lambda method, **kwargs: (calls.append(method), call(method, **kwargs))[1]  # type: ignore[method-assign]
    cuts = [0, PART_SIZE + MiB, PART_SIZE + 2 * MiB, len(data)]     # a 9 MiB part, a 1 MiB tail, the rest

    async def write(blobs: S3Blobs, start: int, end: int):
        assert await blobs.reconcile(uid, start, writing=True) == start
        writer = await blobs.writer(uid, start, len(data), None)
        await writer.add(data[start:end])
        await writer.flush()
        assert writer.written == end - start
        return writer

    run_async(write(here, cuts[0], cuts[1]))
    calls.clear()
    run_async(write(here, cuts[1], cuts[2]))
    assert not {"list_objects_v2", "list_parts"} & set(calls), calls
    assert run_async(other.reconcile(uid, 0)) == cuts[2]                   # the bucket agrees with what it left
    calls.clear()
    assert run_async(here.reconcile(uid, 0, writing=True)) == cuts[2] and "list_objects_v2" in calls  # asked
    here.keep_state(uid, here._seen[uid])
    calls.clear()
    assert run_async(here.reconcile(uid, cuts[2])) == cuts[2] and "list_objects_v2" in calls     # a HEAD: asked
    last = run_async(write(here, cuts[2], cuts[3]))
    assert run_async(last.complete(None)) == hashlib.sha256(data).hexdigest()


def test_a_file_stored_whole_by_the_process_that_created_its_upload_is_one_request(s3_bucket, tmp_path):
    """Most files: created, then one PATCH. Nothing is in the bucket yet, so neither that PATCH nor the
    completion lists it; on another process one listing says the same. (What a PATCH that died on a third
    process might have left is written over, or swept: see test_expiry.)"""
    here, other = (S3Blobs(StorageConfig(s3_bucket.name, tmp_path.name, s3_bucket.moto.endpoint)) for _ in "12")
    data = os.urandom(MiB)
    calls: list[str] = []
    for blobs in (here, other):
        call = blobs.call
        blobs.call = lambda method, _call=call, **kwargs: (calls.append(method), _call(method, **kwargs))[1]  # type: ignore[method-assign]

    async def whole(blobs: S3Blobs, uid: str) -> str:
        assert await blobs.reconcile(uid, 0, writing=True) == 0
        writer = await blobs.writer(uid, 0, len(data), hashlib.sha256())
        await writer.add(data)
        await writer.flush()
        return await writer.complete(None)

    run_async(here.begin("e" * 32))
    assert run_async(whole(here, "e" * 32)) == hashlib.sha256(data).hexdigest()
    assert calls == ["put_object"]
    calls.clear()
    run_async(here.begin("f" * 32))                                     # created here, sent on the other
    assert run_async(whole(other, "f" * 32)) == hashlib.sha256(data).hexdigest()
    assert calls == ["list_objects_v2", "put_object"]


def test_tails_kept_for_the_next_patch_stay_within_their_budget(s3_bucket, tmp_path, monkeypatch):
    """Each upload's last PATCH left a 1 MiB tail: past the budget the oldest are forgotten, and a PATCH
    that goes on from a forgotten one reads its tail from the bucket."""
    monkeypatch.setattr("server.blobs.s3.TAIL_BYTES", 2 * MiB)
    blobs = S3Blobs(StorageConfig(s3_bucket.name, tmp_path.name, s3_bucket.moto.endpoint))
    data, uids = os.urandom(2 * MiB), [c * 32 for c in "abc"]

    async def write(uid: str, start: int, end: int) -> str | None:
        await blobs.reconcile(uid, start, writing=True)
        writer = await blobs.writer(uid, start, len(data), None)
        await writer.add(data[start:end])
        await writer.flush()
        return await writer.complete(None) if end == len(data) else None

    for uid in uids:
        run_async(write(uid, 0, MiB))
    assert [blobs._left[u].tail_bytes is not None for u in uids] == [False, True, True]
    reads: list[str] = []
    call = blobs.call
    blobs.call = lambda method, **kwargs: (reads.append(method), call(method, **kwargs))[1]  # type: ignore[method-assign]
    digest = hashlib.sha256(data).hexdigest()
    assert run_async(write(uids[0], MiB, 2 * MiB)) == digest
    assert reads.count("get_object") == 1                               # the forgotten tail, from the bucket
    assert run_async(write(uids[2], MiB, 2 * MiB)) == digest
    assert reads.count("get_object") == 1                               # the kept one: no GET


def test_200_mb_in_one_patch_goes_to_the_bucket_without_being_held(server):
    """Memory stays flat in S3 too: 8 MiB parts, one in flight while the next arrives; the hash is right."""
    body = BigPdf(200 * MiB)
    with server.client(AGENT, timeout=300) as c:
        uid = upload_id(start_upload(c, "big.pdf", body.size, "application/pdf"))
        r = patch(c, uid, 0, iter(body), **{"Content-Length": str(body.size)})
    assert r.status_code == 204 and r.headers["upload-offset"] == str(body.size), r.text
    assert body.sha256 in server.stored.media_names() and objects(server, uid) == []
    assert peak_rss_kb(server) < 200 * 1024, "the body is being held in memory"


def test_two_patches_of_one_upload_on_two_processes_cannot_interleave(make_server, tmp_path, redis_service):
    """With a [broker], the upload lock is shared: a PATCH on another process while one runs is 423."""
    import redis

    from server.live.redis_state import PREFIX
    data_dir, config = tmp_path / "shared", TEST_CONFIG + f'\n[broker]\nurl = "{redis_service.url}"\n'
    one, two = make_server(data=data_dir, config_text=config), make_server(data=data_dir, config_text=config)
    data = PDF + os.urandom(4 * MiB)
    held = redis.Redis.from_url(redis_service.url)
    with one.client(AGENT) as a, two.client(AGENT) as b:
        uid = upload_id(start_upload(a, "both.pdf", len(data), "application/pdf"))
        with partial_patch(one, uid, data, MiB):                      # process one writes, stalled mid-body
            wait_until(lambda: held.keys(f"{PREFIX}*:upload-lock:{uid}"), "process one holds the upload's lock", 10)
            r = patch(b, uid, 0, data)                                # the same upload from process two
            assert r.status_code == 423 and r.json()["error"]["code"] == "upload_locked", r.text
            assert r.headers["retry-after"].isdigit()
        wait_until(lambda: offset_of(b, uid) == MiB, "process one keeps the 1 MiB its client sent", 10)
        assert patch(b, uid, MiB, data[MiB:]).status_code == 204
        url = send(b, "", [uid]).json()["attachments"][0]["url"]
        assert a.get(url).content == data
    held.close()


def slow_photo() -> bytes:
    """A PNG of 24 megapixels that compresses to little but takes a while to decode and shrink (no draft mode)."""
    import io

    from PIL import Image
    out = io.BytesIO()
    Image.linear_gradient("L").resize((6000, 4000)).convert("RGB").save(out, "PNG", compress_level=1)
    return out.getvalue()


def test_a_photo_uploaded_on_one_process_and_sent_on_another_gets_its_thumbnail(make_server, tmp_path):
    """The thumbnail is being made on the process that completed the upload; the message sent on the other
    says it is pending, and the history there shows it once made."""
    data_dir = tmp_path / "shared"
    one, two = make_server(data=data_dir), make_server(data=data_dir)
    photo = slow_photo()
    with one.client(AGENT) as a, two.client(AGENT) as b:
        uid = upload_id(start_upload(a, "wide.png", len(photo), "image/png"))
        assert patch(a, uid, 0, photo).status_code == 204              # complete on one: its thumbnail starts there
        message = send(b, "sent on two", [uid]).json()                  # at once, on the other process
        assert message["attachments"][0]["thumbnail_pending"] is True
        shown = wait_until(lambda: b.get("/api/conversations/default/messages").json()["messages"][-1]
                           ["attachments"][0]["thumbnail"], "the thumbnail made on the first process", timeout=60)
    assert shown["width"] == 480


def test_a_file_stored_whole_is_thumbnailed_from_its_bytes_not_read_back(s3_bucket, tmp_path):
    """A photo in one PATCH: its thumbnail is made from the bytes the PATCH had (no GET); once taken, or on
    another process, the file is read from the bucket. A file that gets no thumbnail is not kept."""
    here, elsewhere = (S3Blobs(StorageConfig(s3_bucket.name, tmp_path.name, s3_bucket.moto.endpoint)) for _ in "12")
    data, uid = os.urandom(MiB), "b" * 32
    reads: list[str] = []
    call = here.call
    here.call = lambda method, **kwargs: (reads.append(method), call(method, **kwargs))[1]  # type: ignore[method-assign]

    async def store_whole(upload_id: str, thumbnailed: bool) -> str:
        await here.reconcile(upload_id, 0)
        writer = await here.writer(upload_id, 0, len(data), hashlib.sha256(), thumbnailed=thumbnailed)
        await writer.add(data)
        await writer.flush()
        return await writer.complete(None)

    async def read_local(blobs: S3Blobs, key: str) -> bytes:
        async with blobs.local(key) as path:
            return path.read_bytes()

    key = media_key(run_async(store_whole(uid, thumbnailed=True)))
    assert key == media_key(hashlib.sha256(data).hexdigest())
    reads.clear()
    assert run_async(read_local(here, key)) == data and "get_object" not in reads
    assert run_async(read_local(here, key)) == data and "get_object" in reads     # taken once: now the bucket's
    assert run_async(read_local(elsewhere, key)) == data
    run_async(store_whole("d" * 32, thumbnailed=False))                # a PDF, say: nothing to keep it for
    assert key not in here._fresh and here._fresh_size == 0


def test_files_kept_for_thumbnails_stay_within_their_budget(s3_bucket, tmp_path, monkeypatch):
    monkeypatch.setattr("server.blobs.s3.FRESH_BYTES", 3 * MiB)
    blobs = S3Blobs(StorageConfig(s3_bucket.name, tmp_path.name, s3_bucket.moto.endpoint))
    for name in "abcd":
        blobs.keep_fresh(name, bytes(MiB))
    assert list(blobs._fresh) == ["b", "c", "d"] and blobs._fresh_size == 3 * MiB   # the oldest went
    assert blobs._take_fresh("c") == bytes(MiB) and blobs._fresh_size == 2 * MiB
