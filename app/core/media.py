"""Which stored files may be shown in place: one decision for the browser and the server.

Anything a browser could execute (SVG, HTML, XML, scripts) is never drawn as
a thumbnail nor opened inline; it downloads. The server sets
Content-Disposition from `opens_inline`, the page picks previews with
`thumbnail_ok`, so the two cannot drift apart. Both read the rows of
`app.core.filetypes.TYPES`.
"""

from __future__ import annotations

from app.core import filetypes


def thumbnail_ok(content_type: str) -> bool:
    """Raster images only; never SVG (it can carry script)."""
    row = filetypes.lookup(content_type)
    return row is not None and row.thumbnail


def opens_inline(content_type: str) -> bool:
    """Raster images, PDF, plain text, audio and video open in the browser; the rest downloads."""
    row = filetypes.lookup(content_type)
    if row is not None:
        return row.inline
    major, _, minor = filetypes.normalize(content_type).partition("/")
    return major in ("audio", "video") and bool(minor) and "xml" not in minor


def open_in_place(declared: str, sniffed: str | None = None) -> tuple[bool, str]:
    """How the page hands over a file it fetched itself (e.g. Matrix media, as a ``blob:`` URL).

    Returns (open in a new tab?, the type to give the bytes). A file opens in
    place only when its declared type may (``opens_inline``) and its first bytes
    do not say otherwise (an "image/png" that sniffs as HTML downloads); every
    other file downloads typed ``application/octet-stream``, so nothing the
    browser could run is ever rendered from the page's own origin."""
    inline = opens_inline(declared) and (sniffed is None or opens_inline(sniffed))
    return inline, (filetypes.normalize(declared) if inline else "application/octet-stream")
