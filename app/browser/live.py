"""Live updates over server-sent events (EventSource), resumed after outages.

The browser reconnects an EventSource by itself and sends Last-Event-ID, so a
server restart loses nothing. When the browser gives up (the source is
CLOSED, e.g. after an HTTP error) we open a new one from the last seen seq,
waiting as the page's one retry policy says (`app.core.backoff`).
The conversation API builds the stream's URL (`api.events_url`, in `_url`
only: the one place that changes when streams open with single-use tickets)
and reads each event (`api.parse_event`).
"""
from __future__ import annotations

import asyncio
from typing import Callable

from js import EventSource, console, setTimeout
from pyodide.ffi import create_proxy

from app.backends import SseEvents
from app.core.backoff import backoff
from app.core.errors import BackendError
from app.core.models import Message, Problem

CLOSED = 2


class LiveFeed:
    def __init__(
        self,
        api: SseEvents,
        on_message: Callable[[Message], None],
        on_problem: Callable[[Problem], None],
        on_state: Callable[[str], None],
    ) -> None:
        """on_message gets each delivered message, on_problem an event it could not read,
        on_state "live" or "reconnecting"."""
        self._api = api
        self._on_message = on_message
        self._on_problem = on_problem
        self._on_state = on_state
        self._source = None
        self._timer = None
        self._attempt = 0  # reopenings since the stream was last open
        self.last_seq: int | None = None
        self._proxies = [create_proxy(self._message), create_proxy(self._open), create_proxy(self._error)]
        self._reopen_proxy = create_proxy(self._reopen)

    def start(self, after_seq: int | None) -> None:
        self.last_seq = after_seq
        self._reopen()

    def stop(self) -> None:
        if self._source is not None:
            self._source.close()
            self._source = None

    async def _url(self) -> str:
        """Where the stream of messages after `last_seq` opens (async: a ticket may have to be fetched first)."""
        return self._api.events_url(self.last_seq)

    async def _connect(self) -> None:
        self.stop()
        try:
            url = await self._url()
        except BackendError as error:
            console.warn(f"Attache: the live feed could not open ({error}); trying again")
            self._on_state("reconnecting")
            self._reopen_later()
            return
        self._source = EventSource.new(url)
        on_message, on_open, on_error = self._proxies
        self._source.addEventListener("message", on_message)
        self._source.addEventListener("open", on_open)
        self._source.addEventListener("error", on_error)

    def _message(self, event) -> None:
        try:
            message = self._api.parse_event(event.data)
        except BackendError as error:
            self._on_problem(error.problem)
            return
        self._on_message(message)
        if self.last_seq is None or message.seq > self.last_seq:
            self.last_seq = message.seq

    def _open(self, _event) -> None:
        self._attempt = 0
        self._on_state("live")

    def _error(self, _event) -> None:
        self._on_state("reconnecting")
        if self._source is not None and self._source.readyState == CLOSED:
            self._reopen_later()

    def _reopen_later(self) -> None:
        if self._timer is None:
            self._attempt += 1
            self._timer = setTimeout(self._reopen_proxy, int(backoff(self._attempt) * 1000))

    def _reopen(self) -> None:
        self._timer = None
        asyncio.ensure_future(self._connect())
