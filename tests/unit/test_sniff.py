"""sniff: what the first bytes prove, and the type we believe in the end."""

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.core import filetypes
from app.core.models import FileInfo
from app.core.sniff import HEAD_SIZE, claimed_type, effective_type, looks_binary, sniff, type_from_name

PE_EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 44 + b"\x80\x00\x00\x00"
PE_EXE = PE_EXE + b"\x00" * (0x80 - len(PE_EXE)) + b"PE\x00\x00" + b"\x00" * 100
BMP = b"BM" + struct.pack("<IHHI", 1000, 0, 0, 54) + struct.pack("<I", 40) + b"\x00" * 36


@pytest.mark.parametrize("head, expected", [
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image/png"),
    (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg"),
    (b"GIF89a\x01\x00", "image/gif"),
    (b"GIF87a\x01\x00", "image/gif"),
    (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "image/webp"),
    (b"RIFF\x24\x00\x00\x00WAVEfmt ", "audio/wav"),
    (b"RIFF\x24\x00\x00\x00AVI LIST", "video/x-msvideo"),
    (BMP, "image/bmp"),
    (b"II*\x00\x08\x00", "image/tiff"),
    (b"\x00\x00\x01\x00\x01\x00\x10\x10", "image/x-icon"),
    (b"%PDF-1.7\n", "application/pdf"),
    (b"PK\x03\x04\x14\x00", "application/zip"),
    (b"PK\x05\x06" + b"\x00" * 18, "application/zip"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\x00", "application/x-ole-storage"),
    (b"\x1f\x8b\x08\x00", "application/gzip"),
    (b"BZh91AY&SY", "application/x-bzip2"),
    (b"\xfd7zXZ\x00\x00", "application/x-xz"),
    (b"7z\xbc\xaf\x27\x1c\x00\x04", "application/x-7z-compressed"),
    (b"Rar!\x1a\x07\x01\x00", "application/vnd.rar"),
    (b"\x00" * 257 + b"ustar\x0000", "application/x-tar"),
    (PE_EXE, "application/x-msdownload"),
    (b"MZ\x90\x00", "application/x-msdownload"),
    (b"\x7fELF\x02\x01\x01", "application/x-executable"),
    (b"\xcf\xfa\xed\xfe\x07\x00\x00\x01", "application/x-mach-binary"),
    (b"\xca\xfe\xba\xbe\x00\x00\x00\x02", "application/x-mach-binary"),
    (b"\xca\xfe\xba\xbe\x00\x00\x00\x41", "application/java-vm"),
    (b"\x00asm\x01\x00\x00\x00", "application/wasm"),
    (b"ID3\x04\x00\x00", "audio/mpeg"),
    (b"\xff\xfb\x90\x64", "audio/mpeg"),
    (b"\xff\xf1\x50\x80", "audio/aac"),
    (b"OggS\x00\x02" + b"\x00" * 22 + b"\x01vorbis", "audio/ogg"),
    (b"OggS\x00\x02" + b"\x00" * 22 + b"\x80theora", "video/ogg"),
    (b"fLaC\x00\x00\x00\x22", "audio/flac"),
    (b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2", "video/mp4"),
    (b"\x00\x00\x00\x14ftypqt  \x00\x00\x02\x00qt  ", "video/quicktime"),
    (b"\x00\x00\x00\x1cftypM4A \x00\x00\x00\x00M4A mp42", "audio/mp4"),
    (b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1", "image/avif"),
    (b"\x00\x00\x00\x1cftypmif1\x00\x00\x00\x00mif1avif", "image/avif"),
    (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "image/heic"),
    (b"\x00\x00\x01\x00ftypisom", "video/mp4"),  # box of 256 bytes: not an icon
    (b"\x1aE\xdf\xa3\x9fB\x86\x81\x01B\x82\x84webm", "video/webm"),
    (b"\x1aE\xdf\xa3\x9fB\x86\x81\x01B\x82\x88matroska", "video/x-matroska"),
    (b"wOF2\x00\x01", "font/woff2"),
    (b"SQLite format 3\x00", "application/vnd.sqlite3"),
    (b"{\\rtf1\\ansi", "application/rtf"),
    (b'<svg xmlns="http://www.w3.org/2000/svg">', "image/svg+xml"),
    (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg">', "image/svg+xml"),
    (b'<?xml version="1.0"?>\n<note/>', "application/xml"),
    (b"<!DOCTYPE html>\n<html>", "text/html"),
    (b"\xef\xbb\xbf  \n<HTML lang=en>", "text/html"),
    (b"<script>alert(1)</script>", "text/html"),
    (b"<!-- comment -->\n<p>hi</p>", "text/html"),
    (b"<!-- drawn by hand -->\n<svg></svg>", "image/svg+xml"),
])
def test_sniff_recognises_magic_numbers(head, expected):
    assert sniff(head) == expected


@pytest.mark.parametrize("head", [
    b"", b"hello world\n", b"MZ is a postal code, written without any NUL byte in a text. " * 2,
    b"BMW drivers", b"<abbr>not a sniffed tag</abbr>", b"<body-text>", b"\xff\xfeh\x00i\x00",
    b"# Title\n\nSome *markdown*.", b"PK", b"RIFF\x00\x00\x00\x00JUNK",
])
def test_sniff_finds_nothing_in_text_and_short_heads(head):
    assert sniff(head) is None


def test_sniff_reads_only_head_size_bytes():
    late_tar = b"a" * HEAD_SIZE + b"\x00" * 257 + b"ustar"
    assert sniff(late_tar) is None
    assert looks_binary(b"a" * HEAD_SIZE + b"\x00") is False


@given(st.binary(max_size=5000))
def test_sniff_never_raises_and_answers_a_type_or_none(head):
    found = sniff(head)
    assert found is None or (isinstance(found, str) and "/" in found)


@given(st.binary(max_size=600), st.sampled_from([b"\x89PNG\r\n\x1a\n", b"%PDF-", b"PK\x03\x04", b"GIF89a"]))
def test_a_magic_prefix_decides_whatever_follows(tail, prefix):
    assert sniff(prefix + tail) == sniff(prefix + b"\x00" * 16)


@given(st.binary(max_size=300))
def test_effective_type_never_raises(head):
    assert "/" in effective_type(FileInfo("x.bin", len(head), "", head))


@pytest.mark.parametrize("name, expected", [
    ("photo.PNG", "image/png"), ("a.b.JPEG", "image/jpeg"), ("report.pdf", "application/pdf"),
    ("notes.txt", "text/plain"), ("doc.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    ("archive.tar.gz", "application/gzip"), ("setup.exe", "application/x-msdownload"), ("dir/sub/file.csv", "text/csv"),
    ("C:\\Users\\me\\clip.mov", "video/quicktime"), ("photo.png ", "image/png"),
    ("README", None), (".bashrc", None), ("trailing.", None), ("odd.xyz", None), ("", None),
])
def test_type_from_name_uses_our_own_table(name, expected):
    assert type_from_name(name) == expected


def test_claimed_type_falls_back_to_declared_type_only_when_the_name_says_nothing():
    assert claimed_type(FileInfo("photo.png", 1, "application/pdf")) == "image/png"
    assert claimed_type(FileInfo("scan", 1, "Image/PNG; q=1")) == "image/png"
    assert claimed_type(FileInfo("scan", 1, "application/octet-stream")) is None
    assert claimed_type(FileInfo("scan", 1, "garbage")) is None


@pytest.mark.parametrize("info, expected", [
    (FileInfo("photo.jpg", 9, "image/jpeg", b"\x89PNG\r\n\x1a\n\x00"), "image/png"),  # content wins
    (FileInfo("report.docx", 9, "", b"PK\x03\x04\x14\x00"), filetypes.EXTENSIONS["docx"]),  # name refines ZIP
    (FileInfo("old.doc", 9, "", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"), "application/msword"),
    (FileInfo("bundle.zip", 9, "", b"PK\x03\x04\x14\x00"), "application/zip"),
    (FileInfo("notes.txt", 9, "", b"<html><script>x</script>"), "text/plain"),  # stays text: never rendered
    (FileInfo("photo.png", 9, "", b"<svg onload=x>"), "image/svg+xml"),  # a lie: believe the content
    (FileInfo("notes.txt", 9, "", b"hello"), "text/plain"),
    (FileInfo("notes", 9, "text/plain", b"hello"), "text/plain"),
    (FileInfo("blob", 9, "", b"hello"), "application/octet-stream"),
    (FileInfo("photo.png", 9, "", b""), "image/png"),  # head unknown: by name
])
def test_effective_type(info, expected):
    assert effective_type(info) == expected


@pytest.mark.parametrize("head, expected", [
    (b"plain text\n", False), (b"caf\xc3\xa9", False), (b"\xff\xfeh\x00i\x00", False),
    (b"\xef\xbb\xbfhello", False), (b"<html></html>", False), (b"abc\x00def", True),
    (b"\x89PNG\r\n\x1a\n", True), (b"\x1f\x8b\x08", True), (b"{\\rtf1", False),
])
def test_looks_binary(head, expected):
    assert looks_binary(head) is expected
