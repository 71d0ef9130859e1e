"""Only the history near the viewport is in the DOM; older pages load as the reader scrolls up.

Each block of `app.core.timeline` is one `<div class="block">`: its messages
while it is within NEAR of the viewport, an empty spacer of its measured
height once it is beyond FAR (two IntersectionObservers watch, so nothing runs
on every scroll event). The sentinel at the top (`#history-start`) loads the
next older page when it comes near, again and again while it stays near. Every
change above what the reader sees moves the scroll position by as much
(`HistoryPane.keep_view`), so nothing jumps: not when a page is prepended, not
when a block becomes a spacer or comes back.

The history opens as `render.opening_html` draws it: the sentinel and the
newest page as one block. The reference server's first paint is that very HTML
(server/page/first_paint.py), so `open` keeps the nodes already there (`dom.adopt`,
keyed by id and block): nothing flashes, loads twice or shows twice.

The window draws into a `HistoryPane` (app.browser.history.HistoryView is the one) and
never imports it: history.py owns the window, not the other way round.
"""
from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from js import CSS, IntersectionObserver, Object, console
from pyodide.ffi import create_proxy, to_js

from app import render
from app.browser.dom import adopt, maybe
from app.core.backoff import POLICY
from app.core.errors import BackendError
from app.core.models import Message
from app.core.timeline import Block, Page, Timeline

NEAR = "100% 0px"  # rootMargin: a screen above and below is drawn
FAR = "300% 0px"   # beyond three screens a block becomes a spacer (the gap between: no flapping)
FIRST = 25         # messages of the newest page drawn before the rest of it
START_ID = render.START_ID

Fetch = Callable[[str], Awaitable[Page]]  # a page token -> that page (ConversationApi.history_request/parse)


class HistoryPane(Protocol):
    """The scrolling history the window draws into: its element, how it renders messages, and
    how it changes the DOM above the reader without moving what they see."""

    @property
    def element(self) -> Any: ...   # the scrolling <div id="history"> (a JS proxy)

    def render(self, messages: Sequence[Message]) -> str: ...

    def keep_view(self, element: Any, change: Callable[[], object], *, above: bool | None = None) -> None: ...


