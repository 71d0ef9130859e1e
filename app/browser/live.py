"""Live updates over server-sent events (EventSource), opened with single-use tickets.

EventSource sends no headers, and a token in its URL would end up in logs, so
every connection starts with a ticket bought with the bearer token
(`api.ticket_request()`, through the transport, which renews an expired
token). A ticket opens one stream once: when a stream ends (a server restart,
the token behind it expiring) or fails, the browser's own reconnect would
spend the same ticket again, so we close the source and open a new one with a
new ticket from the last seq we have: nothing is missed, nothing repeated.
"""
from __future__ import annotations

import asyncio
from typing import Callable

from js import EventSource
from pyodide.ffi import create_proxy

from app.backends import SseEvents
from app.browser.transport import perform
from app.core.backoff import backoff
from app.core.errors import BackendError
from app.core.http import retry_after
from app.core.models import Message, Problem

REOPEN_AFTER_END_S = 0.25  # a stream that was open ended: reopen almost at once
MAX_WAIT_S = 8.0  # between attempts while the server cannot be reached
REFUSED_WAIT_S = 30.0  # a ticket refused (signed out, no access): ask again rarely; sign-in wakes us


class LiveFeed:
    def __init__(self, api: SseEvents, on_message: Callable[[Message], None], on_problem: Callable[[Problem], None],
                 on_state: Callable[[str], None]) -> None:
        """on_message gets each delivered message, on_problem an event it could not read,
        on_state "live" or "reconnecting"."""
        self._api = api
        self._on_message = on_message
        self._on_problem = on_problem
        self._on_state = on_state
        self._source = None
        self._started = False
        self._opened = False  # the current source reached "open"
        self._failures = 0  # attempts in a row that did not reach an open stream
        self._generation = 0  # bumped by every (re)connect: older waits and sources stand down
        self.last_seq: int | None = None
        self._proxies = [create_proxy(self._message), create_proxy(self._open), create_proxy(self._error)]

    def start(self, after_seq: int | None) -> None:
        self.last_seq = after_seq
        self._started = True
        self.reconnect_now()

    def stop(self) -> None:
        self._started = False
        self._generation += 1
        self._close()

    def reconnect_now(self) -> None:
        """Open a new stream now, if the feed has started (the user signed in again)."""
        if not self._started:
            return
        self._generation += 1
        self._failures = 0
        asyncio.ensure_future(self._connect(self._generation))

    def _close(self) -> None:
        if self._source is not None:
            self._source.close()
            self._source = None

    def _later(self, delay: float) -> None:
        self._generation += 1
        generation = self._generation

        async def wait_then_connect() -> None:
            await asyncio.sleep(delay)
            if generation == self._generation:
                await self._connect(generation)
        asyncio.ensure_future(wait_then_connect())

    async def _connect(self, generation: int) -> None:
        self._close()
        response = await perform(self._api.ticket_request())
        if generation != self._generation:
            return
        try:
            ticket = self._api.parse_ticket(response)
        except BackendError as error:
            self._failures += 1
            self._on_state("reconnecting")
            if response.status == 429:  # too many streams of ours: the server says when
                wait = retry_after(response) or backoff(self._failures)
            elif error.retryable:
                wait = min(backoff(self._failures), MAX_WAIT_S)
            else:
                wait = REFUSED_WAIT_S
            self._later(wait)
            return
        self._opened = False
        source = self._source = EventSource.new(self._api.events_url(self.last_seq, ticket))
        on_message, on_open, on_error = self._proxies
        source.addEventListener("message", on_message)
        source.addEventListener("open", on_open)
        source.addEventListener("error", on_error)

    def _message(self, event) -> None:
        try:
            message = self._api.parse_event(event.data)
        except BackendError as error:
            self._on_problem(error.problem)
            return
        self._on_message(message)
        if self.last_seq is None or message.seq > self.last_seq:
            self.last_seq = message.seq

    def _current(self, event) -> bool:
        """Events of a source we already closed (replaced) are old news."""
        return self._source is not None and event.target == self._source

    def _open(self, event) -> None:
        if self._current(event):
            self._opened = True
            self._failures = 0
            self._on_state("live")

    def _error(self, event) -> None:
        """The stream ended or could not open: a new ticket, not the browser's retry with a spent one."""
        if not self._current(event):
            return
        ended = self._opened  # it was live: a restart or the token behind it expired
        self._close()
        self._on_state("reconnecting")
        if ended:
            self._later(REOPEN_AFTER_END_S)
        else:
            self._failures += 1
            self._later(min(backoff(self._failures), MAX_WAIT_S))
