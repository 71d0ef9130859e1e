"""media: what may be drawn or opened in place; everything else downloads."""

import pytest

from app.core.media import open_in_place, opens_inline, thumbnail_ok


@pytest.mark.parametrize("content_type", [
    "image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp", "image/avif", "IMAGE/PNG", "image/png; x=1",
])
def test_raster_images_get_thumbnails_and_open_inline(content_type):
    assert thumbnail_ok(content_type) is True
    assert opens_inline(content_type) is True


@pytest.mark.parametrize("content_type", [
    "image/svg+xml", "text/html", "application/xhtml+xml", "application/xml", "text/xml", "text/javascript",
    "application/javascript", "application/octet-stream", "application/zip", "image/x-icon", "image/tiff",
    "application/x-msdownload", "text/markdown", "text/csv", "", "audio", "video/", "audio/x+xml",
])
def test_anything_a_browser_could_run_or_not_show_downloads(content_type):
    assert opens_inline(content_type) is False


@pytest.mark.parametrize("content_type", [
    "application/pdf", "text/plain", "text/plain; charset=utf-8", "audio/mpeg", "audio/ogg", "video/mp4", "video/webm",
])
def test_documents_and_media_open_inline_without_a_thumbnail(content_type):
    assert opens_inline(content_type) is True
    assert thumbnail_ok(content_type) is False


def test_svg_never_gets_a_thumbnail():
    assert thumbnail_ok("image/svg+xml") is False


@pytest.mark.parametrize("declared,sniffed,expected", [
    ("image/png", "image/png", (True, "image/png")),
    ("Image/PNG; x=1", None, (True, "image/png")),
    ("application/pdf", "application/pdf", (True, "application/pdf")),
    ("text/plain", None, (True, "text/plain")),
    ("image/png", "text/html", (False, "application/octet-stream")),   # another client's lie: downloads
    ("text/plain", "image/svg+xml", (False, "application/octet-stream")),
    ("image/svg+xml", "image/svg+xml", (False, "application/octet-stream")),
    ("text/html", None, (False, "application/octet-stream")),
    ("application/zip", "application/zip", (False, "application/octet-stream")),
])
def test_a_fetched_file_opens_in_place_only_when_its_type_and_bytes_both_allow(declared, sniffed, expected):
    assert open_in_place(declared, sniffed) == expected
