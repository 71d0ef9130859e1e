"""Tests of a file's first bytes for formats whose magic is more than a prefix.

Each function takes the head (at most HEAD_SIZE bytes) and says whether it
is that format; the rows of `app.core.filetypes.TYPES` name them. Formats
recognised by a plain prefix need no function: their rows list the bytes.
"""

from __future__ import annotations

from collections.abc import Callable

Test = Callable[[bytes], bool]

HEIF_BRANDS = frozenset({b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"})
_MP3_SYNC = frozenset({0xFB, 0xFA, 0xF3, 0xF2, 0xE3, 0xE2})
_BMP_HEADER_SIZES = frozenset({12, 40, 52, 56, 64, 108, 124})
_EBML = b"\x1aE\xdf\xa3"


def riff(form: bytes) -> Test:
    """A RIFF container of this form (WEBP, WAVE, 'AVI ')."""
    return lambda h: h[:4] == b"RIFF" and h[8:12] == form


def ftyp(*brands: bytes) -> Test:
    """An ISO base media file (MP4 family) whose major brand is one of `brands`; any brand when none."""
    return lambda h: h[4:8] == b"ftyp" and (not brands or h[8:12] in brands)


def avif(h: bytes) -> bool:
    """AVIF says so in its major brand, or as a compatible brand of a generic HEIF one."""
    if h[4:8] != b"ftyp":
        return False
    brand, size = h[8:12], max(int.from_bytes(h[:4], "big"), 16)
    compatible = {h[i:i + 4] for i in range(16, min(size, len(h)) - 3, 4)}
    return brand in (b"avif", b"avis") or (brand in (b"mif1", b"msf1") and b"avif" in compatible)


def third_gen_partnership(h: bytes) -> bool:
    return h[4:8] == b"ftyp" and h[8:11] == b"3gp"


def windows_program(h: bytes) -> bool:
    """'MZ' plus NUL bytes or a PE header: a text starting with "MZ" has no NUL bytes."""
    if h[:2] != b"MZ":
        return False
    if len(h) < 64 or b"\x00" in h[:64]:
        return True
    offset = int.from_bytes(h[60:64], "little")
    return h[offset:offset + 4] == b"PE\x00\x00"


def _cafebabe_count(h: bytes) -> int | None:
    return int.from_bytes(h[4:8], "big") if h[:4] == b"\xca\xfe\xba\xbe" and len(h) >= 8 else None


def fat_mach_o(h: bytes) -> bool:
    """Fat Mach-O counts architectures (small); a Java class has its version (>= 45) there."""
    count = _cafebabe_count(h)
    return count is not None and count < 45


def java_class(h: bytes) -> bool:
    count = _cafebabe_count(h)
    return count is not None and count >= 45


def mp3_frame(h: bytes) -> bool:
    """An MPEG audio frame header without an ID3 tag in front."""
    return len(h) >= 3 and h[0] == 0xFF and h[1] in _MP3_SYNC and h[2] >> 4 != 0xF and (h[2] >> 2) & 3 != 3


def adts(h: bytes) -> bool:
    return len(h) >= 2 and h[0] == 0xFF and h[1] in (0xF1, 0xF9)


def bmp(h: bytes) -> bool:
    """'BM' alone is English ("BMW"): the reserved fields and the header size must agree too."""
    return (h[:2] == b"BM" and len(h) >= 18 and h[6:10] == b"\x00\x00\x00\x00"
            and int.from_bytes(h[14:18], "little") in _BMP_HEADER_SIZES)


def bzip2(h: bytes) -> bool:
    return h[:3] == b"BZh" and h[3:4].isdigit() and h[3:4] != b"0"


def tar(h: bytes) -> bool:
    return h[257:262] == b"ustar"


def aiff(h: bytes) -> bool:
    return h[:4] == b"FORM" and h[8:12] in (b"AIFF", b"AIFC")


def webm(h: bytes) -> bool:
    return h[:4] == _EBML and b"webm" in h[:64]


def matroska(h: bytes) -> bool:
    return h[:4] == _EBML and b"webm" not in h[:64]


def ogg_video(h: bytes) -> bool:
    return h[:4] == b"OggS" and b"\x80theora" in h[:128]


def ogg_audio(h: bytes) -> bool:
    return h[:4] == b"OggS" and b"\x80theora" not in h[:128]
