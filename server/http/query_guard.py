"""A query parameter given twice (`?after=1&after=2`) or in array form (`after[]=1`) is a 400.

Why before any endpoint runs: endpoints then read one value per name and
never have to guess which one counts.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from server.http.api_error import error_response


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
