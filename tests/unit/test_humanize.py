"""humanize: sizes, labels, icons and times as people read them."""

import re
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.core.humanize import human_size, icon_for, short_time, type_label, with_article
from tests.zones import paris

ICONS = {"image", "pdf", "text", "document", "spreadsheet", "presentation", "archive", "audio", "video", "code", "file"}
_FACTOR = {"bytes": 1, "byte": 1, "kB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12, "PB": 10**15,
           "EB": 10**18, "ZB": 10**21, "YB": 10**24, "RB": 10**27, "QB": 10**30}


def shown_value(text: str) -> float:
    number, unit = text.split(" ")
    return float(number) * _FACTOR[unit]


@pytest.mark.parametrize("n, expected", [
    (0, "0 bytes"), (1, "1 byte"), (2, "2 bytes"), (999, "999 bytes"),
    (1000, "1.0 kB"), (1049, "1.0 kB"), (1050, "1.1 kB"), (99_949, "99.9 kB"), (99_950, "100 kB"),
    (999_499, "999 kB"), (999_500, "1.0 MB"), (999_999, "1.0 MB"),
    (2_400_000, "2.4 MB"), (2_449_999, "2.4 MB"), (2_450_000, "2.5 MB"), (25_000_000, "25.0 MB"),
    (26_214_400, "26.2 MB"), (120_000_000, "120 MB"), (1_500_000_000, "1.5 GB"), (10**12, "1.0 TB"),
    (10**33, "1000 QB"),
])
def test_human_size(n, expected):
    assert human_size(n) == expected


def test_human_size_refuses_negative():
    with pytest.raises(ValueError):
        human_size(-1)


@given(st.integers(min_value=0, max_value=10**36))
def test_human_size_never_raises_and_has_one_shape(n):
    text = human_size(n)
    assert re.fullmatch(r"\d+ bytes?|\d{1,2}\.\d [kMGTPEZYRQ]B|\d{3,} [kMGTPEZYRQ]B", text), text


@given(st.integers(min_value=0, max_value=10**30), st.integers(min_value=0, max_value=10**30))
def test_human_size_is_monotone(a, b):
    low, high = sorted((a, b))
    assert shown_value(human_size(low)) <= shown_value(human_size(high))


@given(st.integers(min_value=1000, max_value=10**29))
def test_human_size_is_off_by_at_most_half_its_last_digit(n):
    text = human_size(n)
    number, unit = text.split(" ")
    step = _FACTOR[unit] * (0.1 if "." in number else 1)
    assert abs(shown_value(text) - n) <= step / 2 * (1 + 1e-9)


@pytest.mark.parametrize("content_type, name, expected", [
    ("image/png", "", "PNG image"), ("IMAGE/JPEG; q=1", "", "JPEG image"), ("application/pdf", "", "PDF document"),
    ("text/plain; charset=utf-8", "", "Text file"), ("text/x-unknown", "", "Text file"),
    ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "", "Word document"),
    ("application/zip", "", "ZIP archive"), ("application/zip", "report.docx", "Word document"),
    ("application/zip", "budget.xlsx", "Excel spreadsheet"), ("application/octet-stream", "talk.pptx", "PowerPoint presentation"),
    ("", "clip.mp4", "MP4 video"), ("application/octet-stream", "", "File"), ("application/x-thing", "", "File"),
    ("image/x-new", "", "Image"), ("application/x-msdownload", "", "Windows program"),
    ("image/png", "photo.jpg", "PNG image"),  # the stored type is the truth
])
def test_type_label(content_type, name, expected):
    assert type_label(content_type, name) == expected


@pytest.mark.parametrize("content_type, name, expected", [
    ("image/png", "", "image"), ("image/svg+xml", "", "image"), ("application/pdf", "", "pdf"),
    ("text/plain", "", "text"), ("text/markdown", "", "text"), ("application/msword", "", "document"),
    ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "", "document"),
    ("application/vnd.oasis.opendocument.text", "", "document"),
    ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "", "spreadsheet"),
    ("text/csv", "", "spreadsheet"), ("application/vnd.ms-powerpoint", "", "presentation"),
    ("application/zip", "", "archive"), ("application/gzip", "", "archive"), ("application/zip", "a.pptx", "presentation"),
    ("audio/mpeg", "", "audio"), ("video/webm", "", "video"), ("text/html", "", "code"),
    ("application/json", "", "code"), ("text/x-python", "", "code"), ("application/octet-stream", "", "file"),
    ("", "", "file"), ("application/x-msdownload", "", "file"),
])
def test_icon_for(content_type, name, expected):
    assert icon_for(content_type, name) == expected


