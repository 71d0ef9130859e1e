"""One stream for all the tabs of an agent: a leader tab (Web Locks) and a BroadcastChannel.

Why: a browser's six connections per host are shared by all its tabs, and the
server caps streams per identity, so eight tabs of one agent cannot each hold
a stream. Tabs of the same origin, server and identity (`key`) ask for the
same lock; the one holding it leads: its Hub holds the one stream for the
union of every tab's conversations and posts each event on the channel. The
others follow: they say which conversations they show ("want") and route what
the leader posts to their own canvases. The lock goes with the leader tab
(closed, reloaded, crashed), and the next tab waiting for it leads from where
the tabs' canvases are: followers tell a new leader their conversations again.

Without Web Locks or BroadcastChannel (an old browser, a page that is not a
secure context) each tab leads for itself: one stream per tab.

Messages on the channel are JSON text:
    {"t": "leader"}                                   a new leader: tell it what you want
    {"t": "want", "tab", "subs": {c: seq}, "fresh": [c]}  a follower's conversations (fresh: joined since)
    {"t": "gone", "tab"}                              a follower tab closes
    {"t": "event", "data", "kind", "id"}              one event of the stream (its data: the message; kind
                                                      "message" or "update"; id: the event's seq)
    {"t": "state", "state", "label", "hint", "c", "carried"}  the stream's state ("c": only that conversation;
                                                      "carried": the conversations of the stream open now)
    {"t": "refused", "c", "code", "message", "hint"}  the server refuses a conversation
"""
from __future__ import annotations

import json
import secrets
from typing import Any, Protocol

import js
from pyodide.ffi import create_proxy

from app.browser.dom import maybe
from app.core.livehub import Decision, Subscriptions, follower_changes
from app.core.models import Problem

PREFIX = "attache-live|"


class Leading(Protocol):
    """What the tab link drives: app.browser.hub.Hub."""

    shown: Decision
    subs: Subscriptions
    carried: frozenset[str]

    def lead(self) -> None: ...

    def remote(self, key: Any, conversation: str, after: int | None) -> None: ...

    def received(self, data: str, kind: str = "message", seq: int = 0) -> None: ...

    def show(self, decision: Decision, conversation: str = "") -> None: ...

    def problem(self, conversation: str, problem: Problem) -> None: ...


class TabLink:
    def __init__(self, key: str, hub: Leading) -> None:
        self.hub = hub
        self.tab = secrets.token_hex(8)
        self.leading = False
        self._wanted: dict[str, dict[str, int]] = {}  # leading: another tab -> its conversations
        self._fresh: set[str] = set()  # following: conversations joined since the last "want"
        self._proxies = [create_proxy(self._heard), create_proxy(self._granted), create_proxy(self._bye),
                         create_proxy(lambda resolve, reject: None)]
        locks = maybe(getattr(js.navigator, "locks", None))
        channel = maybe(getattr(js, "BroadcastChannel", None))
        if locks is None or channel is None:
            self.channel = None
            self.leading = True
            return
        self.channel = channel.new(PREFIX + key)
        self.channel.addEventListener("message", self._proxies[0])
        js.window.addEventListener("pagehide", self._proxies[2])
        locks.request(PREFIX + key, self._proxies[1])  # granted now, or when the leader tab goes

    def _post(self, **message: Any) -> None:
        if self.channel is not None:
            self.channel.postMessage(json.dumps(message))

    def _granted(self, lock) -> Any:
        """The lock is ours: lead until this tab goes (the promise never settles)."""
        self.leading = True
        self._post(t="leader")
        self.hub.lead()
        return js.Promise.new(self._proxies[3])

    def _bye(self, event=None) -> None:
        if not self.leading:
            self._post(t="gone", tab=self.tab)

    # ---- following ------------------------------------------------------------------------
    def want(self, subs: Subscriptions, joined: str = "") -> None:
        """Tell the leader which conversations this tab shows (`joined`: one that a canvas just joined)."""
        if joined:
            self._fresh.add(joined)
        self._post(t="want", tab=self.tab, subs=subs.by_conversation(), fresh=sorted(self._fresh))
        self._fresh.clear()

    # ---- leading --------------------------------------------------------------------------
    def event(self, data: str, kind: str = "message", seq: int = 0) -> None:
        if self._wanted:
            self._post(t="event", data=data, kind=kind, id=seq)

    def tell(self, decision: Decision, conversation: str = "") -> None:
        if self._wanted:
            self._post(t="state", state=decision.state, label=decision.label, hint=decision.hint, c=conversation,
                       carried=sorted(self.hub.carried))

    def refused(self, conversation: str, problem: Problem) -> None:
        if self._wanted:
            self._post(t="refused", c=conversation, code=problem.code, message=problem.message, hint=problem.hint)

    # ---- what the channel brings ------------------------------------------------------------
    def _heard(self, event) -> None:
        try:
            message = json.loads(str(event.data))
        except ValueError:
            return
        kind = message.get("t") if isinstance(message, dict) else None
        if self.leading:
            if kind == "want":
                self._follower(str(message.get("tab")), message.get("subs"), message.get("fresh"))
            elif kind == "gone":
                self._follower(str(message.get("tab")), {}, [])
            return
        if kind == "leader":  # a new leader knows nothing of us yet
            self._fresh.update(self.hub.subs.by_conversation())
            self.want(self.hub.subs)
        elif kind == "event" and isinstance(message.get("data"), str):
            seq = message.get("id")
            self.hub.received(message["data"], str(message.get("kind") or "message"),
                              seq if isinstance(seq, int) else 0)
        elif kind == "state":
            carried = message.get("carried")
            if not message.get("c") and isinstance(carried, list):
                self.hub.carried = frozenset(c for c in carried if isinstance(c, str))
            self.hub.show(Decision(0.0, str(message.get("state")), str(message.get("label")),
                                   str(message.get("hint") or "")), str(message.get("c") or ""))
        elif kind == "refused":
            self.hub.problem(str(message.get("c")), Problem(str(message.get("code")), str(message.get("message")),
                                                            str(message.get("hint") or "")))

    def _follower(self, tab: str, wanted: object, fresh: object) -> None:
        """Another tab's conversations: joins (fresh ones from their seq), leaves; then our state."""
        now, left, joins = follower_changes(self._wanted.pop(tab, {}), wanted, fresh)
        if now:
            self._wanted[tab] = now
        for conversation in left:
            self.hub.remote(("tab", tab, conversation), conversation, None)
        for conversation, seq in joins.items():
            self.hub.remote(("tab", tab, conversation), conversation, seq)
        if now:
            self.tell(self.hub.shown)
