"""Small real files for tests: valid magic numbers, made in code (nothing binary committed)."""
from __future__ import annotations

from pathlib import Path

from tools.sample_files import png_bytes

PNG = png_bytes(1, 1)
PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)
# A Windows program: the DOS header, then the PE header where e_lfanew (0x3c) points.
EXE = (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 44 + b"\x80\x00\x00\x00"
       + b"\x00" * 64 + b"PE\x00\x00L\x01" + b"\x00" * 200)
SVG_WITH_SCRIPT = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="40" height="40">'
    b'<script>alert("svg script ran")</script><rect width="40" height="40" fill="red"/></svg>'
)
# A .docx is a ZIP container: "PK\x03\x04" then entries.
DOCX = b"PK\x03\x04" + b"\x14\x00\x00\x00\x08\x00" + b"\x00" * 40 + b"[Content_Types].xml" + b"\x00" * 100

# The first bytes of a file, all a sniffer or a restriction check reads.
PNG_HEAD = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
JPEG_HEAD = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"
PDF_HEAD = b"%PDF-1.7\n"
ZIP_HEAD = b"PK\x03\x04\x14\x00\x06\x00"


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
