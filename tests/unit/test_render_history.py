"""The history's HTML: server thumbnails (sized, the original on click), file cards for bad images,
blocks, and times in the reader's zone for each message's own day."""
from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest

from app import render
from app.backends import HistoryPage
from app.core.models import Attachment, Message
from app.core.timeline import Timeline

from tests.zones import paris

NAMES = {"agent": "Agent", "customer": "Customer"}


def photo(thumbnail_url: str | None, width: int = 0, height: int = 0, name: str = "cat.jpg",
          content_type: str = "image/jpeg") -> Attachment:
    return Attachment(id="a1", name=name, size=2_400_000, content_type=content_type, url=f"/media/1/{name}?sig=o",
                      thumbnail_url=thumbnail_url, thumbnail_width=width, thumbnail_height=height)


def html_of(*attachments: Attachment, created_at: str = "2026-11-25T15:04:05Z", **kw) -> str:
    m = Message(id="m1", seq=1, sender="customer", text="", attachments=attachments, created_at=created_at)
    return render.messages_html([m], "agent", NAMES, **kw)


def test_a_server_thumbnail_is_drawn_at_its_size_and_opens_the_original():
    html = html_of(photo("/thumbnails/1?sig=t", 480, 360))
    assert re.search(r'<a class="thumb" href="/media/1/cat.jpg\?sig=o" target="_blank"', html)
    assert '<img src="/thumbnails/1?sig=t" alt="cat.jpg" width="320" height="240" loading="lazy"' in html
    assert "/media/1/cat.jpg?sig=o\" alt" not in html          # the original is not downloaded for the history


def test_an_image_the_server_could_not_read_is_a_file_card():
    html = html_of(photo(""))
    assert "<img" not in html and 'class="file-card"' in html and "cat.jpg" in html


def test_a_thumbnail_being_made_is_a_placeholder_named_for_the_image_that_opens_the_original():
    pending = Attachment(id="a1", name="cat.jpg", size=2_400_000, content_type="image/jpeg",
                         url="/media/1/cat.jpg?sig=o", thumbnail_url="", thumbnail_pending=True)
    html = html_of(pending)
    assert re.search(r'<a class="thumb" href="/media/1/cat.jpg\?sig=o" target="_blank"', html)
    assert re.search(r'<img alt="cat.jpg" loading="lazy" decoding="async">', html)   # no source yet, no size
    assert "file-card" not in html
    made = html_of(photo("/thumbnails/1?sig=t", 480, 360))         # the update: the same place, now drawn
    assert '<img src="/thumbnails/1?sig=t" alt="cat.jpg"' in made


def test_only_raster_images_have_a_placeholder():
    pdf = Attachment(id="a1", name="terms.pdf", size=20, content_type="application/pdf", url="/media/1/terms.pdf",
                     thumbnail_url="", thumbnail_pending=True)
    assert "<img" not in html_of(pdf) and 'class="file-card"' in html_of(pdf)


def test_a_backend_without_thumbnails_shows_the_original_as_before():
    html = html_of(photo(None))
    assert '<img src="/media/1/cat.jpg?sig=o" alt="cat.jpg" loading="lazy"' in html   # no size known


def test_a_thumbnail_never_makes_an_unsafe_type_an_image():
    html = html_of(photo("/thumbnails/1?sig=t", 40, 40, name="logo.svg", content_type="image/svg+xml"))
    assert "<img" not in html and 'download="logo.svg"' in html


def test_thumbnail_urls_are_escaped():
    html = html_of(photo('/t?a=1&b="><script>', 10, 10))
    assert "<script>" not in html and 'src="/t?a=1&amp;b=&#34;&gt;&lt;script&gt;"' in html


@pytest.mark.parametrize("size, drawn", [((480, 360), (320, 240)), ((100, 50), (100, 50)), ((480, 120), (480, 120)),
                                         ((200, 480), (100, 240)), ((1, 4000), (1, 240)), ((0, 10), None)])
def test_thumbnails_are_drawn_at_most_240_px_tall_keeping_their_shape(size, drawn):
    assert render.thumb_size(*size) == drawn


def test_blocks_of_history_are_quiet_and_blocks_of_arrivals_are_announced():
    assert render.block_html(7, "<p>x</p>", live=False) == '<div class="block" aria-live="off" data-block="7"><p>x</p></div>'
    assert render.block_html(8, "", live=True) == '<div class="block live" data-block="8"></div>'


def opening(messages: list[Message], older: str | None) -> str:
    timeline = Timeline()
    timeline.start(HistoryPage(tuple(messages), older))
    return render.opening_html(timeline, lambda ms: "".join(f"<i>{m.seq}</i>" for m in ms))


def test_the_history_opens_with_the_sentinel_and_the_newest_page_as_block_one():
    """What the server's first paint draws and the page keeps: the same HTML from the same page."""
    ms = [Message(id=f"m{n}", seq=n, sender="customer", text="", attachments=(), created_at="") for n in (3, 2)]
    paged = opening(ms, older="2")
    assert paged.endswith('<div class="block" aria-live="off" data-block="1"><i>2</i><i>3</i></div>')
    assert paged.startswith('<div id="history-start" class="history-start" aria-live="off">'
                            '<span class="history-start-text">Loading earlier messages…</span>')
    whole = opening(ms, older=None)
    assert whole.startswith('<div id="history-start" class="history-start" aria-live="off" hidden>')
    assert opening([], older=None) == render.start_html(older=False)


def test_each_message_time_is_in_the_readers_zone_on_its_own_day():
    """Read in Paris in November (UTC+1), a July message shows the summer clock (UTC+2)."""
    html = html_of(created_at="2026-07-01T12:00:00Z", utc_offset_minutes=paris, now="2026-11-25T18:00:00Z")
    assert '<time datetime="2026-07-01T12:00:00Z">1 Jul 14:00</time>' in html
    assert paris(datetime(2026, 11, 25, tzinfo=timezone.utc)) == 60
