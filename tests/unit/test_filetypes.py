"""filetypes: the one table every type decision reads; its rows must agree with themselves."""

import pytest

from app.core import filetypes
from app.core.filetypes import TYPES
from app.core.humanize import icon_for, type_label
from app.core.media import opens_inline, thumbnail_ok
from app.core.sniff import sniff

ICONS = {"image", "pdf", "text", "document", "spreadsheet", "presentation", "archive", "audio", "video", "code", "file"}
FAMILIES = {"image", "markup", "zip", "ole", "executable", "archive", "pdf", "database", "media", "font", "text"}
SIGNED = ["image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf",
          "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
          "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
          "application/vnd.openxmlformats-officedocument.presentationml.presentation"]


def test_one_row_per_type_and_one_type_per_extension():
    mimes = [row.mime for row in TYPES]
    assert len(mimes) == len(set(mimes))
    extensions = [ext for row in TYPES for ext in row.extensions]
    assert len(extensions) == len(set(extensions))
    assert all(ext == ext.lower() and "." not in ext for ext in extensions)


@pytest.mark.parametrize("row", TYPES, ids=lambda row: row.mime)
def test_every_row_is_complete(row):
    assert row.mime == filetypes.normalize(row.mime) and "/" in row.mime
    assert type_label(row.mime) == row.label
    assert icon_for(row.mime) in ICONS
    assert filetypes.family(row.mime) in FAMILIES
    for ext in row.extensions:
        assert filetypes.type_for_extension(f"file.{ext.upper()}") == row.mime


@pytest.mark.parametrize("mime", SIGNED)
def test_the_types_that_must_carry_their_signature(mime):
    assert filetypes.signature_required(mime)


SAMPLES = {"image/png": b"\x89PNG\r\n\x1a\n", "image/jpeg": b"\xff\xd8\xff\xe0", "image/gif": b"GIF89a",
           "image/webp": b"RIFF\x24\x00\x00\x00WEBPVP8 ", "application/pdf": b"%PDF-1.7"}


@pytest.mark.parametrize("row", [r for r in TYPES if r.signature], ids=lambda row: row.mime)
def test_a_signature_is_something_sniff_can_find(row):
    """Either the row's own magic, or (Office files) its container's, of the same family."""
    if row.magic:
        assert sniff(SAMPLES[row.mime] + b"\x00" * 32) == row.mime
    else:
        assert row.family == "zip" and filetypes.refines(row.mime, sniff(b"PK\x03\x04\x14\x00"))


def test_thumbnails_are_a_subset_of_what_opens_inline_and_never_markup():
    for row in TYPES:
        if row.thumbnail:
            assert opens_inline(row.mime) and row.mime.startswith("image/")
        if filetypes.family(row.mime) == "markup":
            assert not row.thumbnail and not row.inline


def test_a_major_type_speaks_for_types_the_table_does_not_know():
    assert (type_label("image/x-new"), icon_for("image/x-new"), filetypes.family("image/x-new")) == \
        ("Image", "image", "image")
    assert (type_label("font/x-new"), filetypes.family("font/x-new")) == ("Font", "font")
    assert filetypes.family("application/x-new") is None and not thumbnail_ok("image/x-new")
