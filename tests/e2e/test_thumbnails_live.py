"""A photo's message is shown at once; its thumbnail, made by the server afterwards, appears in place."""
from __future__ import annotations

import hashlib
import re
import sqlite3
import time

from playwright.sync_api import expect

from tests.e2e.api import Api
from tests.files import png_bytes


def forget_thumbnail(database, sha256: str, timeout: float = 20) -> None:
    """Wait for the server to record the photo's thumbnail, then remove the record (as before thumbnails
    existed): the message sent next shows its photo as still being made."""
    deadline = time.monotonic() + timeout
    with sqlite3.connect(database) as db:
        while not db.execute("SELECT 1 FROM thumbnails WHERE sha256 = ?", (sha256,)).fetchone():
            assert time.monotonic() < deadline, "the server made no thumbnail"
            time.sleep(0.05)
        db.execute("DELETE FROM thumbnails WHERE sha256 = ?", (sha256,))


def test_a_photo_shows_at_once_and_its_thumbnail_appears_in_place(open_app, reference_server, conversation):
    photo = png_bytes(640, 480)
    page = open_app("agent")
    log = page.get_by_role("log", name="Conversation")
    api = Api(reference_server.url)
    uploaded = api.upload("harbour.png", photo, "image/png")
    forget_thumbnail(reference_server.data / "attache.sqlite3", hashlib.sha256(photo).hexdigest())
    api.send_uploaded(conversation, "the harbour", [uploaded])

    message = log.locator("article").filter(has_text="the harbour")
    image = message.get_by_role("img", name="harbour.png")
    expect(image).to_be_visible()                                    # the message, its photo's place and name
    expect(image).not_to_have_attribute("src", re.compile("."))
    expect(message.get_by_role("link", name=re.compile("harbour.png"))).to_have_attribute(
        "href", re.compile(r"/media/[0-9a-f]{64}/harbour\.png\?"))   # a click opens the original meanwhile

    api.upload("harbour-again.png", photo, "image/png")             # the same bytes: the server makes it now
    expect(image).to_have_attribute("src", re.compile(r"/thumbnails/[0-9a-f]{64}\?"))
    page.wait_for_function("[...document.images].some(i => i.alt === 'harbour.png' && i.naturalWidth === 480)")
    expect(log.locator("article").filter(has_text="the harbour")).to_have_count(1)   # replaced, not added
