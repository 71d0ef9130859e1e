"""Strict request inputs: conversation ids, numbers, content types, visible text, file names.

Why one place: every number, id and content type is read by the same strict
functions (and the OpenAPI document states the same patterns), so malformed
input is a 400/422 and never reaches a 500.
"""

from __future__ import annotations

import re
import unicodedata

from server.http.api_error import ApiError

CONVERSATION_ID_PATTERN = "^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"       # as the OpenAPI document says it
CONVERSATION_ID = re.compile(CONVERSATION_ID_PATTERN[:-1] + r"\Z")       # Python's $ also matches before a "\n"
MAX_UINT = 2**63 - 1          # SQLite's INTEGER range; 19 digits at most
_TCHAR = r"[!#$%&'*+.^_`|~0-9A-Za-z-]"
# What counts as blank in a message: Unicode and ASCII whitespace, listed character by character so
# that Python and the OpenAPI document's regex engines (ECMA, Rust) read the same class.
BLANK_CHARS = "\t\n\v\f\r \x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
VISIBLE_PATTERN = f"[^{BLANK_CHARS}]"
VISIBLE = re.compile(VISIBLE_PATTERN)
MIME_TYPE = re.compile(rf"{_TCHAR}+/{_TCHAR}+(?:[ \t]*;[ \t]*{_TCHAR}+="
                   rf"(?:{_TCHAR}+|\"(?:[\t !#-\[\]-~]|\\[\t !-~])*\"))*")


# -- strict input --------------------------------------------------------------


def parse_uint(value: str, what: str, status: int = 400, code: str = "invalid_number") -> int:
    """A header or query number: ASCII digits only, at most 19 of them, <= 2**63-1.

    `str.isdigit` alone accepts "²" and "١", and int() of 5,000 digits is slow
    and overflows SQLite, so both are refused here.
    """
    if not (value and len(value) <= 19 and value.isascii() and value.isdigit()) or int(value) > MAX_UINT:
        shown = value if len(value) <= 40 else value[:40] + "..."
        raise ApiError(status, code, f"{what} must be a whole number from 0 to {MAX_UINT} in ASCII digits, "
                                     f"not {shown!r}.")
    return int(value)


def parse_after(value: str | None) -> int | None:
    """`?after=` / `Last-Event-ID`: absent, or a non-negative integer seq; anything else (even empty) is 422."""
    if value is None:
        return None
    return parse_uint(value, "'after' (a message seq)", 422, "invalid_after")


def check_content_type(value: object, field: str = "content_type") -> str:
    """A declared MIME type: "" (unknown) or `type/subtype[; param=value]` per RFC 9110, <= 255 chars.

    Anything else (null, CR/LF, spaces, non-ASCII) is 422: a stored type ends
    up in a Content-Type header, where a line break would split the response.
    """
    if not isinstance(value, str) or len(value) > 255 or (value and not MIME_TYPE.fullmatch(value)):
        raise ApiError(422, "invalid_content_type", f"'{field}' must be a MIME type such as 'image/png' "
                       "(or empty when unknown).", "Send the browser's File.type as it is.")
    return value


def clean_name(name: object) -> str:
    """A display/download name: no directories, no control characters, <= 255 chars."""
    if not isinstance(name, str):
        raise ApiError(422, "invalid_name", "The file name must be a string.")
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C").strip()
    if name in ("", ".", ".."):
        raise ApiError(422, "invalid_name", "The file needs a name.",
                       "Send it as 'filename' in Upload-Metadata (tus clients do when given one).")
    if len(name) > 255:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: 254 - len(ext)] + "." + ext) if dot and len(ext) < 16 else name[:255]
    return name
