"""Live messages over Server-Sent Events, fanned out in-process.

Why SSE: EventSource reconnects by itself and replays from `Last-Event-ID`,
so a client that drops (or a server restart) misses nothing as long as every
event id is the message seq and the backlog comes from SQLite. The broker is
closed before uvicorn waits for connections, so open streams end and Ctrl-C /
SIGTERM do not hang.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from server.common import authenticate, parse_after
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

    @property
    def subscriber_count(self) -> int:
        return sum(len(s) for s in self._subs.values())


def frame(message: dict[str, Any]) -> str:
    data = json.dumps(message, ensure_ascii=False, separators=(",", ":"))
    return f"id: {message['seq']}\nevent: message\ndata: {data}\n\n"


async def events(request: Request) -> Response:
    """GET /api/conversations/{cid}/events[?after=seq] (also Last-Event-ID, ?access_token=)."""
    authenticate(request, allow_query=True)
    cid = conversation_id(request)
    header = request.headers.get("last-event-id")
    after = parse_after(header if header else request.query_params.get("after"))
    state = request.app.state
    keepalive = state.keepalive

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
            backlog = [] if after is None else [message_json(m, signer) for m in store.messages(cid, last)]
            while not broker.closed:
                for m in backlog:
                    if m["seq"] > last:
                        yield frame(m)
                        last = m["seq"]
                try:
                    await asyncio.wait_for(sub.wake.wait(), keepalive)
                except asyncio.TimeoutError:
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

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    if request.method == "HEAD":       # a probe, not a subscriber: do not hold the connection open
        return Response(media_type="text/event-stream", headers=headers)
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)
