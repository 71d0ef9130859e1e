"""Thumbnails: made with Pillow when an image upload completes, signed like media links, and never a
crash for a bad or hostile image (the file stays and is shown as a file card). Every image is made in code."""

from __future__ import annotations

import io
import sqlite3
import struct
import time
import zlib
from urllib.parse import parse_qs, urlsplit

import pytest
from PIL import Image
from sqlalchemy import text

from app.core.restrictions import Restrictions
from server.blobs.folder import FolderBlobs
from server.media.link_signer import Signer
from server.media.thumbnails import MAX_SIDE, NICENESS, Thumbnails, make_safely
from server.store.migrate import open_database
from server.store.queries import Store
from server.uploads.ingest import ingest
from server.uploads.service import Uploads
from tests.files import png_bytes

from tests.conftest import run_async

from .conftest import AGENT, CUSTOMER, STORAGES, TUS, send, upload
from tools.waiting import wait_for, wait_until


@pytest.fixture(params=STORAGES)
def storage(request) -> str:
    """The tests over HTTP run against the --data folder and an S3 bucket (moto)."""
    return request.param


# -- images made in code ----------------------------------------------------------------------------
def jpeg(width: int, height: int, orientation: int = 1) -> bytes:
    im = Image.effect_noise((width, height), 60).convert("RGB")     # noise: a realistically large file
    exif = Image.Exif()
    exif[0x0112] = orientation
    out = io.BytesIO()
    im.save(out, "JPEG", quality=90, exif=exif)
    return out.getvalue()


def png_rgba(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", (width, height), (255, 0, 0, 64)).save(out, "PNG")
    return out.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares width x height but holds a few bytes of pixels: a decompression bomb's header."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * 1000)) + chunk(b"IEND", b""))


def gif_bomb() -> bytes:
    """A GIF whose screen is 65535 x 65535 pixels (4.3 gigapixels) in 30-odd bytes."""
    return (b"GIF89a" + struct.pack("<HH", 65535, 65535) + b"\x00\x00\x00"
            + b"\x2c" + struct.pack("<HHHH", 0, 0, 65535, 65535) + b"\x00" + b"\x02\x02\x44\x01\x00\x3b")


BAD = {
    "truncated.jpg": lambda: jpeg(1200, 900)[:30_000],
    "truncated.png": lambda: png_bytes(400, 300)[:200],
    "bomb.png": lambda: png_header_only(20_000, 20_000),          # 400 MP: Pillow's DecompressionBombError
    "big.png": lambda: png_header_only(8_000, 8_000),             # 64 MP: over our limit, under Pillow's
    "bomb.gif": gif_bomb,
    "garbage.png": lambda: b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8,
    "garbage.webp": lambda: b"RIFF\x20\x00\x00\x00WEBPVP8 " + b"\xff" * 64,
}


# -- made in process ----------------------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")   # what `make` refuses anyway
@pytest.mark.parametrize("name", sorted(BAD))
def test_a_bad_or_hostile_image_gives_no_thumbnail_and_no_exception(tmp_path, name):
    src, dst = tmp_path / name, tmp_path / "out.webp"
    src.write_bytes(BAD[name]())
    assert make_safely(src, dst) == (0, 0)
    assert not dst.exists() and [p.name for p in tmp_path.iterdir()] == [name]   # no temporary file left


def test_a_photo_is_bounded_upright_and_webp(tmp_path):
    (tmp_path / "photo.jpg").write_bytes(jpeg(2000, 1200, orientation=6))   # stored sideways, shown upright
    assert make_safely(tmp_path / "photo.jpg", tmp_path / "t.webp") == (288, MAX_SIDE)
    with Image.open(tmp_path / "t.webp") as im:
        assert (im.format, im.size) == ("WEBP", (288, MAX_SIDE))


def test_a_small_transparent_image_keeps_its_size_and_alpha(tmp_path):
    (tmp_path / "dot.png").write_bytes(png_rgba(48, 32))
    assert make_safely(tmp_path / "dot.png", tmp_path / "t.webp") == (48, 32)
    with Image.open(tmp_path / "t.webp") as im:
        assert im.mode == "RGBA" and im.getpixel((0, 0))[3] < 255



def test_ingested_images_get_thumbnails_too(tmp_path):
    store = Store(tmp_path / "db.sqlite3")
    blobs = FolderBlobs(tmp_path)
    made = Thumbnails(store, blobs)
    uploads = Uploads(store, blobs, Restrictions(accepted_types=("image/*",)), expiry=3600, thumbnails=made)

    async def go():
        u = await ingest(uploads, "twilio", "mms.jpg", "image/jpeg", jpeg(900, 600))
        await made.wait([u])
        return u
    u = run_async(go())
    with sqlite3.connect(tmp_path / "db.sqlite3") as db:
        row = db.execute("SELECT width, height FROM thumbnails WHERE sha256 = ?", (u.sha256,)).fetchone()
    shot = tmp_path / "thumbnails" / f"{u.sha256}.webp"
    assert tuple(row) == (MAX_SIDE, 320) and shot.exists() and store.has_thumbnail(u.sha256)
    run_async(uploads.discard(u))                              # never sent: the media and its thumbnail go together
    assert not shot.exists() and not store.has_thumbnail(u.sha256)
    run_async(made.close())
    store.close()


# -- over HTTP ----------------------------------------------------------------------------------------
def link_parts(url: str) -> tuple[str, dict[str, str]]:
    parts = urlsplit(url)
    return parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()}


