"""Which stored files may be shown in place: one decision for the browser and the server.

Anything a browser could execute (SVG, HTML, XML, scripts) is never drawn as
a thumbnail nor opened inline; it downloads. The server sets
Content-Disposition from `opens_inline`, the page picks previews with
`thumbnail_ok`, so the two cannot drift apart.
"""

from __future__ import annotations

from app.core.filetypes import normalize

RASTER_IMAGES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp", "image/avif"})
_INLINE_DOCUMENTS = frozenset({"application/pdf", "text/plain"})


def thumbnail_ok(content_type: str) -> bool:
    """Raster images only; never SVG (it can carry script)."""
    return normalize(content_type) in RASTER_IMAGES


def opens_inline(content_type: str) -> bool:
    """Raster images, PDF, plain text, audio and video open in the browser; the rest downloads."""
    ct = normalize(content_type)
    if ct in RASTER_IMAGES or ct in _INLINE_DOCUMENTS:
        return True
    major, _, minor = ct.partition("/")
    return major in ("audio", "video") and bool(minor) and "xml" not in minor
