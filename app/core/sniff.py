"""What a file is, judged from its first bytes (magic numbers), never from its name alone.

The browser reads the first HEAD_SIZE bytes of a picked file; the server has
the first chunk of the upload. Both call the same functions on at most
HEAD_SIZE bytes, so they reach the same verdict.
"""

from __future__ import annotations

from app.core import filetypes
from app.core.models import FileInfo

HEAD_SIZE = 4096

# The table's magic, split once: tests of structure first (an MP4 box of 256
# bytes starts like an icon, 00 00 01 00), then plain prefixes, in table order.
_TESTS = tuple((m, row.mime) for row in filetypes.TYPES for m in row.magic if callable(m))
_PREFIXES = tuple((m, row.mime) for row in filetypes.TYPES for m in row.magic if isinstance(m, bytes))
_HTML_TAGS = (b"<!doctype html", b"<html", b"<head", b"<script", b"<iframe", b"<h1", b"<div",
              b"<font", b"<table", b"<a", b"<style", b"<title", b"<b", b"<body", b"<br", b"<p")
_TEXT_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")


def sniff(head: bytes) -> str | None:
    """The MIME type the content's first bytes prove, or None (plain text has no magic)."""
    h = bytes(head[:HEAD_SIZE])
    for test, mime in _TESTS:
        if test(h):
            return mime
    for prefix, mime in _PREFIXES:
        if h.startswith(prefix):
            return mime
    return _markup(h)


def _markup(h: bytes) -> str | None:
    """HTML, SVG or XML at the start of the content (after a BOM and blank space),
    following the WHATWG sniffing patterns: these are what browsers would render."""
    text = h[3:] if h.startswith(b"\xef\xbb\xbf") else h
    text = text.lstrip(b" \t\r\n\x0c").lower()
    if not text.startswith(b"<"):
        return None
    if text.startswith((b"<svg", b"<!doctype svg")):
        return "image/svg+xml"
    if text.startswith(b"<?xml"):
        if b"<svg" in text:
            return "image/svg+xml"
        return "text/html" if b"<html" in text else "application/xml"
    if text.startswith(b"<!--"):
        return "image/svg+xml" if b"<svg" in text and b"<html" not in text else "text/html"
    for tag in _HTML_TAGS:
        if text.startswith(tag) and text[len(tag):len(tag) + 1] in (b" ", b">", b"\t", b"\n", b"\r"):
            return "text/html"
    return None


def looks_binary(head: bytes) -> bool:
    """True when the head cannot be text: NUL bytes (outside UTF-16/32) or a known binary format."""
    h = bytes(head[:HEAD_SIZE])
    if h.startswith(_TEXT_BOMS):
        return False
    if b"\x00" in h:
        return True
    found = sniff(h)
    return found is not None and filetypes.family(found) not in ("text", "markup")


def type_from_name(name: str) -> str | None:
    """The type a file name claims, from our own table (never `mimetypes`)."""
    return filetypes.type_for_extension(name)


def claimed_type(info: FileInfo) -> str | None:
    """What the file says it is: its name, else the browser's declared type."""
    declared = filetypes.normalize(info.declared_type)
    if declared == filetypes.OCTET_STREAM or "/" not in declared:
        declared = ""
    return type_from_name(info.name) or declared or None


def effective_type(info: FileInfo) -> str:
    """The type we believe and store: sniffed, else by name, else declared.

    When the name is a more precise reading of the sniffed content (.docx for
    a ZIP, .txt for HTML), the name's type wins: it is both truer and safer.
    """
    sniffed = sniff(info.head)
    claimed = claimed_type(info)
    if sniffed is not None:
        if claimed is not None and filetypes.refines(claimed, sniffed):
            return claimed
        return sniffed
    return claimed or filetypes.OCTET_STREAM
