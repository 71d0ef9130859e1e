"""An image's width and height from its first bytes (PNG, GIF, JPEG, WebP, BMP).

Matrix image messages carry ``info.w`` / ``info.h`` so other clients can lay
out the picture before they download it. The page only holds a file's head
(``FileInfo.head``, 4 KiB): the bytes never enter Python whole. So this reads
the header alone, and says ``None`` rather than guess when the answer is not
in the head (a JPEG whose frame header comes after a large EXIF block).

JPEG sizes follow the EXIF orientation when it is in the head (a phone photo
stored sideways is displayed, and so measured, upright), as browsers show it.
"""

from __future__ import annotations

import struct

__all__ = ["image_size"]

# Start-of-frame markers: every SOFn but DHT (C4), JPG (C8) and DAC (CC).
_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})  # TEM, RST0-7: no length field


def image_size(head: bytes) -> tuple[int, int] | None:
    """``(width, height)`` in pixels as displayed, or None when the head does not say."""
    head = bytes(head)
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        size = _png(head)
    elif head[:6] in (b"GIF87a", b"GIF89a"):
        size = struct.unpack("<HH", head[6:10]) if len(head) >= 10 else None
    elif head.startswith(b"\xff\xd8"):
        size = _jpeg(head)
    elif head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        size = _webp(head)
    elif head.startswith(b"BM"):
        size = _bmp(head)
    else:
        size = None
    if size is None or size[0] <= 0 or size[1] <= 0:
        return None
    return int(size[0]), int(size[1])


def _png(h: bytes) -> tuple[int, int] | None:
    if len(h) < 24 or h[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", h[16:24])


def _jpeg(h: bytes) -> tuple[int, int] | None:
    pos, orientation = 2, 1
    while pos + 4 <= len(h):
        if h[pos] != 0xFF:
            return None  # not at a marker: corrupt, or we lost our way
        marker = h[pos + 1]
        if marker == 0xFF:  # fill byte before a marker
            pos += 1
            continue
        if marker in _STANDALONE:
            pos += 2
            continue
        if marker in (0xD8, 0xD9, 0xDA):  # SOI again, EOI, or scan data before any frame
            return None
        length = struct.unpack(">H", h[pos + 2:pos + 4])[0]
        if length < 2:
            return None
        segment = h[pos + 4:pos + 2 + length]
        if marker in _SOF:
            if len(segment) < 5:
                return None  # the frame header runs past the head
            height, width = struct.unpack(">HH", segment[1:5])
            return (height, width) if orientation in (5, 6, 7, 8) else (width, height)
        if marker == 0xE1 and segment.startswith(b"Exif\x00\x00"):
            orientation = _exif_orientation(segment[6:]) or orientation
        pos += 2 + length
    return None


def _exif_orientation(tiff: bytes) -> int | None:
    """Tag 0x0112 of IFD0 in a TIFF structure, None when absent or cut off."""
    order = {b"II": "<", b"MM": ">"}.get(tiff[:2])
    if order is None or len(tiff) < 8:
        return None
    ifd = struct.unpack(order + "I", tiff[4:8])[0]
    if ifd + 2 > len(tiff):
        return None
    count = struct.unpack(order + "H", tiff[ifd:ifd + 2])[0]
    for i in range(count):
        entry = ifd + 2 + 12 * i
        if entry + 12 > len(tiff):
            return None
        tag, kind, _n = struct.unpack(order + "HHI", tiff[entry:entry + 8])
        if tag == 0x0112 and kind == 3:  # SHORT
            value = struct.unpack(order + "H", tiff[entry + 8:entry + 10])[0]
            return value if 1 <= value <= 8 else None
    return None


def _webp(h: bytes) -> tuple[int, int] | None:
    chunk = h[12:16]
    if chunk == b"VP8 " and len(h) >= 30 and h[23:26] == b"\x9d\x01\x2a":
        width, height = struct.unpack("<HH", h[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L" and len(h) >= 25 and h[20] == 0x2F:
        bits = struct.unpack("<I", h[21:25])[0]
        return 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
    if chunk == b"VP8X" and len(h) >= 30:
        width = int.from_bytes(h[24:27], "little") + 1
        height = int.from_bytes(h[27:30], "little") + 1
        return width, height
    return None


def _bmp(h: bytes) -> tuple[int, int] | None:
    if len(h) < 18:
        return None
    header = struct.unpack("<I", h[14:18])[0]
    if header == 12 and len(h) >= 22:  # BITMAPCOREHEADER (OS/2): 16-bit sizes
        return struct.unpack("<HH", h[18:22])
    if header >= 40 and len(h) >= 26:  # BITMAPINFOHEADER and later: height < 0 = top-down
        width, height = struct.unpack("<ii", h[18:26])
        return width, abs(height)
    return None
