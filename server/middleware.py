"""ASGI middleware and logging that apply to every request.

- `SecurityHeaders`: nosniff and `Referrer-Policy: no-referrer` everywhere (a
  signed media link must never leave in a Referer), no caching of API answers,
  on the page's own responses `frame-ancestors` (plus `X-Frame-Options` when
  only the same origin may frame it), from `[server] embed_origins`, and in
  production over HTTPS `Strict-Transport-Security` (docs/security.md).
- `QueryGuard`: a parameter given twice (`?after=1&after=2`) or in array
  form (`after[]=1`) is refused with 400 before any endpoint runs; endpoints
  then read one value per name and never have to guess which one counts.
- `RedactingFilter`: the access log keeps the path but never a token, ticket
  or media signature from the query string, however the parameter's name is
  percent-encoded (the server decodes `%73ig=` to `sig=`, so the log must too).
"""

from __future__ import annotations

import logging
import re
from urllib.parse import parse_qsl, unquote_plus

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.common import error_response

SECRET_PARAMS = frozenset({"access_token", "ticket", "sig", "token"})
_QUERY_SEPARATOR = re.compile(r"([&;])")
HSTS = b"max-age=31536000"          # a year; includeSubDomains and preload commit other hosts: the proxy's call
REFERRER_POLICY = b"no-referrer"


def _secret_name(raw: str) -> bool:
    """Whether a raw query parameter name is, once decoded as the server decodes it, a secret's.

    Decoded until it stops changing (at most 4 times), in any case and without
    surrounding blanks: redacting a value the server ignores costs nothing.
    """
    name = raw
    for _ in range(4):
        decoded = unquote_plus(name)
        if decoded == name:
            break
        name = decoded
    return name.strip().lower() in SECRET_PARAMS


def redact(path: str) -> str:
    """`path?query` with the value of every secret parameter replaced by `[redacted]`."""
    base, mark, query = path.partition("?")
    if not mark:
        return path
    parts = _QUERY_SEPARATOR.split(query)      # separators kept at odd positions
    for i in range(0, len(parts), 2):
        name, eq, _ = parts[i].partition("=")
        if eq and _secret_name(name):
            parts[i] = f"{name}=[redacted]"
    return base + mark + "".join(parts)


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


def hsts_mode(production: bool, public_origin: str) -> str:
    """When SecurityHeaders sends Strict-Transport-Security: only in production, and there
    whenever the configured public origin is https, else for requests that came over HTTPS."""
    if not production:
        return "never"
    return "always" if public_origin.startswith("https://") else "https"


class SecurityHeaders:
    """nosniff and no Referer on everything; API answers are never cached; the page says who may frame it.

    `hsts`: "never" (development), "https" (production: when the request came
    over HTTPS as uvicorn sees it, i.e. TLS or `X-Forwarded-Proto: https` from a
    trusted proxy) or "always" (production with an https `public_origin`).
    """

    def __init__(self, app: ASGIApp, embed_origins: tuple[str, ...] = (), hsts: str = "never") -> None:
        self.app = app
        self.frame_ancestors, self.frame_options = _frame_policy(embed_origins)
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope["path"]
        api = path.startswith("/api/")
        page = not api and not path.startswith("/media/")
        hsts = self.hsts == "always" or (self.hsts == "https" and scope.get("scheme") == "https")

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                if b"x-content-type-options" not in names:
                    headers.append((b"x-content-type-options", b"nosniff"))
                if b"referrer-policy" not in names:
                    headers.append((b"referrer-policy", REFERRER_POLICY))
                if hsts:
                    headers.append((b"strict-transport-security", HSTS))
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
