"""The conversation as it is shown: delivered messages oldest first, then our
pending ones, with the newest in view unless the agent scrolled up to read.

Each delivered message is shown once, whether it came with the history, as the
answer to our POST or from the live feed. Messages that arrive while the tab
is hidden are counted in its title.
"""
from __future__ import annotations

from js import CSS, Date, document
from pyscript import when

from app import render
from app.browser.dom import Root, maybe
from app.core.models import Message

NEAR_BOTTOM_PX = 120


def reader_clock() -> tuple[int, str]:
    """The browser's offset to UTC (minutes) and the current time, for message times."""
    now = Date.new()
    return -int(now.getTimezoneOffset()), str(now.toISOString())


class HistoryView:
    def __init__(self, root: Root, identity: str, names: dict[str, str]) -> None:
        self.element = root.by_id("history")
        self.empty_note = root.by_id("history-empty")
        self.identity = identity
        self.names = names
        self.delivered: dict[str, Message] = {}
        self.protected_media = False  # attachment URLs need the token (Matrix): app.browser.protected_media
        self.pinned = True  # the history follows the newest message
        self._last_top = 0
        self.unread = 0  # messages that arrived while the tab was hidden
        self._title = str(document.title)

    def bind(self) -> None:
        when("scroll", self.element)(self._on_scroll)
        when("load", self.element, capture=True)(self._on_media_loaded)  # load does not bubble
        when("visibilitychange", document)(self._on_visibility)

    # ---- delivered messages ---------------------------------------------------
    def show_all(self, messages: list[Message]) -> None:
        """The history as the server sent it at start-up."""
        for message in messages:
            self.delivered[message.id] = message
        self.element.innerHTML = self._html(messages)
        self.empty_note.hidden = bool(messages)
        self.scroll_to_end()

    def add(self, message: Message) -> bool:
        """Show a delivered message once, before our pending ones; False when already shown."""
        if message.id in self.delivered:
            return False
        self.delivered[message.id] = message
        self.empty_note.hidden = True
        html = self._html([message])
        first_pending = maybe(self.element.querySelector(".pending"))
        if first_pending is not None:
            first_pending.insertAdjacentHTML("beforebegin", html)
        else:
            self.element.insertAdjacentHTML("beforeend", html)
        mine = message.sender == self.identity
        if self.pinned or mine:
            self.scroll_to_end()
        if not mine and document.hidden:
            self.unread += 1
            document.title = f"({self.unread}) {self._title}"
        return True

    def prepend(self, messages: list[Message]) -> None:
        """An older page above what is shown, keeping in place what the reader is looking at."""
        fresh = [m for m in messages if m.id not in self.delivered]
        if not fresh:
            return
        for message in fresh:
            self.delivered[message.id] = message
        h = self.element
        height = h.scrollHeight
        h.insertAdjacentHTML("afterbegin", self._html(fresh))
        h.scrollTop += h.scrollHeight - height
        self._last_top = h.scrollTop
        self.empty_note.hidden = True

    def replace(self, message: Message) -> None:
        """A shown message changed (edited, deleted): draw it again in its place."""
        if message.id not in self.delivered:
            return
        self.delivered[message.id] = message
        node = maybe(self.element.querySelector("#" + CSS.escape(f"msg-{message.id}")))
        if node is not None:
            node.outerHTML = self._html([message])

    def _html(self, messages: list[Message]) -> str:
        return render.messages_html(messages, self.identity, self.names, *reader_clock(),
                                    protected_media=self.protected_media)

    def delivered_keys(self) -> set[str]:
        return {m.idempotency_key for m in self.delivered.values() if m.idempotency_key}

    def last_seq(self) -> int | None:
        return max((m.seq for m in self.delivered.values()), default=None)

    # ---- pending messages (their HTML comes from the delivery view) ------------------
    def put_pending(self, local_id: str, html: str) -> None:
        """Replace a pending message's bubble, or add it at the end."""
        node = self.pending_part(local_id)
        if node is None:
            self.element.insertAdjacentHTML("beforeend", html)
            self.scroll_to_end()
        else:
            node.outerHTML = html

    def pending_part(self, local_id: str, selector: str = ""):
        """A pending message's node, or an element inside it (`selector`), or None."""
        return maybe(self.element.querySelector(f"#out-{local_id} {selector}".strip()))

    def remove_pending(self, local_id: str) -> None:
        node = self.pending_part(local_id)
        if node is not None:
            node.remove()

    # ---- scrolling and the tab's title ------------------------------------------------
    def scroll_to_end(self) -> None:
        self.element.scrollTop = self.element.scrollHeight
        self.pinned = True

    def _on_scroll(self) -> None:
        """Stay pinned to the newest message unless the agent scrolled up to read.

        Only a move up unpins: content growing below (a thumbnail loading) also
        fires scroll events, and must not."""
        h = self.element
        top = h.scrollTop
        if top < self._last_top - 1:
            self.pinned = False
        if h.scrollHeight - top - h.clientHeight < NEAR_BOTTOM_PX:
            self.pinned = True
        self._last_top = top

    def _on_media_loaded(self) -> None:
        """A thumbnail that loads grows the history: keep the newest message in view."""
        if self.pinned:
            self.scroll_to_end()

    def _on_visibility(self) -> None:
        """The agent is back on the tab: the unread count in its title has done its job."""
        if not document.hidden and self.unread:
            self.unread = 0
            document.title = self._title
