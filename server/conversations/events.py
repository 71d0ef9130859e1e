"""Live messages over Server-Sent Events: one conversation's stream, and the stream shared by both endpoints.

Why SSE: EventSource reconnects by itself and replays from `Last-Event-ID`,
so a client that drops (or a server restart, or a process killed behind a
load balancer) misses nothing as long as every event id is the message seq
and the backlog comes from the database. seq is global, so one `after` serves
any set of conversations (server.conversations.events_multi). The broker is closed before
uvicorn waits for connections, so open streams end and Ctrl-C / SIGTERM do
not hang.

Why tickets and caps: a stream is opened with a single-use ticket (see
server.auth.tickets) rather than a token in the URL; each identity holds at most
`[server] max_streams_per_identity` streams (server.live.slots), and a stream ends
when the token that opened it expires, so a signed-out user stops receiving
at the latest then. A token already expired when the stream is asked for is
refused before the first byte: no backlog, no fresh media links.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from app.core.schemas import EventsTicket
from app.core.wire import encode
from server.auth.principals import Principal, authenticate, require_member, unauthorized
from server.auth.tickets import Grant, invalid_ticket
from server.conversations.messages import conversation_id, message_json
from server.http.inputs import parse_after
from server.services import Services
from server.store.database import DatabaseUnavailable

log = logging.getLogger("attache.events")

HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


Event = tuple[int, str, dict[str, Any]]   # (seq, "message" | "update", the Message JSON)


def frame(event: Event) -> str:
    """`message`: a new message (id = its seq); `update`: a message shown before, as it is now
    (id = the update's own seq; the message keeps its seq)."""
    seq, kind, message = event
    data = json.dumps(message, ensure_ascii=False, separators=(",", ":"))
    return f"id: {seq}\nevent: {kind}\ndata: {data}\n\n"


class _Stream(StreamingResponse):
    """A stream that gives its slot back however it ends (even if it never started)."""

    def __init__(self, body: AsyncIterator[str], release: Callable[[], Awaitable[None]]) -> None:
        super().__init__(body, media_type="text/event-stream", headers=HEADERS)
        self._release = release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            with contextlib.suppress(Exception):      # a shared count forgets a lost stream by itself
                await self._release()


def read_after(state: Services, cids: tuple[str, ...], after: int, top: int | None) -> list[Event]:
    """The events of `cids` with after < seq <= top, in seq order, as the API shows them.

    Capped at `top` (read first): seqs become visible in commit order, so
    everything up to it is there, and what came later is read on the next wake-up.
    One conversation needs no cap (`top` None): its one read sees a prefix of the
    seqs; several are read one after another, and a seq committed in between in a
    conversation read earlier would be passed over."""
    per_cid = [[e for e in state.store.events(cid, after) if top is None or e[0] <= top] for cid in cids]
    merged = per_cid[0] if len(per_cid) == 1 else heapq.merge(*per_cid, key=lambda e: e[0])
    return [(seq, kind, message_json(m, state.signer)) for seq, kind, m in merged]


def resume_point(request: Request) -> int | None:
    """`?after=`, overridden by `Last-Event-ID` (both checked); None: only what is sent from now on."""
    header = request.headers.get("last-event-id")
    after = parse_after(request.query_params.get("after"))
    return parse_after(header) if header is not None else after


def refuse_expired(principal: Principal) -> None:
    if principal.expires is not None and principal.expires <= time.time():
        raise unauthorized("The access token that asked for this stream has expired.",
                           "Sign in again, then ask for a new ticket with the fresh token.", "token_expired")


RETRY = "retry: 1000\n\n"      # a stream's first line: the page reconnects 1 s after it ends


async def live(request: Request, state: Services, principal: Principal, cids: tuple[str, ...]) -> Response:
    """The event stream of `cids` for `principal` (already allowed to read them)."""
    after = resume_point(request)
    refuse_expired(principal)
    live_floor = state.twilio.live_floor if state.twilio is not None else 0
    if request.method == "HEAD":       # a probe, not a subscriber: do not hold the connection open
        return Response(media_type="text/event-stream", headers=HEADERS)
    handle = await state.slots.take(principal)
    loop = asyncio.get_running_loop()
    # the token's exp is unix time; the loop measures with its own clock
    deadline = None if principal.expires is None else loop.time() + principal.expires - time.time()
    keepalive = state.keepalive

    async def stream() -> AsyncIterator[str]:
        broker, store = state.broker, state.store
        sub = broker.subscribe(cids)     # before reading the backlog: nothing can fall in between
        try:
            # "now" is read before the first line: a message sent once the client has that line is
            # after it, however late this loop comes back here (read after, it would count as before)
            try:
                newest = store.last_seq()
            except DatabaseUnavailable:
                yield RETRY                    # the database away: the page still hears how soon to come back
                raise
            yield RETRY
            if after is None:
                last = newest                  # only what is sent from now on
            else:
                last = after if after <= newest else 0   # an id we never issued: another database, replay all
                last = max(last, live_floor)   # a bridge's history read from Twilio is never "new"
            pending, top = ([] if after is None else read_after(state, cids, last, newest)), newest
            while not broker.closed:
                for event in pending:
                    if event[0] > last:
                        yield frame(event)
                        last = event[0]
                pending, last = [], max(last, top)     # nothing of ours is left up to `top`
                wait = keepalive if deadline is None else min(keepalive, deadline - loop.time())
                if wait <= 0:
                    break                      # the token expired: the page reconnects with a fresh one
                if not await sub.wake.wait(wait):
                    if deadline is None or loop.time() < deadline:
                        yield ": keepalive\n\n"
                    continue
                sub.wake.clear()
                if sub.reload:
                    sub.reload = False
                    sub.items.clear()
                    if len(cids) == 1:        # one round trip less on every wake-up (see read_after)
                        pending, top = read_after(state, cids, last, None), last
                    else:
                        top = store.last_seq()
                        pending = read_after(state, cids, last, top)
                else:
                    pending, top = [(m["seq"], "message", m) for m in sub.items], last
                    sub.items.clear()
        except DatabaseUnavailable as e:       # the stream ends; the page reconnects from its last seq
            log.warning("an event stream ended: %s", e.message)
        finally:
            broker.unsubscribe(sub)

    return _Stream(stream(), lambda: state.slots.give_back(handle))


async def ticket(request: Request, state: Services) -> Response:
    """POST /api/conversations/{cid}/events/ticket: a single-use ticket to open the stream."""
    principal = authenticate(request, state.config)
    cid = conversation_id(request)
    require_member(principal, cid)
    await state.slots.check(principal)    # say 429 here, where the page can read Retry-After
    value = await state.tickets.issue(Grant(principal, (cid,)))
    return JSONResponse(encode(EventsTicket(value, state.tickets.ttl)))


async def events(request: Request, state: Services) -> Response:
    """GET /api/conversations/{cid}/events[?after=seq][&ticket=...] (also Last-Event-ID)."""
    ticket_value = request.query_params.get("ticket")
    cid = conversation_id(request)
    if ticket_value:
        grant = await state.tickets.redeem(ticket_value)
        if grant is None or grant.multi or grant.conversations != (cid,):
            raise invalid_ticket(f"/api/conversations/{cid}/events/ticket")
        principal = grant.principal
    else:
        principal = authenticate(request, state.config)     # API clients with a header; the page uses tickets
    require_member(principal, cid)
    return await live(request, state, principal, (cid,))
