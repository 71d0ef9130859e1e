"""The page's one live stream per server and identity, shared by all its canvases (and tabs).

Each canvas's feed (app.browser.live.LiveFeed, which says why) joins the page's
`Hub` for its `api.stream_key`; the hub holds one EventSource for the set of their
conversations (`/api/events?ticket=&after=`), routing each message to the
canvases of its conversation (and each `update` event, a message shown before
as it is now, e.g. with its photo's thumbnail made, to their `on_update`)
(app.core.livehub decides which, from where, and what to do on a failure). A
change of the set (a canvas added, removed, put back) opens the stream anew,
once for a burst of changes.

Across tabs (app.browser.tabs): one tab of the same origin, server and identity
leads and holds the stream for every tab's conversations; the others follow
over a BroadcastChannel. When the leader goes another takes over from where
its canvases are.

Every stream starts with a single-use ticket bought with the bearer token: a
ticket opens one stream once, so when a stream ends or fails the hub closes
the source and opens a new one with a new ticket: nothing missed, nothing twice.
"""
from __future__ import annotations

import asyncio
from collections.abc import Hashable
from typing import Protocol

from js import EventSource
from pyodide.ffi import create_proxy

from app.backends import SetEvents
from app.browser.tabs import TabLink
from app.browser.transport import perform
from app.core.errors import BackendError
from app.core.http import retry_after
from app.core.livehub import CONNECTING, Decision, Subscriptions, after_stream_error, after_ticket_failure, status_of
from app.core.models import Message, Problem

QUIET_S = 0.15  # a burst of joins (twenty canvases mounting) makes one stream: wait for a pause...
MAX_SETTLE_S = 1.0  # ...but not longer than this after the first change

LIVE = Decision(0.0, "live", "Live")


class Member(Protocol):
    """A canvas's feed as the hub sees it (app.browser.live.LiveFeed)."""

    api: SetEvents
    conversation: str

    def show(self, decision: Decision) -> None: ...

    def on_message(self, message: Message) -> None: ...

    def on_update(self, message: Message) -> None: ...

    def on_problem(self, problem: Problem) -> None: ...


