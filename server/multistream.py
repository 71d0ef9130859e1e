"""One event stream for many conversations: what a page with many canvases (or tabs) follows.

Why: a browser keeps six HTTP/1.1 connections per host across all its tabs,
and the server caps streams per identity, so one stream per conversation
cannot serve an agent who follows twenty. The page asks one ticket for the
set, `POST /api/events/ticket {"conversations": [...]}`, and opens
`GET /api/events?ticket=T&after=N`. Seq is global across conversations, so
one `after` (the smallest any canvas has) serves them all; each event's data
carries its `conversation`. The stream counts as one of the identity's
`max_streams_per_identity`.

The broker is only a doorbell here: on a wake the stream reads what is new in
its conversations from the store, so nothing published can be missed.
(A minimal form, kept apart from server/events.py so that a fuller one can
replace it.)
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server.auth import Principal, authenticate, unauthorized
from server.common import CONVERSATION_ID, ApiError, json_body, parse_after
from server.events import _check_slots, _open_slot, _Stream, frame
from server.messages import message_json

MAX_CONVERSATIONS = 50
TICKET_TTL = 30
MAX_TICKETS = 10_000


class SetTickets:
    """Single-use tickets, each for one identity and a set of conversations."""

    def __init__(self, ttl: int = TICKET_TTL, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl, self._clock = ttl, clock
        self._open: dict[str, tuple[Principal, tuple[str, ...], float]] = {}

    def issue(self, principal: Principal, cids: tuple[str, ...]) -> str:
        now = self._clock()
        if len(self._open) >= MAX_TICKETS // 2:
            self._open = {t: v for t, v in self._open.items() if v[2] > now}
        while len(self._open) >= MAX_TICKETS:
            del self._open[next(iter(self._open))]
        ticket = secrets.token_urlsafe(32)
        self._open[ticket] = (principal, cids, now + self.ttl)
        return ticket

    def redeem(self, ticket: str) -> tuple[Principal, tuple[str, ...]]:
        entry = self._open.pop(ticket, None)
        if entry is None or entry[2] <= self._clock():
            raise unauthorized("This events ticket is unknown, used or expired.",
                               "Ask for a new one: POST /api/events/ticket.", "invalid_ticket")
        return entry[0], entry[1]


def conversations_of(body: dict) -> tuple[str, ...]:
    """The body's `conversations`: 1..50 valid ids, duplicates dropped, order kept; else 422."""
    cids = body.get("conversations")
    if not isinstance(cids, list) or not 1 <= len(cids) <= MAX_CONVERSATIONS:
        raise ApiError(422, "invalid_conversations",
                       f"'conversations' must be a list of 1 to {MAX_CONVERSATIONS} conversation ids.",
                       "Send {\"conversations\": [\"c1\", ...]}.")
    for cid in cids:
        if not isinstance(cid, str) or not CONVERSATION_ID.match(cid):
            raise ApiError(422, "invalid_conversations", f"{cid!r} is not a valid conversation id.",
                           "Conversation ids are 1-128 letters, digits, '.', '_', ':' or '-'.")
    return tuple(dict.fromkeys(cids))


def _tickets(request: Request) -> SetTickets:
    state = request.app.state
    if not hasattr(state, "set_tickets"):
        state.set_tickets = SetTickets()
    return state.set_tickets


async def set_ticket(request: Request) -> Response:
    """POST /api/events/ticket {"conversations": [...]}: a single-use ticket for one stream of them all."""
    principal = authenticate(request)
    cids = conversations_of(await json_body(request))
    for cid in cids:
        if not principal.may_use(cid):
            raise ApiError(403, "conversation_not_allowed", f"You may not follow conversation {cid!r}.",
                           "Leave it out of the set, or ask for access to it.", conversation=cid)
    _check_slots(request.app.state, principal)
    tickets = _tickets(request)
    return JSONResponse({"ticket": tickets.issue(principal, cids), "expires_in": tickets.ttl})


async def set_events(request: Request) -> Response:
    """GET /api/events?ticket=T[&after=seq] (or Last-Event-ID): the set's messages, in seq order."""
    state = request.app.state
    principal, cids = _tickets(request).redeem(request.query_params.get("ticket", ""))
    after = parse_after(request.query_params.get("after"))
    header = request.headers.get("last-event-id")
    if header is not None:
        after = parse_after(header)
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    if request.method == "HEAD":       # a probe, not a subscriber: do not hold the connection open
        return Response(media_type="text/event-stream", headers=headers)
    release = _open_slot(state, principal)
    loop = asyncio.get_running_loop()
    deadline = None if principal.expires is None else loop.time() + principal.expires - time.time()

    def since(last: int) -> list[dict]:
        found = [m for cid in cids for m in state.store.messages(cid, last)]
        return [message_json(m, state.signer) for m in sorted(found, key=lambda m: m["seq"])]

    async def stream() -> AsyncIterator[str]:
        broker = state.broker
        subs = [(cid, broker.subscribe(cid)) for cid in cids]   # before the backlog: nothing falls between
        try:
            yield "retry: 1000\n\n"
            newest = state.store.last_seq()
            last = newest if after is None else (after if after <= newest else 0)
            backlog = [] if after is None else since(last)
            while not broker.closed:
                for m in backlog:
                    if m["seq"] > last:
                        yield frame(m)
                        last = m["seq"]
                wait = state.keepalive if deadline is None else min(state.keepalive, deadline - loop.time())
                if wait <= 0:
                    break
                woken = [asyncio.ensure_future(sub.wake.wait()) for _, sub in subs]
                done, pending = await asyncio.wait(woken, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
                for task in pending:
                    task.cancel()
                if not done:
                    if deadline is None or loop.time() < deadline:
                        yield ": keepalive\n\n"
                    backlog = []
                    continue
                for _, sub in subs:
                    sub.wake.clear()
                    sub.items.clear()
                    sub.overflow = False
                backlog = since(last)
        finally:
            for cid, sub in subs:
                broker.unsubscribe(cid, sub)

    return _Stream(stream(), release, headers)


def routes() -> list[Route]:
    return [Route("/api/events/ticket", set_ticket, methods=["POST"]), Route("/api/events", set_events)]
