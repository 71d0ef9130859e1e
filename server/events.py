"""Live messages over Server-Sent Events, fanned out in-process.

Why SSE: EventSource reconnects by itself and replays from `Last-Event-ID`,
so a client that drops (or a server restart) misses nothing as long as every
event id is the message seq and the backlog comes from SQLite. The broker is
closed before uvicorn waits for connections, so open streams end and Ctrl-C /
SIGTERM do not hang.

Why tickets and caps: a stream is opened with a single-use ticket (see
server.tickets) rather than a token in the URL; each identity holds at most
`[server] max_streams_per_identity` streams, and a stream ends when the token
that opened it expires, so a signed-out user stops receiving at the latest
then (the page reconnects with a fresh ticket and `?after=`).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from server.auth import Principal, authenticate, require_member
from server.common import ApiError, parse_after
from server.messages import conversation_id, message_json

QUEUE_LIMIT = 1000   # a subscriber further behind than this reloads from the database


class Subscriber:
    def __init__(self) -> None:
        self.items: deque[dict[str, Any]] = deque()
        self.wake = asyncio.Event()
        self.overflow = False


class Broker:
    def __init__(self) -> None:
        self._subs: dict[str, set[Subscriber]] = {}
        self.closed = False

    def subscribe(self, cid: str) -> Subscriber:
        sub = Subscriber()
        self._subs.setdefault(cid, set()).add(sub)
        return sub

    def unsubscribe(self, cid: str, sub: Subscriber) -> None:
        subs = self._subs.get(cid)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._subs[cid]

    def publish(self, cid: str, message: dict[str, Any]) -> None:
        for sub in self._subs.get(cid, ()):
            if len(sub.items) >= QUEUE_LIMIT:
                sub.items.clear()
                sub.overflow = True
            else:
                sub.items.append(message)
            sub.wake.set()

    def close(self) -> None:
        """End every stream (server shutdown); clients reconnect to the next server."""
        self.closed = True
        for subs in self._subs.values():
            for sub in subs:
                sub.wake.set()


def frame(message: dict[str, Any]) -> str:
    data = json.dumps(message, ensure_ascii=False, separators=(",", ":"))
    return f"id: {message['seq']}\nevent: message\ndata: {data}\n\n"


class _Stream(StreamingResponse):
    """A stream that gives its slot back however it ends (even if it never started)."""

    def __init__(self, body: AsyncIterator[str], release: Callable[[], None], headers: dict[str, str]) -> None:
        super().__init__(body, media_type="text/event-stream", headers=headers)
        self._release = release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._release()


def _check_slots(state: Any, principal: Principal) -> None:
    """429 when this identity already holds its streams (EventSource cannot read a status: the
    ticket request says it first)."""
    limit = state.config.max_streams_per_identity
    if state.streams.get(principal.sub, 0) >= limit:
        raise ApiError(429, "too_many_streams", f"{principal.name} already has {limit} open event streams.",
                       "Close another tab or window of this conversation, then try again.",
                       headers={"Retry-After": "10"})


def _open_slot(state: Any, principal: Principal) -> Callable[[], None]:
    """Count one more stream for this identity, or 429."""
    _check_slots(state, principal)
    state.streams[principal.sub] = state.streams.get(principal.sub, 0) + 1

    def release() -> None:
        left = state.streams.get(principal.sub, 1) - 1
        if left > 0:
            state.streams[principal.sub] = left
        else:
            state.streams.pop(principal.sub, None)
    return release


async def ticket(request: Request) -> Response:
    """POST /api/conversations/{cid}/events/ticket: a single-use ticket to open the stream."""
    principal = authenticate(request)
    cid = conversation_id(request)
    require_member(principal, cid)
    _check_slots(request.app.state, principal)    # say 429 here, where the page can read Retry-After
    tickets = request.app.state.tickets
    return JSONResponse({"ticket": tickets.issue(principal, cid), "expires_in": tickets.ttl})


async def events(request: Request) -> Response:
    """GET /api/conversations/{cid}/events[?after=seq][&ticket=...] (also Last-Event-ID)."""
    state = request.app.state
    ticket_value = request.query_params.get("ticket")
    if ticket_value:
        principal = state.tickets.redeem(ticket_value, conversation_id(request))
    else:
        principal = authenticate(request)     # API clients with a header; the page uses tickets
    cid = conversation_id(request)
    require_member(principal, cid)
    header = request.headers.get("last-event-id")
    after = parse_after(request.query_params.get("after"))       # checked even when the header overrides it
    if header is not None:
        after = parse_after(header)
    keepalive = state.keepalive
    live_floor = state.twilio.live_floor if state.twilio is not None else 0
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    if request.method == "HEAD":       # a probe, not a subscriber: do not hold the connection open
        return Response(media_type="text/event-stream", headers=headers)
    release = _open_slot(state, principal)
    loop = asyncio.get_running_loop()
    # the token's exp is unix time; the loop measures with its own clock
    deadline = None if principal.expires is None else loop.time() + principal.expires - time.time()

    async def stream() -> AsyncIterator[str]:
        broker, store, signer = state.broker, state.store, state.signer
        sub = broker.subscribe(cid)      # before reading the backlog: nothing can fall in between
        try:
            yield "retry: 1000\n\n"
            newest = store.last_seq()
            if after is None:
                last = newest                  # only what is sent from now on
            else:
                last = after if after <= newest else 0   # an id we never issued: another data dir, replay all
            last = max(last, live_floor)       # a bridge's history read from Twilio is never "new"
            backlog = [] if after is None else [message_json(m, signer) for m in store.messages(cid, last)]
            while not broker.closed:
                for m in backlog:
                    if m["seq"] > last:
                        yield frame(m)
                        last = m["seq"]
                wait = keepalive if deadline is None else min(keepalive, deadline - loop.time())
                if wait <= 0:
                    break                      # the token expired: the page reconnects with a fresh one
                try:
                    await asyncio.wait_for(sub.wake.wait(), wait)
                except asyncio.TimeoutError:
                    if deadline is None or loop.time() < deadline:
                        yield ": keepalive\n\n"
                    backlog = []
                    continue
                sub.wake.clear()
                if sub.overflow:
                    sub.overflow = False
                    sub.items.clear()
                    backlog = [message_json(m, signer) for m in store.messages(cid, last)]
                else:
                    backlog = list(sub.items)
                    sub.items.clear()
        finally:
            broker.unsubscribe(cid, sub)

    return _Stream(stream(), release, headers)
