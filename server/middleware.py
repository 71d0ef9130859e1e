"""ASGI middleware and logging that apply to every request.

- `SecurityHeaders`: nosniff everywhere, no caching of API answers, and on
  the page's own responses `frame-ancestors` (plus `X-Frame-Options` when only
  the same origin may frame it), from `[server] embed_origins`.
- `QueryGuard`: a parameter given twice (`?after=1&after=2`) or in array
  form (`after[]=1`) is refused with 400 before any endpoint runs; endpoints
  then read one value per name and never have to guess which one counts.
- `RedactingFilter`: the access log keeps the path but never a token, ticket
  or media signature from the query string.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.common import error_response

_SECRET_PARAMS = re.compile(r"([?&](?:access_token|ticket|sig|token)=)[^&#\s]*", re.IGNORECASE)


def redact(path: str) -> str:
    return _SECRET_PARAMS.sub(r"\1[redacted]", path)


class RedactingFilter(logging.Filter):
    """For uvicorn's access logger, whose record args are (client, method, path, http version, status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redact(args[2]), *args[3:])
        return True


def install_log_redaction() -> None:
    logging.getLogger("uvicorn.access").addFilter(RedactingFilter())


def _frame_policy(embed_origins: tuple[str, ...]) -> tuple[bytes, bytes | None]:
    """(CSP directive, X-Frame-Options or None). XFO cannot name other origins, so with
    embed origins only the CSP speaks (browsers that know frame-ancestors ignore XFO)."""
    ancestors = " ".join(("'self'", *embed_origins))
    return f"frame-ancestors {ancestors}".encode(), (None if embed_origins else b"SAMEORIGIN")


class SecurityHeaders:
    """nosniff on everything; API answers are never cached; the page says who may frame it."""

    def __init__(self, app: ASGIApp, embed_origins: tuple[str, ...] = ()) -> None:
        self.app = app
        self.frame_ancestors, self.frame_options = _frame_policy(embed_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope["path"]
        api = path.startswith("/api/")
        page = not api and not path.startswith("/media/")

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                if b"x-content-type-options" not in names:
                    headers.append((b"x-content-type-options", b"nosniff"))
                if api and b"cache-control" not in names:
                    headers.append((b"cache-control", b"no-store"))
                if page and b"content-security-policy" in names:
                    headers = [(k, v + b"; " + self.frame_ancestors if k.lower() == b"content-security-policy"
                                else v) for k, v in headers]
                    if self.frame_options is not None:
                        headers.append((b"x-frame-options", self.frame_options))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_wrapper)


class QueryGuard:
    """400 for repeated or array-style query parameters on the API and media routes."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and scope.get("query_string") and path.startswith(("/api/", "/media/")):
            names = [name for name, _ in parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)]
            problem = None
            if any("[" in name or "]" in name for name in names):
                problem = ("array_parameter", "Query parameters take one plain value; 'name[]=' forms are refused.")
            elif len(set(names)) != len(names):
                twice = next(n for n in names if names.count(n) > 1)
                problem = ("repeated_parameter", f"The query parameter {twice!r} is given more than once.")
            if problem is not None:
                response = error_response(400, problem[0], problem[1], "Send each parameter once.")
                return await response(scope, receive, send)
        await self.app(scope, receive, send)
