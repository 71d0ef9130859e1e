"""Security headers on every response, as ASGI middleware.

nosniff and `Referrer-Policy: no-referrer` everywhere (a signed media link
must never leave in a Referer), no caching of API answers, on the page's own
responses `frame-ancestors` (plus `X-Frame-Options` when only the same origin
may frame it), from `[server] embed_origins`, and in production over HTTPS
`Strict-Transport-Security` (docs/security.md).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HSTS = b"max-age=31536000"          # a year; includeSubDomains and preload commit other hosts: the proxy's call
REFERRER_POLICY = b"no-referrer"


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