class BlockWindow:
    def __init__(self, view: HistoryPane, timeline: Timeline) -> None:
        self.view = view
        self.timeline = timeline
        self.fetch: Fetch | None = None
        self.loading = False
        self._refilling: set[int] = set()   # keys of dropped blocks being fetched again
        self._proxies = [create_proxy(self._on_near), create_proxy(self._on_far), create_proxy(self._retry)]
        self._near = IntersectionObserver.new(self._proxies[0], _observed(view.element, NEAR))
        self._far = IntersectionObserver.new(self._proxies[1], _observed(view.element, FAR))

    # ---- set-up -----------------------------------------------------------------------
    def open(self, fetch: Fetch | None, timeline: Timeline, newest: Block | None) -> None:
        """A new history: `timeline` has just started with its newest page, `newest`. Over the
        server's first paint (the sentinel is there) the same HTML is adopted whole; on an empty
        canvas the newest page's last FIRST messages are drawn at once and the rest a task later."""
        self._near.disconnect()
        self._far.disconnect()
        self.timeline = timeline
        self.fetch = fetch
        h = self.view.element
        drawn = maybe(h.querySelector(f":scope > #{START_ID}")) is not None
        if drawn:
            adopt(h, render.opening_html(self.timeline, self.view.render))
        else:
            h.innerHTML = render.start_html(self.timeline.older is not None)
        self.start = h.querySelector(f":scope > #{START_ID}")
        self.start.querySelector("button").addEventListener("click", self._proxies[2])
        self._state()
        self._near.observe(self.start)
        if newest is not None and drawn:
            self._watch(newest)
        elif newest is not None:
            self.insert_newest(newest)

    def element(self, block: Block):
        return maybe(self.view.element.querySelector(f'.block[data-block="{block.key}"]'))

    # ---- blocks in and out of the DOM -----------------------------------------------------
    def insert(self, block: Block, *, oldest: bool = False, inner: str | None = None) -> None:
        """A new block: after the sentinel (an older page), or after the last block (live)."""
        inner = self.view.render(block.messages or []) if inner is None else inner
        html = render.block_html(block.key, inner, block.live)
        if oldest:
            self.view.keep_view(self.start, lambda: self.start.insertAdjacentHTML("afterend", html), above=True)
        else:
            pending = maybe(self.view.element.querySelector(":scope > .pending"))
            if pending is not None:
                pending.insertAdjacentHTML("beforebegin", html)
            else:
                self.view.element.insertAdjacentHTML("beforeend", html)
        self._watch(block)
        if block.live and len(self.timeline.blocks) > 1:
            self._look_again(self.timeline.blocks[-2])   # no longer the newest: it may become a spacer now

    def _look_again(self, block: Block) -> None:
        element = self.element(block) if block.shown else None
        if element is not None:
            self._far.unobserve(element)
            self._far.observe(element)     # observing anew reports where it is now

    def _watch(self, block: Block) -> None:
        """`block` is in the DOM with its messages: observed for going far and coming near."""
        element = self.element(block)
        self.timeline.shown(block)
        self._near.observe(element)
        self._far.observe(element)

    def insert_newest(self, block: Block) -> None:
        """The newest page at start-up: its last FIRST messages at once (a screen or more), the rest of
        the page above them a task later, so the newest are on screen as early as possible."""
        messages = block.messages or []
        self.insert(block, inner=self.view.render(messages[-FIRST:]))
        if len(messages) > FIRST:
            asyncio.ensure_future(self._draw_rest(block, messages[:-FIRST]))

    async def _draw_rest(self, block: Block, messages: list) -> None:
        await asyncio.sleep(0)
        element = self.element(block)
        if element is None or not block.shown:
            return   # a spacer by now: drawn whole when it comes near
        html = self.view.render(messages)
        self.view.keep_view(element, lambda: element.insertAdjacentHTML("afterbegin", html), above=True)

    def place(self, block: Block, message, before) -> None:
        """A live message went into `block` (before `before`, or at its end)."""
        element = self.element(block)
        if element is None:
            self.insert(block)       # a new block: its one message is rendered with it
            return
        if not block.shown:
            return                   # a spacer: the message is drawn when the block comes near
        html = self.view.render([message])
        anchor = maybe(element.querySelector(f"#msg-{CSS.escape(before.id)}")) if before is not None else None
        if anchor is not None:
            self.view.keep_view(anchor, lambda: anchor.insertAdjacentHTML("beforebegin", html))
        else:
            element.insertAdjacentHTML("beforeend", html)

    def redraw(self, message) -> None:
        """A message changed (an edit, a deletion): drawn again in place, if its block is in the DOM
        (a spacer draws the new copy when it comes near: the timeline holds it)."""
        node = maybe(self.view.element.querySelector(f".block #msg-{CSS.escape(message.id)}"))
        if node is not None:
            html = self.view.render([message])
            self.view.keep_view(node, lambda: setattr(node, "outerHTML", html))

    def _on_near(self, entries, _observer=None) -> None:
        for entry in entries:
            if not entry.isIntersecting:
                continue
            if entry.target.id == START_ID:
                self.older()
                continue
            block = self.timeline.find(int(entry.target.dataset.block))
            if block is not None and not block.shown:
                self._show(block, entry.target)

    def _on_far(self, entries, _observer=None) -> None:
        for entry in entries:
            block = None if entry.isIntersecting else self.timeline.find(int(entry.target.dataset.block))
            if block is not None and block.shown and not self.timeline.stays_shown(block):
                height = float(entry.target.getBoundingClientRect().height)
                self.view.keep_view(entry.target, functools.partial(_to_spacer, entry.target, height))
                self.timeline.hidden(block, height)
                self._far.unobserve(entry.target)   # spacers are watched only for coming near

    def _show(self, block: Block, element) -> None:
        if block.messages is None:
            asyncio.ensure_future(self._refill(block, element))
            return
        html = self.view.render(block.messages)
        self.view.keep_view(element, lambda: _fill(element, html))
        self.timeline.shown(block)
        self._far.observe(element)

    async def _refill(self, block: Block, element) -> None:
        """A dropped block comes near again: its page, fetched with the same token."""
        if block.key in self._refilling or self.fetch is None or block.token is None:
            return
        self._refilling.add(block.key)
        try:
            self.timeline.refill(block, await self.fetch(block.token))
        except BackendError as error:   # it stays a spacer; coming near again tries again
            console.warn(f"Attache: could not load messages again: {error.problem.message}")
            return
        finally:
            self._refilling.discard(block.key)
        if self._near_view(element) and not block.shown:
            self._show(block, element)

    # ---- older pages ----------------------------------------------------------------------
    def older(self) -> None:
        """Load the next older page if there is one and the sentinel is near."""
        if not self.loading and self.fetch is not None and self.timeline.older is not None:
            self.loading = True
            asyncio.ensure_future(self._load_older(self.fetch, self.timeline.older))

    async def _load_older(self, fetch: Fetch, token: str) -> None:
        self._state()
        try:
            page = await self._fetch_retrying(fetch, token)
        except BackendError as error:
            self.loading = False
            self._state(error)
            return
        block = self.timeline.prepend(token, page)
        if block is not None:
            # three short tasks, not one long one: the page, its HTML, the DOM (frames go on between)
            await asyncio.sleep(0)
            inner = self.view.render(block.messages or [])
            await asyncio.sleep(0)
            self.insert(block, oldest=True, inner=inner)
        self.loading = False
        self._state()
        if self._near_view(self.start):   # still near (a fast scroll up): the next one
            self.older()
        else:   # observed afresh: a scroll back up before the next frame would leave no change to report
            self._near.unobserve(self.start)
            self._near.observe(self.start)

    async def _fetch_retrying(self, fetch: Fetch, token: str) -> Page:
        """An older page, asked again on its own after a passing fault (a timeout, a dropped
        connection, 429, 5xx) as every other request of the page is (app.core.backoff): a busy
        machine or server should not leave the reader a "Try again" that a second later would work."""
        attempt = 0
        while True:
            try:
                return await fetch(token)
            except BackendError as error:
                attempt += 1
                allowed = error.retryable and POLICY.allows(attempt)
                delay = POLICY.delay(attempt, error.retry_after) if allowed else None
                if delay is None:
                    raise
                await asyncio.sleep(delay)

    def _retry(self, _event=None) -> None:
        self.older()

    def _state(self, error: BackendError | None = None) -> None:
        """The sentinel: hidden for a conversation shown whole at once, else what happens up there."""
        older, t = self.timeline.older, self.timeline
        self.start.hidden = t.at_start and not t.paged
        text = render.EARLIER_FAILED if error else render.EARLIER_NONE if older is None else render.EARLIER_LOADING
        span = self.start.querySelector(".history-start-text")
        if span.textContent != text:   # the first paint drew it so already: no mutation
            span.textContent = text
        self.start.querySelector("button").hidden = error is None

    def _near_view(self, element) -> bool:
        """Is `element` within NEAR (a screen) of what the reader sees?"""
        view = self.view.element.getBoundingClientRect()
        box = element.getBoundingClientRect()
        return box.bottom >= view.top - view.height and box.top <= view.bottom + view.height


def _observed(root: Any, margin: str) -> Any:
    """IntersectionObserver options: `root` is the scrolling history, `margin` how far around it counts."""
    return to_js({"root": root, "rootMargin": margin}, dict_converter=Object.fromEntries)


def _to_spacer(element, height: float) -> None:
    element.innerHTML = ""
    element.style.height = f"{height}px"


def _fill(element, html: str) -> None:
    element.innerHTML = html
    element.style.removeProperty("height")
