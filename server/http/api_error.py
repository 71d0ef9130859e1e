"""API errors: one JSON shape for every refusal, `{"error": {"code", "message", "hint"}}`.

Why one place: the browser adapter parses this shape for every endpoint, and
Starlette's own 404/405/413 and unexpected 500s are answered in it too. The body
is `app.core.schemas.Error`, encoded by `app.core.wire.encode`: a member the
schema does not name is a TypeError here, not an undocumented field on the wire.
"""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Match

from app.core.models import Problem
from app.core.schemas import Error, ErrorDetail
from app.core.wire import encode

# Problem codes from core.restrictions.check -> HTTP status.
PROBLEM_STATUS = {"too_large": 413, "type_not_accepted": 415, "type_mismatch": 415, "empty": 422}
_GENERIC_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                  405: "method_not_allowed", 409: "conflict", 413: "too_large", 415: "unsupported_media_type",
                  422: "invalid", 500: "internal_error"}


class ApiError(Exception):
    """Raised by endpoints; rendered by `error_handler` as JSON."""

    def __init__(self, status: int, code: str, message: str, hint: str = "",
                 headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.hint, self.extra = status, code, message, hint, extra
        self.headers = headers or {}

    @classmethod
    def from_problem(cls, problem: Problem, **extra: Any) -> ApiError:
        return cls(PROBLEM_STATUS.get(problem.code, 422), problem.code, problem.message, problem.hint, **extra)


def error_response(status: int, code: str, message: str, hint: str = "", headers: dict[str, str] | None = None,
                   **extra: Any) -> JSONResponse:
    body = encode(Error(ErrorDetail(code, message, hint, **extra)))
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
