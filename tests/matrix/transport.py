"""A tiny transport that performs the adapter's Request values with httpx (what the page's fetch does)."""
from __future__ import annotations

import json

import httpx

from app.core.http import TIMED_OUT, Request, Response


class Transport:
    """Performs requests; ``file`` stands in for the browser's File (a FileSlice body is cut from it)."""

    def __init__(self, timeout: float = 40) -> None:
        self.client = httpx.Client(timeout=timeout)
        self.sent: list[Request] = []

    def perform(self, request: Request, file: bytes | None = None) -> Response:
        self.sent.append(request)
        content = None
        if request.json is not None:
            content = json.dumps(request.json).encode()
        elif request.body is not None:
            assert file is not None, "an upload request needs the file"
            content = file[request.body.start:request.body.end]
        try:
            answer = self.client.request(request.method, request.url, headers=request.headers, content=content)
        except httpx.TimeoutException:
            return Response(0, {}, TIMED_OUT)
        except httpx.TransportError as error:
            return Response(0, {}, f"{type(error).__name__}: {error}")
        return Response(answer.status_code, dict(answer.headers), answer.text)

    def download(self, request: Request) -> httpx.Response:
        """Media bytes (Response.text would decode them): what the page turns into a blob: URL."""
        return self.client.request(request.method, request.url, headers=request.headers)

    def close(self) -> None:
        self.client.close()
