"""A deadline for request headers, in the server itself (uvicorn has none).

Why: uvicorn times out a kept-alive connection only after a response, so a
client that connects and sends one byte (or nothing) holds a slot of
`limit_concurrency` for ever; a thousand such sockets (slowloris) make every
other request a 503. Here a connection gets `[server] timeout_request_headers`
seconds from its first byte (or from connecting) until its request's headers
are complete; then it is answered 408 and closed. Once the headers are in,
the deadline is off: an upload body or an event stream may last as long as it
needs. A proxy in front (docs/deploying.md, "Behind a reverse proxy") still sets its own.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

REQUEST_TIMEOUT = (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
                   b"connection: close\r\ncontent-length: 44\r\n\r\n"
                   b"The request headers did not arrive in time.\n")


class HeaderDeadlineProtocol(H11Protocol):
    """uvicorn's h11 protocol, with a timer running while a request's headers are incomplete."""

    header_timeout: float                # seconds; `protocol()` makes the class with the configured value

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None

    # asyncio declares a BaseTransport; a TCP server hands a Transport, and H11Protocol narrows it the same way
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]  # as H11Protocol's
        super().connection_made(transport)
        self._watch_headers()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._watch_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_header_timer()
        super().connection_lost(exc)

    def _awaiting_headers(self) -> bool:
        """No request is under way and the next one's headers are not complete."""
        return self.conn.their_state is h11.IDLE and not self.transport.is_closing()

    def _watch_headers(self) -> None:
        if not self._awaiting_headers():
            self._stop_header_timer()
        elif self._header_timer is None:
            # Between kept-alive requests uvicorn's own idle timer runs; the first byte stops it, and this starts.
            self._header_timer = self.loop.call_later(self.header_timeout, self._headers_too_slow)

    def _stop_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self._awaiting_headers():
            self.transport.write(REQUEST_TIMEOUT)
            self.transport.close()


def protocol(seconds: float) -> type[HeaderDeadlineProtocol]:
    """What `uvicorn.Config(http=...)` takes: a protocol class (one instance per connection) with its deadline."""

    class WithDeadline(HeaderDeadlineProtocol):
        header_timeout = seconds

    return WithDeadline
