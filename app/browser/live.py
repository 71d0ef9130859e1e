"""A canvas's live updates over server-sent events, through the page's one stream (app.browser.hub).

Why not a stream per canvas: a browser keeps six HTTP/1.1 connections per host
across its tabs and the server caps streams per identity; twenty canvases (or
tabs) of one agent share one stream instead, and each canvas's `LiveFeed` is
its member there.
"""
from __future__ import annotations

from collections.abc import Callable

from app.backends import SetEvents
from app.browser.hub import hub_for
from app.core.livehub import Decision
from app.core.models import Message, Problem


class LiveFeed:
    """One canvas's live feed (as PollFeed: start(after_seq), stop(), reconnect_now())."""

    def __init__(self, api: SetEvents, conversation: str, on_message: Callable[[Message], None],
                 on_problem: Callable[[Problem], None], on_state: Callable[[str, str, str], None],
                 on_update: Callable[[Message], None] = lambda message: None) -> None:
        """on_message gets each message of `conversation`, on_update a new copy of one shown before,
        on_problem an event it could not read or a refusal of the conversation, on_state (state,
        label, hint): "live", "offline" or "refused"."""
        self.api, self.conversation = api, conversation
        self.on_message, self.on_problem, self.on_state = on_message, on_problem, on_state
        self.on_update = on_update
        self.hub = hub_for(api)

    def start(self, after_seq: int | None) -> None:
        self.hub.join(self, after_seq or 0)

    def stop(self) -> None:
        self.hub.leave(self)

    def reconnect_now(self) -> None:
        self.hub.reconnect_now()

    def show(self, decision: Decision) -> None:
        self.on_state(decision.state, decision.label, decision.hint)
