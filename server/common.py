"""Shared HTTP plumbing: JSON errors, authentication, JSON bodies.

Why one place: every endpoint answers errors in the same
`{"error": {"code", "message", "hint"}}` shape the browser adapter parses.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse

from app.core.models import Problem

# Problem codes from core.restrictions.check -> HTTP status.
PROBLEM_STATUS = {"too_large": 413, "type_not_accepted": 415, "type_mismatch": 415, "empty": 422}
_GENERIC_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                  405: "method_not_allowed", 409: "conflict", 413: "too_large", 415: "unsupported_media_type",
                  422: "invalid", 500: "internal_error"}


class ApiError(Exception):
    """Raised by endpoints; rendered by `error_handler` as JSON."""

    def __init__(self, status: int, code: str, message: str, hint: str = "", **extra: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.hint, self.extra = status, code, message, hint, extra

    @classmethod
    def from_problem(cls, problem: Problem, **extra: Any) -> "ApiError":
        return cls(PROBLEM_STATUS.get(problem.code, 422), problem.code, problem.message, problem.hint, **extra)


def error_response(status: int, code: str, message: str, hint: str = "", headers: dict[str, str] | None = None,
                   **extra: Any) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "hint": hint, **extra}}
    return JSONResponse(body, status_code=status, headers=headers)


async def api_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return error_response(exc.status, exc.code, exc.message, exc.hint, headers, **exc.extra)


async def http_exception_handler(request: Request, exc: Exception) -> JSONResponse:
    """Starlette's own 404/405/413 in our JSON shape."""
    assert isinstance(exc, HTTPException)
    code = _GENERIC_CODES.get(exc.status_code, "error")
    message = f"{request.method} {request.url.path}: {exc.detail}"
    return error_response(exc.status_code, code, message, headers=dict(exc.headers or {}))


async def server_error_handler(request: Request, exc: Exception) -> JSONResponse:
    return error_response(500, "internal_error", "The server failed to handle this request.",
                          "Try again; if it keeps failing, check the server log.")


def authenticate(request: Request, allow_query: bool = False) -> str:
    """Return the identity name for the request's bearer token, or raise 401.

    `?access_token=` is only honoured where `allow_query` (EventSource cannot
    send headers); elsewhere tokens in URLs would leak into logs and history.
    """
    config = request.app.state.config
    token = ""
    auth = request.headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        token = value.strip()
    elif allow_query:
        token = request.query_params.get("access_token", "")
    identity = config.identity_for(token) if token else None
    if identity is None:
        raise ApiError(401, "unauthorized", "Missing or unknown access token.",
                       "Send 'Authorization: Bearer <token>' with a token from the server's [identities].")
    return identity


JSON_BODY_LIMIT = 1_000_000


async def json_body(request: Request) -> dict[str, Any]:
    """Parse a JSON object body (at most JSON_BODY_LIMIT bytes) or raise 400/413/422."""
    too_large = ApiError(413, "body_too_large", f"The request body is over {JSON_BODY_LIMIT:,} bytes.")
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > JSON_BODY_LIMIT:
        raise too_large
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > JSON_BODY_LIMIT:
            raise too_large
        chunks.append(chunk)
    raw = b"".join(chunks)
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "bad_json", "The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise ApiError(422, "invalid", "The request body must be a JSON object.")
    return data


def parse_after(value: str | None) -> int | None:
    """`?after=` / `Last-Event-ID`: a non-negative integer seq, else 422."""
    if value is None or value == "":
        return None
    if not value.isdigit():
        raise ApiError(422, "invalid_after", f"'after' must be a message seq (a non-negative integer), not {value!r}.")
    return int(value)
