"""One event stream for many conversations: `POST /api/events/ticket`, `GET /api/events`.

Why: a browser keeps 6 HTTP/1.1 connections per host, so an agent with 20
conversations open (tabs, or canvases in one portal page) cannot hold one
stream per conversation; and each identity holds only
`max_streams_per_identity` streams. One stream carries the messages of up
to MAX_CONVERSATIONS conversations and counts as one stream. seq is global,
so one `after` (or `Last-Event-ID`) resumes all of them at once.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app.core.schemas import EventsTicket
from app.core.wire import encode
from server.auth.principals import Principal, authenticate, unauthorized
from server.auth.tickets import Grant, invalid_ticket
from server.conversations.events import live
from server.http.api_error import ApiError
from server.http.inputs import CONVERSATION_ID
from server.http.json_body import json_body
from server.services import Services

MAX_CONVERSATIONS = 50
TICKET_PATH = "/api/events/ticket"


def conversations_of(body: dict[str, Any], principal: Principal) -> tuple[str, ...]:
    """The body's `conversations` (1..50 ids, repeats ignored), each one the caller's; else 422 or 403."""
    cids = body.get("conversations")
    if (not isinstance(cids, list) or not 1 <= len(cids) <= MAX_CONVERSATIONS
            or not all(isinstance(c, str) for c in cids)):
        raise ApiError(422, "invalid_conversations",
                       f"'conversations' must be a list of 1 to {MAX_CONVERSATIONS} conversation ids.",
                       f"Follow at most {MAX_CONVERSATIONS} conversations per stream; open a second stream "
                       "for more.")
    for cid in cids:
        if not CONVERSATION_ID.match(cid):
            raise ApiError(422, "invalid_conversations", f"{cid[:130]!r} is not a valid conversation id.",
                           "Use letters, digits, '.', '_', ':' or '-' (at most 128).")
    for cid in cids:
        if not principal.may_use(cid):
            raise ApiError(403, "conversation_not_allowed", f"This token does not grant conversation {cid!r}.",
                           "Leave it out, or ask your portal for a token that lists it.", conversation=cid)
    return tuple(dict.fromkeys(cids))


async def ticket(request: Request, state: Services) -> Response:
    """POST /api/events/ticket {"conversations": [...]}: a single-use ticket for one stream of them all."""
    principal = authenticate(request, state.config)
    cids = conversations_of(await json_body(request), principal)
    await state.slots.check(principal)       # say 429 here, where the page can read Retry-After
    value = await state.tickets.issue(Grant(principal, cids, multi=True))
    return JSONResponse(encode(EventsTicket(value, state.tickets.ttl)))


async def events(request: Request, state: Services) -> Response:
    """GET /api/events?ticket=T[&after=seq] (Last-Event-ID overrides after)."""
    ticket_value = request.query_params.get("ticket")
    if not ticket_value:
        raise unauthorized("This stream opens with a ticket.",
                           f"Ask for one with your token: POST {TICKET_PATH}, then open /api/events?ticket=...",
                           "unauthorized")
    grant = await state.tickets.redeem(ticket_value)
    if grant is None or not grant.multi:
        raise invalid_ticket(TICKET_PATH)
    return await live(request, state, grant.principal, grant.conversations)