@given(st.text(max_size=40), st.text(max_size=20))
def test_labels_and_icons_never_raise(content_type, name):
    assert type_label(content_type, name)
    assert icon_for(content_type, name) in ICONS


@pytest.mark.parametrize("label, expected", [
    ("PNG image", "a PNG image"), ("HTML page", "an HTML page"), ("SVG image", "an SVG image"),
    ("MP4 video", "an MP4 video"), ("Excel spreadsheet", "an Excel spreadsheet"), ("Windows program", "a Windows program"),
    ("Text file", "a text file"), ("Icon", "an icon"), ("ZIP archive", "a ZIP archive"), ("XML document", "an XML document"),
    ("EPUB book", "an EPUB book"), ("HEIC image", "a HEIC image"),
])
def test_with_article(label, expected):
    assert with_article(label) == expected


@pytest.mark.parametrize("iso, expected", [
    ("2026-11-25T15:04:05Z", "15:04"), ("2026-11-25T00:00:00Z", "00:00"), ("2026-11-25T23:59:59Z", "23:59"),
    ("2026-11-25T17:04:05+02:00", "15:04"), ("2026-11-25T15:04:05", "15:04"), ("2026-11-25T15:04:05.123456Z", "15:04"),
    ("", ""), ("yesterday", ""),
])
def test_short_time(iso, expected):
    assert short_time(iso) == expected


@given(st.text(max_size=40))
def test_short_time_never_raises(text):
    assert isinstance(short_time(text), str)


def test_times_follow_the_readers_clock_and_name_earlier_days():
    now = "2026-11-25T18:00:00Z"
    assert short_time("2026-11-25T15:04:05Z", 60, now) == "16:04"
    assert short_time("2026-11-25T15:04:05Z", -300, now) == "10:04"
    assert short_time("2026-11-24T15:04:05Z", 0, now) == "24 Nov 15:04"
    assert short_time("2026-11-24T23:30:00Z", 60, now) == "00:30"  # already today in UTC+1
    assert short_time("2025-12-31T09:00:00Z", 0, now) == "31 Dec 2025 09:00"
    assert short_time("not a time", 0, now) == ""


def test_each_time_is_shown_in_the_offset_of_its_own_day():
    """Read in November (UTC+1), a July message was sent at 14:00 on a Paris clock (UTC+2), not 13:00."""
    now = "2026-11-25T18:00:00Z"
    assert short_time("2026-07-01T12:00:00Z", paris, now) == "1 Jul 14:00"
    assert short_time("2026-07-01T12:00:00Z", paris(datetime(2026, 11, 25, tzinfo=timezone.utc)), now) == "1 Jul 13:00"
    assert short_time("2026-11-25T12:00:00Z", paris, now) == "13:00"
    # the night the clocks went forward: 01:59 UTC+1, then 03:00 UTC+2, one minute apart
    assert short_time("2026-03-29T00:59:00Z", paris, now) == "29 Mar 01:59"
    assert short_time("2026-03-29T01:00:00Z", paris, now) == "29 Mar 03:00"
    # and back: 02:30 happens twice
    assert short_time("2026-10-25T00:30:00Z", paris, now) == "25 Oct 02:30"
    assert short_time("2026-10-25T01:30:00Z", paris, now) == "25 Oct 02:30"


def test_today_is_the_readers_today_in_the_offset_of_now():
    seen = []

    def offset(moment: datetime) -> int:
        seen.append(moment)
        return paris(moment)
    assert short_time("2026-03-28T23:30:00Z", offset, "2026-03-29T09:00:00Z") == "00:30"   # Sunday in Paris
    assert all(m.tzinfo is timezone.utc for m in seen)          # asked with UTC instants, as JS Date takes them


@given(st.datetimes(timezones=st.just(timezone.utc)), st.integers(-2000, 2000))
def test_short_time_never_raises_for_any_instant_or_offset(moment, minutes):
    iso = moment.isoformat()
    assert isinstance(short_time(iso, lambda _: minutes, "2026-01-01T00:00:00Z"), str)
