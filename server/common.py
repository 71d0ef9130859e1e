"""Shared HTTP plumbing: JSON errors, strict input parsing, JSON bodies.

Why one place: every endpoint answers errors in the same
`{"error": {"code", "message", "hint"}}` shape the browser adapter parses,
and every number, content type and JSON body is read by the same strict
functions, so malformed input is a 400/422 and never reaches a 500.
"""

from __future__ import annotations

import json
import re
from collections import deque
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.routing import Match
from starlette.responses import JSONResponse

from app.core.models import Problem

# Problem codes from core.restrictions.check -> HTTP status.
PROBLEM_STATUS = {"too_large": 413, "type_not_accepted": 415, "type_mismatch": 415, "empty": 422}
_GENERIC_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                  405: "method_not_allowed", 409: "conflict", 413: "too_large", 415: "unsupported_media_type",
                  422: "invalid", 500: "internal_error"}
CONVERSATION_ID_PATTERN = "^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"       # as the OpenAPI document says it
CONVERSATION_ID = re.compile(CONVERSATION_ID_PATTERN[:-1] + r"\Z")       # Python's $ also matches before a "\n"
MAX_UINT = 2**63 - 1          # SQLite's INTEGER range; 19 digits at most
JSON_BODY_LIMIT = 1_000_000
JSON_MAX_DEPTH = 32
_TCHAR = r"[!#$%&'*+.^_`|~0-9A-Za-z-]"
# What counts as blank in a message: Unicode and ASCII whitespace, listed character by character so
# that Python and the OpenAPI document's regex engines (ECMA, Rust) read the same class.
BLANK_CHARS = "\t\n\v\f\r \x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
VISIBLE_PATTERN = f"[^{BLANK_CHARS}]"
VISIBLE = re.compile(VISIBLE_PATTERN)
# A lone UTF-16 surrogate: JSON's "\\ud800" decodes to one, and no UTF-8 encoder takes it.
SURROGATE = re.compile("[\ud800-\udfff]")
MIME_TYPE = re.compile(rf"{_TCHAR}+/{_TCHAR}+(?:[ \t]*;[ \t]*{_TCHAR}+="
                   rf"(?:{_TCHAR}+|\"(?:[\t !#-\[\]-~]|\\[\t !-~])*\"))*")


class ApiError(Exception):
    """Raised by endpoints; rendered by `error_handler` as JSON."""

    def __init__(self, status: int, code: str, message: str, hint: str = "",
                 headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.hint, self.extra = status, code, message, hint, extra
        self.headers = headers or {}

    @classmethod
    def from_problem(cls, problem: Problem, **extra: Any) -> "ApiError":
        return cls(PROBLEM_STATUS.get(problem.code, 422), problem.code, problem.message, problem.hint, **extra)


def error_response(status: int, code: str, message: str, hint: str = "", headers: dict[str, str] | None = None,
                   **extra: Any) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "hint": hint, **extra}}
    return JSONResponse(body, status_code=status, headers={"Cache-Control": "no-store", **(headers or {})})


async def api_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    headers = dict(exc.headers)
    if exc.status == 401:
        headers.setdefault("WWW-Authenticate", "Bearer")
    return error_response(exc.status, exc.code, exc.message, exc.hint, headers, **exc.extra)


async def http_exception_handler(request: Request, exc: Exception) -> JSONResponse:
    """Starlette's own 404/405/413 in our JSON shape."""
    assert isinstance(exc, HTTPException)
    code = _GENERIC_CODES.get(exc.status_code, "error")
    message = f"{request.method} {request.url.path}: {exc.detail}"
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(allowed_methods(request))
    return error_response(exc.status_code, code, message, headers=headers)


def allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path.

    Starlette's 405 names only the methods of the first route whose path
    matched, but GET and POST of one path (or the tus HEAD/PATCH/DELETE/OPTIONS)
    are separate routes here, and `Allow` must list them all.
    """
    methods: list[str] = []
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        if match != Match.NONE:
            methods += [m for m in getattr(route, "methods", None) or () if m not in methods]
    return methods


async def server_error_handler(request: Request, exc: Exception) -> JSONResponse:
    return error_response(500, "internal_error", "The server failed to handle this request.",
                          "Try again; if it keeps failing, check the server log.")


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


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    data = dict(pairs)
    if len(data) != len(pairs):
        raise ValueError("duplicate key")
    return data


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _depth(value: Any) -> int:
    """Nesting depth, without recursion (a deep document must not exhaust the stack)."""
    deepest, todo = 0, [(value, 1)]
    while todo:
        item, depth = todo.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth)
            todo.extend((v, depth + 1) for v in (item.values() if isinstance(item, dict) else item))
    return deepest


def surrogate_field(value: Any) -> str | None:
    """Where decoded JSON holds a lone UTF-16 surrogate (a string or a key), in document order, or None.

    The path reads like `text`, `attachments[0]` or `a.b`; a bad key is shown
    escaped. Breadth first and without recursion (depth is checked apart).
    """
    todo: deque[tuple[Any, str]] = deque([(value, "")])
    while todo:
        item, path = todo.popleft()
        if isinstance(item, str):
            if SURROGATE.search(item):
                return path or "(the body)"
        elif isinstance(item, dict):
            for key, child in item.items():
                name = f"{path}.{key}" if path else key
                if SURROGATE.search(key):
                    return name.encode("utf-8", "backslashreplace").decode("ascii", "replace")
                todo.append((child, name))
        elif isinstance(item, list):
            todo.extend((child, f"{path}[{i}]") for i, child in enumerate(item))
    return None


def scrub_surrogates(value: Any) -> Any:
    """Decoded JSON with every lone surrogate replaced by U+FFFD: for what another service
    (Twilio) sends, where refusing would lose a customer's message."""
    if isinstance(value, str):
        return SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {scrub_surrogates(k): scrub_surrogates(v) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub_surrogates(v) for v in value]
    return value


def _refuse_surrogates(data: Any) -> None:
    """422 naming the field: a lone surrogate would fail in SQLite, a header, a file name or the answer."""
    field = surrogate_field(data)
    if field is not None:
        shown = field if len(field) <= 80 else field[:80] + "..."
        raise ApiError(422, "invalid_unicode", f"'{shown}' holds a lone UTF-16 surrogate (an unpaired "
                       "\\ud800-\\udfff escape), which is not text.",
                       "Send text as UTF-8; a character beyond U+FFFF is a surrogate pair such as "
                       "\\ud83d\\ude00, never half of one.", field=shown)


def parse_json(raw: bytes) -> Any:
    """JSON from bytes: 400 for anything unparseable, too deeply nested, with NaN or a repeated key;
    422 for a lone UTF-16 surrogate anywhere in it (naming where)."""
    try:
        data = json.loads(raw, object_pairs_hook=_no_duplicates, parse_constant=_refuse_constant)
    except RecursionError:
        data = None
        too_deep = True
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "bad_json", "The request body is not valid JSON.",
                       "Send one JSON object, UTF-8, without repeated keys.") from None
    else:
        too_deep = _depth(data) > JSON_MAX_DEPTH
    if too_deep:
        raise ApiError(400, "bad_json", f"The request body nests deeper than {JSON_MAX_DEPTH} levels.")
    _refuse_surrogates(data)
    return data


async def capped_body(request: Request, limit: int) -> bytes | None:
    """The whole body, or None once it is over `limit` bytes (declared or sent): never read past it."""
    length = request.headers.get("content-length", "")
    if length.isascii() and length.isdigit() and len(length) <= 19 and int(length) > limit:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def json_body(request: Request) -> dict[str, Any]:
    """Parse a JSON object body (at most JSON_BODY_LIMIT bytes) or raise 400/413/422."""
    raw = await capped_body(request, JSON_BODY_LIMIT)
    if raw is None:
        raise ApiError(413, "body_too_large", f"The request body is over {JSON_BODY_LIMIT:,} bytes.")
    data = parse_json(raw)
    if not isinstance(data, dict):
        raise ApiError(422, "invalid", "The request body must be a JSON object.")
    return data
