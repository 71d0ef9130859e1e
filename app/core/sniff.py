"""What a file is, judged from its first bytes (magic numbers), never from its name alone.

The browser reads the first HEAD_SIZE bytes of a picked file; the server has
the first chunk of the upload. Both call the same functions on at most
HEAD_SIZE bytes, so they reach the same verdict.
"""

from __future__ import annotations

from app.core import filetypes
from app.core.models import FileInfo

HEAD_SIZE = 4096

_PREFIXES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
    (b"\x00\x00\x01\x00", "image/x-icon"),
    (b"8BPS", "image/vnd.adobe.photoshop"),
    (b"\xff\x0a", "image/jxl"),
    (b"\x00\x00\x00\x0cJXL \r\n\x87\n", "image/jxl"),
    (b"%PDF-", "application/pdf"),
    (b"PK\x03\x04", "application/zip"),
    (b"PK\x05\x06", "application/zip"),
    (b"PK\x07\x08", "application/zip"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "application/x-ole-storage"),
    (b"\x1f\x8b", "application/gzip"),
    (b"\xfd7zXZ\x00", "application/x-xz"),
    (b"7z\xbc\xaf\x27\x1c", "application/x-7z-compressed"),
    (b"Rar!\x1a\x07", "application/vnd.rar"),
    (b"\x28\xb5\x2f\xfd", "application/zstd"),
    (b"\xed\xab\xee\xdb", "application/x-rpm"),
    (b"\x7fELF", "application/x-executable"),
    (b"\xfe\xed\xfa\xce", "application/x-mach-binary"),
    (b"\xfe\xed\xfa\xcf", "application/x-mach-binary"),
    (b"\xce\xfa\xed\xfe", "application/x-mach-binary"),
    (b"\xcf\xfa\xed\xfe", "application/x-mach-binary"),
    (b"\x00asm", "application/wasm"),
    (b"ID3", "audio/mpeg"),
    (b"fLaC", "audio/flac"),
    (b"MThd", "audio/midi"),
    (b"wOFF", "font/woff"),
    (b"wOF2", "font/woff2"),
    (b"OTTO", "font/otf"),
    (b"\x00\x01\x00\x00\x00", "font/ttf"),
    (b"SQLite format 3\x00", "application/vnd.sqlite3"),
    (b"{\\rtf", "application/rtf"),
)

_RIFF = {b"WEBP": "image/webp", b"WAVE": "audio/wav", b"AVI ": "video/x-msvideo"}
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}
_MP3_SYNC = {0xFB, 0xFA, 0xF3, 0xF2, 0xE3, 0xE2}
_HTML_TAGS = (b"<!doctype html", b"<html", b"<head", b"<script", b"<iframe", b"<h1", b"<div",
              b"<font", b"<table", b"<a", b"<style", b"<title", b"<b", b"<body", b"<br", b"<p")
_TEXT_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")


def sniff(head: bytes) -> str | None:
    """The MIME type the content's first bytes prove, or None (plain text has no magic)."""
    h = bytes(head[:HEAD_SIZE])
    return _structured(h) or _prefixed(h) or _markup(h)


def _prefixed(h: bytes) -> str | None:
    for prefix, mime in _PREFIXES:
        if h.startswith(prefix):
            return mime
    return None


def _structured(h: bytes) -> str | None:
    """Formats whose magic is not a plain prefix, checked before the prefixes
    because an MP4 box of size 256 starts like an icon (00 00 01 00)."""
    if h[4:8] == b"ftyp":
        return _ftyp(h)
    if h[:4] == b"RIFF":
        return _RIFF.get(h[8:12])
    if h[:4] == b"FORM" and h[8:12] in (b"AIFF", b"AIFC"):
        return "audio/aiff"
    if h[:2] == b"MZ" and (len(h) < 64 or b"\x00" in h[:64] or _has_pe_header(h)):
        return "application/x-msdownload"  # a text starting with "MZ" has no NUL bytes
    if h[:4] == b"\xca\xfe\xba\xbe" and len(h) >= 8:
        # Fat Mach-O counts architectures (small); a Java class has its version (>= 45).
        small = int.from_bytes(h[4:8], "big") < 45
        return "application/x-mach-binary" if small else "application/java-vm"
    if len(h) >= 3 and h[0] == 0xFF and h[1] in _MP3_SYNC and h[2] >> 4 != 0xF and (h[2] >> 2) & 3 != 3:
        return "audio/mpeg"
    if len(h) >= 2 and h[0] == 0xFF and h[1] in (0xF1, 0xF9):
        return "audio/aac"
    if h[:2] == b"BM" and len(h) >= 18 and h[6:10] == b"\x00\x00\x00\x00" \
            and int.from_bytes(h[14:18], "little") in (12, 40, 52, 56, 64, 108, 124):
        return "image/bmp"
    if h[:3] == b"BZh" and h[3:4].isdigit() and h[3:4] != b"0":
        return "application/x-bzip2"
    if h[257:262] == b"ustar":
        return "application/x-tar"
    if h[:4] == b"\x1aE\xdf\xa3":
        return "video/webm" if b"webm" in h[:64] else "video/x-matroska"
    if h[:4] == b"OggS":
        return "video/ogg" if b"\x80theora" in h[:128] else "audio/ogg"
    return None


def _has_pe_header(h: bytes) -> bool:
    offset = int.from_bytes(h[60:64], "little")
    return h[offset:offset + 4] == b"PE\x00\x00"


def _ftyp(h: bytes) -> str:
    brand = h[8:12]
    size = max(int.from_bytes(h[:4], "big"), 16)
    compatible = {h[i:i + 4] for i in range(16, min(size, len(h)) - 3, 4)}
    if brand in (b"avif", b"avis") or (brand in (b"mif1", b"msf1") and b"avif" in compatible):
        return "image/avif"
    if brand in _HEIF_BRANDS:
        return "image/heic"
    if brand == b"qt  ":
        return "video/quicktime"
    if brand in (b"M4A ", b"M4B ", b"M4P "):
        return "audio/mp4"
    if brand.startswith(b"3gp"):
        return "video/3gpp"
    return "video/mp4"


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
