"""Live updates over server-sent events (EventSource), resumed after outages.

The browser reconnects an EventSource by itself and sends Last-Event-ID, so a
server restart loses nothing. When the browser gives up (the source is
CLOSED, e.g. after an HTTP error) we open a new one from the last seen seq.
"""
from __future__ import annotations

from typing import Callable

from js import EventSource, setTimeout
from pyodide.ffi import create_proxy

CLOSED = 2
REOPEN_DELAY_MS = 2000


class LiveFeed:
    def __init__(
        self,
        url_after: Callable[[int | None], str],
        on_data: Callable[[str], int | None],
        on_state: Callable[[str], None],
    ) -> None:
        """on_data gets each event's JSON and returns its seq; on_state gets "live" or "reconnecting"."""
        self._url_after = url_after
        self._on_data = on_data
        self._on_state = on_state
        self._source = None
        self._timer = None
        self.last_seq: int | None = None
        self._proxies = [create_proxy(self._message), create_proxy(self._open), create_proxy(self._error)]
        self._reopen_proxy = create_proxy(self._reopen)

    def start(self, after_seq: int | None) -> None:
        self.last_seq = after_seq
        self._connect()

    def stop(self) -> None:
        if self._source is not None:
            self._source.close()
            self._source = None

    def _connect(self) -> None:
        self.stop()
        self._source = EventSource.new(self._url_after(self.last_seq))
        on_message, on_open, on_error = self._proxies
        self._source.addEventListener("message", on_message)
        self._source.addEventListener("open", on_open)
        self._source.addEventListener("error", on_error)

    def _message(self, event) -> None:
        seq = self._on_data(event.data)
        if seq is not None and (self.last_seq is None or seq > self.last_seq):
            self.last_seq = seq

    def _open(self, _event) -> None:
        self._on_state("live")

    def _error(self, _event) -> None:
        self._on_state("reconnecting")
        if self._source is not None and self._source.readyState == CLOSED and self._timer is None:
            self._timer = setTimeout(self._reopen_proxy, REOPEN_DELAY_MS)

    def _reopen(self) -> None:
        self._timer = None
        self._connect()
