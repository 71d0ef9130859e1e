"""Small real files for tests: valid magic numbers, made in code (nothing binary committed)."""
from __future__ import annotations

import struct
import zlib
from pathlib import Path


def png_bytes(width: int = 48, height: int = 32, rgb: tuple[int, int, int] = (2, 99, 224)) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    row = b"\x00" + bytes(rgb) * width
    raw = row * height
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 200
SVG_WITH_SCRIPT = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="40" height="40">'
    b'<script>alert("svg script ran")</script><rect width="40" height="40" fill="red"/></svg>'
)
# A .docx is a ZIP container: "PK\x03\x04" then entries.
DOCX = b"PK\x03\x04" + b"\x14\x00\x00\x00\x08\x00" + b"\x00" * 40 + b"[Content_Types].xml" + b"\x00" * 100


def write(directory: Path, name: str, data: bytes) -> Path:
    path = directory / name
    path.write_bytes(data)
    return path


def sized(directory: Path, name: str, size: int, head: bytes = b"") -> Path:
    """A sparse file of `size` bytes starting with `head` (cheap even for 200 MB)."""
    path = directory / name
    with open(path, "wb") as fh:
        fh.write(head)
        fh.truncate(size)
    return path
