"""Single-use tickets for the events streams (in this process; server.live.redis_state shares them).

Why: EventSource cannot send an Authorization header, and a long-lived token
in a URL ends up in access logs, proxies and browser history. So the page
trades its bearer token (in a header) for a ticket that opens one stream, of
one conversation or of a list of them, once, within seconds; a leaked ticket
is worth nothing. A restart only means the page asks for a new one, which it
does on every reconnect anyway.

Why a limit per identity: the table is bounded (the oldest go first beyond
MAX_TICKETS), so without one a single signed-in user asking ~1,000 tickets a
second would push everyone else's out. Beyond PER_IDENTITY outstanding
tickets an identity's own oldest goes, nobody else's.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from server.auth.principals import Principal, unauthorized

TICKET_TTL = 30          # seconds: enough to open the stream right after asking
MAX_TICKETS = 10_000     # outstanding at once; the oldest go first beyond that
PER_IDENTITY = 20        # outstanding per identity (sub); its own oldest go first beyond that


@dataclass(frozen=True)
class Grant:
    """What a ticket opens: whose stream, over which conversations, from which endpoint."""
    principal: Principal
    conversations: tuple[str, ...]
    multi: bool = False          # issued by POST /api/events/ticket (else by one conversation's endpoint)


class TicketBook(Protocol):
    ttl: int

    async def issue(self, grant: Grant) -> str: ...

    async def redeem(self, ticket: str) -> Grant | None:
        """The grant, once: None when unknown, used or expired."""


def new_ticket() -> str:
    return secrets.token_urlsafe(32)


def invalid_ticket(where: str) -> Exception:
    return unauthorized("This events ticket is unknown, used, expired or for another stream.",
                        f"Ask for a new one: POST {where}.", "invalid_ticket")


class Tickets:
    """In memory, for one process."""

    def __init__(self, ttl: int = TICKET_TTL, clock: Callable[[], float] = time.monotonic,
                 per_identity: int = PER_IDENTITY, limit: int = MAX_TICKETS) -> None:
        self.ttl, self._clock, self.per_identity, self.limit = ttl, clock, per_identity, limit
        self._open: dict[str, tuple[Grant, float]] = {}     # ticket -> (grant, deadline), oldest first
        self._by_sub: dict[str, list[str]] = {}             # sub -> its outstanding tickets, oldest first

    async def issue(self, grant: Grant) -> str:
        now = self._clock()
        if len(self._open) >= self.limit // 2:
            for t in [t for t, (_, deadline) in self._open.items() if deadline <= now]:
                self._drop(t)
        mine = self._by_sub.setdefault(grant.principal.sub, [])
        while len(mine) >= self.per_identity:
            self._drop(mine[0])
        while len(self._open) >= self.limit:
            self._drop(next(iter(self._open)))
        ticket = new_ticket()
        self._open[ticket] = (grant, now + self.ttl)
        self._by_sub.setdefault(grant.principal.sub, []).append(ticket)
        return ticket

    async def redeem(self, ticket: str) -> Grant | None:
        entry = self._open.get(ticket)
        if entry is None:
            return None
        self._drop(ticket)
        return entry[0] if entry[1] > self._clock() else None

    def _drop(self, ticket: str) -> None:
        grant, _ = self._open.pop(ticket)
        mine = self._by_sub[grant.principal.sub]
        mine.remove(ticket)
        if not mine:
            del self._by_sub[grant.principal.sub]
