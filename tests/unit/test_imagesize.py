"""Width and height from an image's first bytes: what Matrix puts in info.w / info.h.

Headers are built by hand from the formats' specifications; tests/matrix also
compares against images written by Pillow (from Synapse's own environment).
"""

import struct
import zlib

from hypothesis import given
from hypothesis import strategies as st

from app.core.imagesize import image_size


def png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    raw = b"".join(b"\0" + b"\0\0\0" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def jpeg(width: int, height: int, *, before: bytes = b"", sof: int = 0xC0) -> bytes:
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    frame = struct.pack(">BHHB", 8, height, width, 3) + b"\x01\x22\x00\x02\x11\x01\x03\x11\x01"
    sof_segment = bytes([0xFF, sof]) + struct.pack(">H", 2 + len(frame)) + frame
    return b"\xff\xd8" + app0 + before + sof_segment + b"\xff\xda\x00\x02" + b"\x00" * 10 + b"\xff\xd9"


def exif(orientation: int, order: str = ">") -> bytes:
    mark = b"MM" if order == ">" else b"II"
    tiff = (mark + struct.pack(order + "HI", 42, 8) + struct.pack(order + "H", 1)
            + struct.pack(order + "HHIHH", 0x0112, 3, 1, orientation, 0) + struct.pack(order + "I", 0))
    data = b"Exif\x00\x00" + tiff
    return b"\xff\xe1" + struct.pack(">H", 2 + len(data)) + data


def test_png():
    assert image_size(png(3, 2)) == (3, 2)
    assert image_size(struct.pack(">8sI4sII", b"\x89PNG\r\n\x1a\n", 13, b"IHDR", 4000, 3000)) == (4000, 3000)


def test_gif_87_and_89():
    assert image_size(b"GIF89a" + struct.pack("<HH", 640, 480) + b"\x00" * 10) == (640, 480)
    assert image_size(b"GIF87a" + struct.pack("<HH", 1, 1)) == (1, 1)


def test_jpeg_baseline_and_progressive():
    assert image_size(jpeg(1024, 768)) == (1024, 768)
    assert image_size(jpeg(800, 600, sof=0xC2)) == (800, 600)


def test_jpeg_skips_other_segments_and_fill_bytes():
    comment = b"\xff\xfe" + struct.pack(">H", 7) + b"hello"
    dht = b"\xff\xc4" + struct.pack(">H", 5) + b"\x00\x01\x02"  # C4 is not a frame
    assert image_size(jpeg(320, 200, before=comment + dht + b"\xff\xff")) == (320, 200)


def test_jpeg_exif_orientation_swaps_sideways_photos():
    assert image_size(jpeg(4032, 3024, before=exif(6))) == (3024, 4032)
    assert image_size(jpeg(4032, 3024, before=exif(8, "<"))) == (3024, 4032)
    assert image_size(jpeg(4032, 3024, before=exif(1))) == (4032, 3024)
    assert image_size(jpeg(4032, 3024, before=exif(3, "<"))) == (4032, 3024)


def test_jpeg_frame_header_beyond_the_head_is_unknown():
    big_exif = b"\xff\xe1" + struct.pack(">H", 6000) + b"Exif\x00\x00" + b"\x00" * 5992
    whole = jpeg(1024, 768, before=big_exif)
    assert image_size(whole) == (1024, 768)
    assert image_size(whole[:4096]) is None


def test_webp_lossy_lossless_and_extended():
    lossy = b"RIFF" + b"\0" * 4 + b"WEBPVP8 " + b"\0" * 4 + b"\0\0\0" + b"\x9d\x01\x2a" + struct.pack("<HH", 400, 300)
    assert image_size(lossy) == (400, 300)
    bits = (640 - 1) | ((480 - 1) << 14)
    lossless = b"RIFF" + b"\0" * 4 + b"WEBPVP8L" + b"\0" * 4 + b"\x2f" + struct.pack("<I", bits)
    assert image_size(lossless) == (640, 480)
    extended = (b"RIFF" + b"\0" * 4 + b"WEBPVP8X" + b"\0" * 4 + b"\0" * 4
                + (2000 - 1).to_bytes(3, "little") + (1000 - 1).to_bytes(3, "little"))
    assert image_size(extended) == (2000, 1000)


def test_bmp_info_header_top_down_and_core_header():
    info = b"BM" + b"\0" * 12 + struct.pack("<Iii", 40, 120, -80)
    assert image_size(info) == (120, 80)
    core = b"BM" + b"\0" * 12 + struct.pack("<IHH", 12, 16, 9)
    assert image_size(core) == (16, 9)


def test_not_an_image_or_cut_short_is_none():
    assert image_size(b"") is None
    assert image_size(b"%PDF-1.7\n") is None
    assert image_size(png(3, 2)[:20]) is None
    assert image_size(b"GIF89a\x01") is None
    assert image_size(b"\xff\xd8\xff\xd9") is None
    assert image_size(b"BM" + b"\0" * 10) is None
    assert image_size(b"GIF89a" + struct.pack("<HH", 0, 10)) is None  # a zero side is no size


@given(st.binary(max_size=64), st.sampled_from([b"", b"\x89PNG\r\n\x1a\n", b"GIF89a", b"\xff\xd8",
                                                 b"RIFF\0\0\0\0WEBPVP8X", b"BM"]))
def test_any_bytes_give_a_positive_size_or_none(tail, prefix):
    size = image_size(prefix + tail)
    assert size is None or (size[0] > 0 and size[1] > 0)
