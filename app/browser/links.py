"""Attachment links that outlive their signature: fetched again and swapped in place.

Media links expire (`[auth] media_link_ttl`), and a page may stay open for
days. Before the first shown link ends (while the tab is visible), when the
tab is shown again after that time, or when a picture fails to load, the page
asks for the history again and puts each file's new URL into the `href`/`src`
that showed the old one. Nothing is re-rendered: the scroll position, focus
and a half-read conversation stay as they were.
"""
from __future__ import annotations

import asyncio

from js import Date, document
from pyscript import when

from app.browser.history import HistoryView
from app.browser.transport import perform
from app.core.errors import BackendError
from app.core.links import MIN_GAP_S, expiry, file_key, fresh_links, next_check

_LINKED = "a[href], img[src]"


def _now() -> float:
    return float(Date.now()) / 1000


class LinkRefresher:
    def __init__(self, history: HistoryView, api) -> None:
        self.history = history
        self.api = api
        self._last = 0.0  # when we last asked (browser clock)
        self._running: asyncio.Future | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._due = False  # the timer came while the tab was hidden

    def bind(self) -> None:
        when("error", self.history.element, capture=True)(self._on_error)  # error does not bubble
        when("visibilitychange", document)(self._on_visibility)
        self.schedule()

    def _elements(self):
        return self.history.element.querySelectorAll(_LINKED)

    def _urls(self) -> list[str]:
        urls = []
        for element in self._elements():
            urls.append(str(element.getAttribute("src" if element.tagName == "IMG" else "href")))
        return urls

    def schedule(self) -> None:
        """Ask again shortly before the first shown link ends."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        delay = next_check(self._urls(), _now())
        if delay is not None:
            self._timer = asyncio.get_running_loop().call_later(max(delay, MIN_GAP_S), self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        if document.hidden:
            self._due = True  # the tab shown again will ask (_on_visibility)
            return
        self.refresh()

    def _on_visibility(self) -> None:
        if document.hidden:
            return
        delay = next_check(self._urls(), _now())
        if self._due or (delay is not None and delay < MIN_GAP_S):
            self.refresh()

    def _on_error(self, event) -> None:
        """A picture that did not load: if its link has run out, fresh links fix it."""
        target = event.target
        if getattr(target, "tagName", "") != "IMG":
            return
        if expiry(str(target.getAttribute("src") or "")) is not None:
            self.refresh()

    def refresh(self) -> None:
        if self._running is not None and not self._running.done():
            return
        if _now() - self._last < MIN_GAP_S:
            return  # a broken picture must not make us ask in a loop
        self._last, self._due = _now(), False
        self._running = asyncio.ensure_future(self._refresh())

    async def _refresh(self) -> None:
        """The newest page, and the older pages shown now (their blocks know how to fetch them again)."""
        messages = []
        try:
            for token in [None, *self.history.shown_tokens()]:
                messages += self.api.parse_history(await perform(self.api.history_request(token))).messages
        except BackendError:
            self.schedule()
            return
        self.patch(fresh_links(messages))
        self.history.update(messages)
        self.schedule()

    def patch(self, fresh: dict[str, str]) -> int:
        """Swap old links for `fresh` ones (file key -> URL) in the DOM, in place; how many changed.
        (The messages behind hidden blocks get their fresh copies through `HistoryView.update`.)"""
        changed = 0
        for element in self._elements():
            attribute = "src" if element.tagName == "IMG" else "href"
            old = str(element.getAttribute(attribute))
            new = fresh.get(file_key(old))
            if new is not None and new != old:
                element.setAttribute(attribute, new)
                changed += 1
        return changed