class Hub:
    """The page's one stream for a server and identity (or, following, the leader tab's)."""

    def __init__(self, key: str) -> None:
        self.subs = Subscriptions()
        self.feeds: dict[Hashable, Member] = {}   # by subscription key (the feed's id)
        self.api: SetEvents | None = None  # the newest member's: its token buys the tickets
        self.shown = CONNECTING
        self.carried: frozenset[str] = frozenset()  # the conversations of the stream open now (the leader's)
        self._source = None
        self._opened = False
        self._failures = 0
        self._generation = 0
        self._settling: asyncio.Future | None = None  # the round under way (held, or it may be collected)
        self._quiet: int | None = None  # the generation of the round waiting for a burst to end
        self._changed_at = self._first_change = 0.0
        self._proxies = [create_proxy(self._message), create_proxy(self._open), create_proxy(self._error),
                         create_proxy(self._update)]
        self.tabs = TabLink(key, self)

    # ---- members --------------------------------------------------------------------------
    def join(self, feed: Member, after: int) -> None:
        self.feeds[id(feed)] = feed
        self.api = feed.api
        self.subs.join(id(feed), feed.conversation, after)
        feed.show(status_of(self.shown, feed.conversation, self.carried) or CONNECTING)
        self._changed(feed.conversation)

    def leave(self, feed: Member) -> None:
        if self.feeds.pop(id(feed), None) is not None:
            self.subs.leave(id(feed))
            self._changed()

    def reconnect_now(self) -> None:
        """Sign-in again: ask at once (a follower has nothing to open)."""
        if self.tabs.leading and len(self.subs):
            self._failures = 0
            self.subs.dirty = True
            self._schedule()

    def remote(self, key, conversation: str, after: int | None) -> None:
        """Another tab's conversation (after None: it left), when this tab leads."""
        changed = self.subs.leave(key) if after is None else self.subs.join(key, conversation, after)
        if changed:
            self._schedule()

    def _changed(self, joined: str = "") -> None:
        if not self.tabs.leading:
            self.tabs.want(self.subs, joined)
        elif not len(self.subs):
            self._stop_stream()
        elif self.subs.dirty:
            self._schedule()

    # ---- what members are told ------------------------------------------------------------
    def show(self, decision: Decision, conversation: str = "") -> None:
        """Say `decision` on every canvas (or those of `conversation`), here and, leading, in other tabs
        ("Live" only on those the open stream carries: app.core.livehub.status_of)."""
        if not conversation:
            self.shown = decision
        for key in (self.subs.of(conversation) if conversation else self.subs.keys()):
            feed = self.feeds.get(key)
            said = None if feed is None else status_of(decision, feed.conversation, self.carried)
            if feed is not None and said is not None:
                feed.show(said)
        if self.tabs.leading:
            self.tabs.tell(decision, conversation)

    def deliver(self, conversation: str, message: Message, update_seq: int = 0) -> None:
        """A new message, or (update_seq: the event's own seq) a new copy of one sent before: to the
        canvases of `conversation` that have not had that seq yet."""
        for key in self.subs.deliver(conversation, update_seq or message.seq):
            feed = self.feeds.get(key)
            if feed is not None:
                (feed.on_update if update_seq else feed.on_message)(message)

    def problem(self, conversation: str, problem: Problem) -> None:
        for key in self.subs.of(conversation):
            feed = self.feeds.get(key)
            if feed is not None:
                feed.on_problem(problem)

    # ---- the stream (leading) -------------------------------------------------------------
    def lead(self) -> None:
        """This tab now leads: open the stream for its own canvases and whatever other tabs ask."""
        self.subs.closed()
        self.subs.dirty = True
        self.carried = frozenset()  # what the tab that led before carried is not ours
        if len(self.subs):
            self._schedule()

    def _schedule(self) -> None:
        """Open the stream anew once the burst of changes is over (a change while a ticket is on
        its way starts another round: the older one stands down)."""
        loop = asyncio.get_running_loop()
        self._changed_at = loop.time()
        if self._quiet is not None and self._quiet == self._generation:
            return  # a round is already waiting for the burst to end: it takes this change too
        self._first_change = self._changed_at
        self._generation += 1
        self._quiet = self._generation
        self._settling = asyncio.ensure_future(self._settle(self._generation))

    async def _settle(self, generation: int) -> None:
        loop = asyncio.get_running_loop()
        while (quiet := loop.time() - self._changed_at) < QUIET_S and loop.time() - self._first_change < MAX_SETTLE_S:
            await asyncio.sleep(QUIET_S - quiet)
        if generation == self._generation:
            self._quiet = None
            await self._connect(generation)

    def _stop_stream(self) -> None:
        self._generation += 1
        self._close()
        self.subs.closed()

    def _close(self) -> None:
        self.carried = frozenset()
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
        self._settling = asyncio.ensure_future(wait_then_connect())

    async def _connect(self, generation: int) -> None:
        self._close()
        if not len(self.subs) or self.api is None or not self.tabs.leading:
            self.subs.closed()
            return
        api = self.api
        conversations, after = self.subs.opening()
        response = await perform(api.set_ticket_request(conversations))
        if generation != self._generation:
            return
        try:
            ticket = api.parse_ticket(response)
        except BackendError as error:
            self.subs.closed()
            self._failures += 1
            decision = after_ticket_failure(response.status, error.problem.code, error.retryable,
                                            retry_after(response), self._failures, api.refused_conversation(response))
            if decision.drop:
                self._drop(decision, error.problem)
            else:
                self.show(decision)
            self._later(decision.wait)
            return
        self._opened = False
        source = self._source = EventSource.new(api.set_events_url(after, ticket))
        on_message, on_open, on_error, on_update = self._proxies
        source.addEventListener("message", on_message)
        source.addEventListener("update", on_update)
        source.addEventListener("open", on_open)
        source.addEventListener("error", on_error)

    def _drop(self, decision: Decision, problem: Problem) -> None:
        """The server refuses one conversation: its canvases say so, the others go on without it."""
        self.show(decision, decision.drop)
        self.problem(decision.drop, problem)
        self.tabs.refused(decision.drop, problem)
        for key in self.subs.of(decision.drop):
            self.subs.leave(key)
            self.feeds.pop(key, None)

    def _message(self, event) -> None:
        if self.api is None:
            return
        self.tabs.event(event.data)
        self.received(event.data)

    def _update(self, event) -> None:
        if self.api is None:
            return
        seq = event_seq(str(event.lastEventId or ""))
        self.tabs.event(event.data, "update", seq)
        self.received(event.data, "update", seq)

    def received(self, data: str, kind: str = "message", seq: int = 0) -> None:
        """One event's data (from our stream, or the leader tab's); an update carries its own seq."""
        if self.api is None:
            return   # no canvas has joined yet: no one to tell
        try:
            conversation, message = self.api.parse_set_event(data)
        except BackendError as error:
            for feed in list(self.feeds.values()):
                feed.on_problem(error.problem)
            return
        if kind == "update" and seq > 0:
            self.deliver(conversation, message, update_seq=seq)
        elif kind == "message":
            self.deliver(conversation, message)

    def _current(self, event) -> bool:
        """Events of a source we already closed (replaced) are old news."""
        return self._source is not None and event.target == self._source

    def _open(self, event) -> None:
        if self._current(event):
            self._opened = True
            self.carried = frozenset(self.subs.streamed or ())
            self._failures = 0
            self.show(LIVE)

    def _error(self, event) -> None:
        """The stream ended or could not open: a new ticket, not the browser's retry with a spent one."""
        if not self._current(event):
            return
        was_open = self._opened
        self._close()
        self.subs.closed()
        if not was_open:
            self._failures += 1
        decision = after_stream_error(was_open, self._failures)
        self.show(decision)
        self._later(decision.wait)


def event_seq(last_event_id: str) -> int:
    """An event's id as a seq (0 when it is not one: such an update is not applied)."""
    return int(last_event_id) if last_event_id.isascii() and last_event_id.isdigit() else 0


_hubs: dict[str, Hub] = {}


def hub_for(api: SetEvents) -> Hub:
    """The page's hub for this server and identity (made on first use)."""
    hub = _hubs.get(api.stream_key)
    if hub is None:
        hub = _hubs[api.stream_key] = Hub(api.stream_key)
    if hub.api is None:  # a tab may lead before (or without) a canvas of its own joining
        hub.api = api
    return hub
