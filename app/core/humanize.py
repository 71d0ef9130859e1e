"""Words for people: sizes, type names, icons, times.

Sizes are SI (1 kB = 1000 bytes), like the limits people write in config
("25 MB"). Integer arithmetic keeps the text identical on every platform.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache

from app.core import filetypes

_UNITS = ("kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB", "RB", "QB")

# Letters said with a leading vowel sound: "an HTML page", "an SVG image", "an MP4 video".
_VOWEL_SOUND_LETTERS = "AEFHILMNORSX"
_WORDS_NOT_SPELLED = {"PNG", "GIF", "JPEG", "ZIP", "WAV", "TIFF", "JSON", "RAR", "FLAC", "AVIF", "HEIC",
                      "MIDI", "YAML", "TOML", "EPUB", "WebP", "WebM"}
# Capitalised only because a label starts with them: lower-cased inside a sentence.
_COMMON_WORDS = {"Text", "File", "Image", "Icon", "Video", "Audio", "Font", "Disk", "Rich", "Shell",
                 "Calendar", "Contact", "Web"}


def human_size(n: int) -> str:
    """'0 bytes', '1 byte', '999 bytes', '1.0 kB', '2.4 MB', '120 MB' (SI, half up).

    One decimal below 100; the unit is chosen after rounding, so 999,999 bytes
    reads '1.0 MB', never '1000 kB'.
    """
    if n < 0:
        raise ValueError(f"a size cannot be negative ({n})")
    if n < 1000:
        return "1 byte" if n == 1 else f"{n} bytes"
    unit = 1
    for i, name in enumerate(_UNITS):
        unit *= 1000
        last = i == len(_UNITS) - 1
        tenths = (20 * n + unit) // (2 * unit)
        if tenths < 1000:
            return f"{tenths // 10}.{tenths % 10} {name}"
        whole = (2 * n + unit) // (2 * unit)
        if whole < 1000 or last:
            return f"{whole} {name}"
    raise AssertionError("unreachable")


def type_label(content_type: str, name: str = "") -> str:
    """'PNG image', 'PDF document', 'Word document', 'File' (for what we do not know)."""
    ct = _best_type(content_type, name)
    row, major = filetypes.lookup(ct), filetypes.group(ct)
    return row.label if row is not None else major.label if major is not None else "File"


def icon_for(content_type: str, name: str = "") -> str:
    """The icon name for a type: image, pdf, text, document, spreadsheet, presentation,
    archive, audio, video, code or file."""
    ct = _best_type(content_type, name)
    row, major = filetypes.lookup(ct), filetypes.group(ct)
    if row is not None and row.icon:
        return row.icon
    if major is not None:
        return major.icon
    return {"text": "text", "zip": "archive", "archive": "archive"}.get(filetypes.family(ct) or "", "file")


def with_article(label: str) -> str:
    """'a PNG image', 'an HTML page', 'an Excel spreadsheet', 'a text file': for use in a sentence."""
    word, _, rest = label.partition(" ")
    if word in _COMMON_WORDS:
        label = word.lower() + (" " + rest if rest else "")
    if word.isupper() or word in _WORDS_NOT_SPELLED:
        vowel = word[0] in "AEIOU" if word in _WORDS_NOT_SPELLED else word[0] in _VOWEL_SOUND_LETTERS
    else:
        vowel = word[:1].lower() in ("a", "e", "i", "o", "u")
    return f"{'an' if vowel else 'a'} {label}"


MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


#: The reader's offset to UTC, in minutes east, at a given instant (a UTC datetime). The browser's
#: shell passes one that asks JS Date, which knows the reader's zone and its daylight-saving rules.
OffsetFor = Callable[[datetime], int]


def short_time(iso: str, utc_offset_minutes: int | OffsetFor = 0, now: str = "") -> str:
    """When a message was sent, as the reader's clock showed it then.

    '15:04' for today, '24 Nov 15:04' for an earlier day, '24 Nov 2025 15:04'
    for an earlier year; '' when the text is not a timestamp. `now` (ISO) says
    what "today" is; without it every time is shown as today's. The offset is
    the reader's difference to UTC in minutes: a number (one for every time),
    or a function giving it for each instant, so a July message read in
    November is shown in summer time, as the clock on the wall said it.
    """
    moment = _local(iso, utc_offset_minutes)
    if moment is None:
        return ""
    clock = f"{moment.hour:02d}:{moment.minute:02d}"
    today = _today(now, utc_offset_minutes) if now else None
    if today is None or moment.date() == today.date():
        return clock
    day = f"{moment.day} {MONTHS[moment.month - 1]}"
    if moment.year != today.year:
        day += f" {moment.year}"
    return f"{day} {clock}"


@lru_cache(maxsize=8)
def _today(now: str, utc_offset_minutes: int | OffsetFor) -> datetime | None:
    """`now` parsed once per render, not once per message."""
    return _local(now, utc_offset_minutes)


def _local(iso: str, utc_offset_minutes: int | OffsetFor) -> datetime | None:
    try:
        moment = datetime.fromisoformat(iso.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except (ValueError, AttributeError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        moment = moment.astimezone(UTC)
        minutes = utc_offset_minutes(moment) if callable(utc_offset_minutes) else utc_offset_minutes
        return moment.astimezone(timezone(timedelta(minutes=minutes)))
    except (ValueError, TypeError, OverflowError):    # year 1 or 9999 at the edge, an offset over 24 h
        return None


def _best_type(content_type: str, name: str) -> str:
    """The stored type, unless it is generic and the name says more (.docx for a ZIP)."""
    ct = filetypes.normalize(content_type)
    named = filetypes.type_for_extension(name) if name else None
    if named and (ct in ("", filetypes.OCTET_STREAM) or filetypes.refines(named, ct)):
        return named
    return ct
