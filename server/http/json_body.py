"""JSON request bodies, read strictly: capped in size and depth, no repeated keys, no lone surrogates.

Why strict: a malformed body is a 400/413/422 that names the problem, never
a 500 from deep inside a handler.
"""

from __future__ import annotations

import json
import re
from collections import deque
from typing import Any

from starlette.requests import Request

from server.http.api_error import ApiError

JSON_BODY_LIMIT = 1_000_000
JSON_MAX_DEPTH = 32
# A lone UTF-16 surrogate: JSON's "\\ud800" decodes to one, and no UTF-8 encoder takes it.
SURROGATE = re.compile("[\ud800-\udfff]")


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
