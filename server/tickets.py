"""Single-use tickets for the events stream.

Why: EventSource cannot send an Authorization header, and a long-lived token
in a URL ends up in access logs, proxies and browser history. So the page
trades its bearer token (in a header) for a ticket that opens one stream of
one conversation, once, within seconds; a leaked ticket is worth nothing.
Tickets live in memory: a restart only means the page asks for a new one,
which it does on every reconnect anyway.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable

from server.auth import Principal, unauthorized

TICKET_TTL = 30          # seconds: enough to open the stream right after asking
MAX_TICKETS = 10_000     # outstanding at once; the oldest go first beyond that


class Tickets:
    def __init__(self, ttl: int = TICKET_TTL, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl, self._clock = ttl, clock
        self._open: dict[str, tuple[Principal, str, float]] = {}   # ticket -> (who, conversation, deadline)

    def issue(self, principal: Principal, cid: str) -> str:
        now = self._clock()
        if len(self._open) >= MAX_TICKETS // 2:
            self._open = {t: v for t, v in self._open.items() if v[2] > now}
        while len(self._open) >= MAX_TICKETS:
            del self._open[next(iter(self._open))]
        ticket = secrets.token_urlsafe(32)
        self._open[ticket] = (principal, cid, now + self.ttl)
        return ticket

    def redeem(self, ticket: str, cid: str) -> Principal:
        """The principal the ticket was issued to, for this conversation; used up either way."""
        entry = self._open.pop(ticket, None)
        if entry is None or entry[2] <= self._clock() or entry[1] != cid:
            raise unauthorized("This events ticket is unknown, used, expired or for another conversation.",
                               f"Ask for a new one: POST /api/conversations/{cid}/events/ticket.", "invalid_ticket")
        return entry[0]
