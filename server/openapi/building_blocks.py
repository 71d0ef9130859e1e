"""The pieces the OpenAPI paths are made of: error answers, JSON answers, headers, HEAD twins, files.

Why shared: every status a handler or middleware can answer is described
once (`errors`), with the headers it carries (Retry-After, Tus-Resumable,
WWW-Authenticate), so each area's paths list statuses, not prose.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from server.config.config_file import Config
from server.http.inputs import MAX_UINT
from server.uploads import tus_protocol as tus

JSON = "application/json"
_ERRORS = {400: "Malformed request: a repeated or array query parameter, a header or body that does not parse",
           401: "Missing, invalid or expired token (`WWW-Authenticate: Bearer`)", 403: "Bad or expired link",
           404: "Not found, or not a conversation of this token (the same answer)",
           409: "Conflict with the current state", 410: "Expired and deleted",
           412: "A tus version other than 1.0.0 (carries `Tus-Version`)", 413: "Too large",
           415: "Type not accepted, or the content does not match the name or declared type",
           422: "Invalid request", 423: "Another request (perhaps on another server process) is writing this upload",
           429: "Too many: see `Retry-After` and the problem's message",
           503: "Server stopping (carries `offset`), or the file storage or the database unreachable "
                "(`storage_unavailable`, `database_unavailable`): retry after `Retry-After`; the bytes stored so far "
                "are kept"}
INT = {"type": "integer", "minimum": 0, "maximum": MAX_UINT}
_RETRY_AFTER = {"Retry-After": {"required": True, "description": "Seconds to wait", "schema": {"type": "integer"}}}
TUS = {"Tus-Resumable": {"required": True, "schema": {"type": "string", "const": tus.TUS_VERSION}}}
_FILE_STATUSES = {206: "Part of the file (HTTP range request)", 304: "Not modified (If-None-Match)",
                  416: "Range not satisfiable"}


def digits(maximum: int = MAX_UINT, minimum: int = 0) -> dict[str, Any]:
    """A number in a header as `server.http.inputs.parse_uint` reads it: ASCII digits (leading zeros too), at most 19
    of them, from `minimum` (0 or 1) to `maximum`. A string schema, because a header is text on the wire."""
    s = str(maximum)
    upto = [f"[1-9][0-9]{{0,{len(s) - 2}}}"] if len(s) > 1 else []
    for i, d in enumerate(map(int, s)):
        low = 1 if i == 0 else 0
        if d > low:
            rest = len(s) - i - 1
            upto.append(f"{s[:i]}[{low}-{d - 1}]" + (f"[0-9]{{{rest}}}" if rest else ""))
    upto.append(s)
    pattern = f"0*(?:{'|'.join(upto)})" + ("" if minimum else "|0+")
    return {"type": "string", "pattern": f"^(?:{pattern})$", "maxLength": 19}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def json_answer(schema: dict[str, Any], description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}},
            **({"headers": headers} if headers else {})}


def errors(*statuses: int, tus_headers: bool = False, **descriptions: str) -> dict[str, Any]:
    """Error answers: the JSON problem body, with the headers each status carries."""
    out = {}
    for status in statuses:
        headers = dict(TUS) if tus_headers else {}
        if status == 401:
            headers["WWW-Authenticate"] = {"required": True, "schema": {"type": "string"}}
        if status == 412:
            headers["Tus-Version"] = {"required": True, "schema": {"type": "string", "const": tus.TUS_VERSION}}
        if status in (423, 429, 503):
            headers.update(_RETRY_AFTER)
        out[str(status)] = json_answer(ref("Error"), descriptions.get(f"e{status}", _ERRORS[status]), headers)
    return out


def header(name: str, schema: dict[str, Any], required: bool = True, description: str = "") -> dict[str, Any]:
    return {"name": name, "in": "header", "required": required, "schema": schema,
            **({"description": description} if description else {})}


def with_head(path_item: dict[str, Any], not_for_head: tuple[str, ...] = ()) -> dict[str, Any]:
    """Starlette answers HEAD wherever it answers GET: the same operation, without bodies."""
    head = copy.deepcopy(path_item["get"])
    head["operationId"] += "Head"
    head["summary"] = "Headers only of: " + head["summary"]
    head["responses"] = {status: {k: v for k, v in answer.items() if k != "content"}
                         for status, answer in head["responses"].items() if status not in not_for_head}
    return {**path_item, "head": head}


def file_operation(operation_id: str, summary: str, media: str, params: Sequence[dict[str, Any]] = (),
          more: dict[str, Any] | None = None) -> dict[str, Any]:
    """A page file or media file: FileResponse answers conditional and range requests too."""
    answers = {"200": {"description": "The file", "content": {media: {"schema": {"type": "string",
                                                                                 "format": "binary"}}}},
               **{str(s): {"description": d} for s, d in _FILE_STATUSES.items()}, **(more or {})}
    malformed_range = {"text/plain": {"schema": {"type": "string"}}}
    answers["400"] = {"description": "Malformed Range header (plain text)", **answers.get("400", {})}
    answers["400"]["content"] = {**answers["400"].get("content", {}), **malformed_range}
    return with_head({"get": {"operationId": operation_id, "summary": summary, "security": [],
                              "parameters": list(params), "responses": answers}})


def database_unavailable(config: Config) -> tuple[tuple[int, ...], str]:
    """(503 when [database] names a PostgreSQL that may be unreachable for a moment, else nothing; its description)."""
    return ((503,) if config.database_url is not None else (),
            "The database is unreachable (`database_unavailable`): retry after `Retry-After` seconds")