def shown(client, cid: str, timeout: float = 20) -> dict:
    """The newest message's first attachment once its thumbnail is made (the state, not a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while True:
        a = client.get(f"/api/conversations/{cid}/messages").json()["messages"][-1]["attachments"][0]
        if not a.get("thumbnail_pending") or time.monotonic() > deadline:
            return a
        time.sleep(0.05)


def test_a_sent_photo_carries_a_signed_thumbnail_the_other_side_can_load(server, agent):
    photo = jpeg(1600, 1200)
    state = upload(agent, "holiday.jpg", photo, "image/jpeg")
    sent = send(agent, "look", [state["upload_id"]], cid="trip").json()
    a = sent["attachments"][0]
    assert a["thumbnail"] is None if a.get("thumbnail_pending") else a["thumbnail"]["height"] == 360
    with server.client(CUSTOMER) as customer:
        listed = shown(customer, "trip")
    assert listed["thumbnail"]["width"] == MAX_SIDE and listed["thumbnail"]["height"] == 360
    with server.client() as anonymous:                     # <img> sends no token: the link is the capability
        r = anonymous.get(listed["thumbnail"]["url"])
        assert r.status_code == 200 and r.headers["content-type"] == "image/webp"
        assert r.headers["x-content-type-options"] == "nosniff" and "sandbox" in r.headers["content-security-policy"]
        assert int(r.headers["cache-control"].split("max-age=")[1].split(",")[0]) <= 3600
        assert len(r.content) < len(photo) / 10
        assert Image.open(io.BytesIO(r.content)).size == (MAX_SIDE, 360)
        assert anonymous.get(listed["url"]).content == photo         # the original, on click


def test_thumbnail_links_are_bound_to_their_conversation_and_expire(server, agent):
    state = upload(agent, "bound.jpg", jpeg(300, 200), "image/jpeg")
    send(agent, "", [state["upload_id"]], cid="here")
    url = shown(agent, "here")["thumbnail"]["url"]
    path, q = link_parts(url)
    signer = Signer(server.stored.secret())
    digest = path.rsplit("/", 1)[1]
    with server.client() as anonymous:
        assert anonymous.get(url.replace("c=here", "c=there")).status_code == 403
        assert anonymous.get(url.replace(q["sig"], "0" * 32)).status_code == 403
        media_sig = signer.sig("here", int(q["e"]), digest, "bound.jpg")   # the original's signature is not it
        assert anonymous.get(url.replace(q["sig"], media_sig)).status_code == 403
        e = int(q["e"])
        elsewhere = f"{path}?c=there&e={e}&sig={signer.sig('there', e, digest, thumbnails_name())}"
        r = anonymous.get(elsewhere)                                  # well signed, never sent there
        assert r.status_code == 404 and r.json()["error"]["code"] == "media_not_found"
        past = int(time.time()) - 1
        r = anonymous.get(f"{path}?c=here&e={past}&sig={signer.sig('here', past, digest, thumbnails_name())}")
        assert r.status_code == 403 and r.json()["error"]["code"] == "link_expired"


def thumbnails_name() -> str:
    from server.media.link_signer import THUMBNAIL
    return THUMBNAIL


@pytest.mark.parametrize("name", ["truncated.jpg", "bomb.png", "bomb.gif", "garbage.png"])
def test_a_bad_image_is_kept_and_sent_without_a_thumbnail(server, agent, name):
    data = BAD[name]()
    state = upload(agent, name, data, "image/png" if name.endswith(".png") else "")
    cid = f"bad-{name.replace('.', '-')}"
    r = send(agent, "careful", [state["upload_id"]], cid=cid)
    assert r.status_code == 201, r.text
    a = shown(agent, cid)
    assert a["thumbnail"] is None and "thumbnail_pending" not in a and a["content_type"].startswith("image/")
    with server.client() as anonymous:
        assert anonymous.get(a["url"]).content == data            # the file itself is kept
    assert agent.get("/api/restrictions").status_code == 200      # and the server is still there
    assert "Traceback" not in server.output()


def test_an_unsent_image_loses_its_thumbnail_with_its_bytes(server, agent):
    state = upload(agent, "draft.png", png_bytes(200, 100), "image/png")
    wait_until(server.stored.thumbnails, "the thumbnail is made (in the background)")
    assert len(server.stored.thumbnails()) == 1
    assert agent.delete(f"/api/uploads/{state['upload_id']}", headers=TUS).status_code == 204
    assert server.stored.thumbnails() == []


def test_images_from_before_thumbnails_get_them_after_a_restart(server, agent, storage):
    state = upload(agent, "old.png", png_bytes(640, 480), "image/png")
    send(agent, "", [state["upload_id"]], cid="v1")
    assert shown(agent, "v1")["thumbnail"]
    server.stop()
    database = open_database(server.database_url, server.data / "attache.sqlite3")
    database.run(text("DELETE FROM thumbnails"))                       # as a data dir from before this version
    database.close()
    if storage == "folder":               # (in S3 the row alone decides: a thumbnail is made again over it)
        for path in (server.data / "thumbnails").iterdir():
            path.unlink()
    server.start()
    with server.client(AGENT) as c:
        a = wait_for(lambda: c.get("/api/conversations/v1/messages").json()["messages"][0]["attachments"][0],
                     lambda a: a["thumbnail"], "the old image gets its thumbnail after the restart")
    assert a["thumbnail"] == {**a["thumbnail"], "width": MAX_SIDE, "height": 360}


def test_only_raster_images_get_thumbnails(server, agent):
    from tests.files import PDF, SVG_WITH_SCRIPT
    for name, data, ct in (("terms.pdf", PDF, "application/pdf"), ("logo.html", SVG_WITH_SCRIPT, "text/html")):
        state = upload(agent, name, data, ct)
        a = send(agent, "", [state["upload_id"]], cid="files").json()["attachments"][0]
        assert a["thumbnail"] is None and "thumbnail_pending" not in a
    assert server.stored.thumbnails() == []


def test_uploads_without_thumbnails_still_complete_and_go(tmp_path):
    """Uploads made without the app (tools, tests) take no Thumbnailer: an image completes, then goes."""
    store = Store(tmp_path / "db.sqlite3")
    uploads = Uploads(store, FolderBlobs(tmp_path), Restrictions(), expiry=3600)
    u = run_async(ingest(uploads, "x", "p.png", "image/png", png_bytes()))
    assert u.complete and store.media_in_use(u.sha256)
    run_async(uploads.discard(u))
    assert not store.media_in_use(u.sha256) and not (tmp_path / "thumbnails" / f"{u.sha256}.webp").exists()
    store.close()


def test_thumbnail_workers_yield_the_cores_to_requests(tmp_path):
    """A burst of photos must not slow the event loop's sends: the workers run at a lower priority (Linux)."""
    import os
    import threading

    store = Store(tmp_path / "db.sqlite3")
    made = Thumbnails(store, FolderBlobs(tmp_path))
    here = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    worker = made._pool.submit(lambda: os.getpriority(os.PRIO_PROCESS, threading.get_native_id())).result()
    assert worker == min(19, here + NICENESS)
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == here    # the caller's thread is as it was
    run_async(made.close())
    store.close()
