"""The conversation as it is shown: delivered messages oldest first, then our
pending ones, with the newest in view unless the agent scrolled up to read.

The newest page comes with the start-up; older pages load as the agent scrolls
up, and only the messages near the viewport are in the DOM (app.browser.blocks,
app.core.timeline). Each delivered message is shown once, whether it came with
the history, as the answer to our POST or from the live feed. Messages that
arrive while the tab is hidden are counted in its title. Times are shown in
the reader's zone as it was at each message's moment (JS Date knows the rules).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from js import Date, document
from pyscript import when

from app import render
from app.backends import HistoryPage
from app.browser.blocks import BlockWindow, Fetch
from app.browser.dom import Root, maybe
from app.core.models import Message
from app.core.timeline import Timeline

NEAR_BOTTOM_PX = 120
_offsets: dict[int, int] = {}


def reader_offset(moment: datetime) -> int:
    """The reader's offset to UTC (minutes east) at `moment`, from the browser's zone rules.
    Zones change offset on the hour or half hour: one answer per quarter hour is exact."""
    stamp = moment.timestamp()
    bucket = int(stamp // 900)
    if bucket not in _offsets:
        if len(_offsets) > 4096:
            _offsets.clear()
        _offsets[bucket] = -int(Date.new(bucket * 900_000).getTimezoneOffset())
    return _offsets[bucket]


class HistoryView:
    def __init__(self, root: Root, identity: str, names: dict[str, str]) -> None:
        self.element = root.by_id("history")
        self.empty_note = root.by_id("history-empty")
        self.identity = identity
        self.names = names
        self.protected_media = False  # attachment URLs need the token (Matrix): app.browser.protected_media
        self.timeline = Timeline()
        self.window = BlockWindow(self, self.timeline)
        self.pinned = True  # the history follows the newest message
        self._last_top = 0
        self.unread = 0  # messages that arrived while the tab was hidden
        self._title = str(document.title)
        self.on_added: Callable[[Message], None] = lambda message: None  # <attache-canvas> events

    def bind(self) -> None:
        when("scroll", self.element)(self._on_scroll)
        when("load", self.element, capture=True)(self._on_media_loaded)  # load does not bubble
        when("visibilitychange", document)(self._on_visibility)

    # ---- delivered messages ---------------------------------------------------
    def show_page(self, page: HistoryPage, fetch: Fetch | None = None) -> None:
        """The newest page, as the start-up loaded it; `fetch(token)` gets older pages."""
        self.timeline = Timeline()
        block = self.timeline.start(page)
        self.window.open(fetch, self.timeline, block)
        self.empty_note.hidden = block is not None or page.older is not None   # or the rest is loading
        self.scroll_to_end()

    def add(self, message: Message) -> bool:
        """Show a delivered message once, in seq order before our pending ones; False when already shown."""
        placed = self.timeline.add(message)
        if placed is None:
            return False
        self.empty_note.hidden = True
        block, before = placed
        self.window.place(block, message, before)
        mine = message.sender == self.identity
        if self.pinned or mine:
            self.scroll_to_end()
        if not mine and document.hidden:
            self.unread += 1
            document.title = f"({self.unread}) {self._title}"
        self.on_added(message)
        return True

    def update(self, messages: list[Message]) -> int:
        """Fresh copies of shown messages (new signed links): used whenever their block is drawn again."""
        return self.timeline.update(messages)

    def replace(self, message: Message) -> None:
        """A held message changed (edited, deleted): its new copy, drawn again in place if it is in the DOM."""
        if self.timeline.update([message]):
            self.window.redraw(message)

    def message(self, message_id: str) -> Message | None:
        """The message with this id, if the history holds it now."""
        return self.timeline.get(message_id)

    def shown_tokens(self) -> list[str]:
        """How to fetch again the older pages now in the DOM (for fresh links)."""
        return [b.token for b in self.timeline.blocks if b.shown and b.token is not None]

    def delivered_keys(self) -> set[str]:
        return self.timeline.recent_keys()

    def last_seq(self) -> int | None:
        return self.timeline.last_seq()

    def render(self, messages: Sequence[Message]) -> str:
        return render.messages_html(messages, self.identity, self.names, reader_offset, str(Date.new().toISOString()),
                                    protected_media=self.protected_media)

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
        # no scroll event when already there (the first paint opens at the end): a move up is judged from here
        self._last_top = self.element.scrollTop

    def keep_view(self, element, change, *, above: bool | None = None) -> None:
        """Run `change` (which resizes `element`) without moving what the reader sees: when the
        element starts above the visible top, the scroll position moves by as much as the content."""
        h = self.element
        if above is None:
            above = element.getBoundingClientRect().top < h.getBoundingClientRect().top
        before = h.scrollHeight
        change()
        if self.pinned:
            self.scroll_to_end()
        elif above:
            h.scrollTop = h.scrollTop + (h.scrollHeight - before)
            self._last_top = h.scrollTop

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
        """A thumbnail that loads may grow the history: keep the newest message in view."""
        if self.pinned:
            self.scroll_to_end()

    def _on_visibility(self) -> None:
        """The agent is back on the tab: the unread count in its title has done its job."""
        if not document.hidden and self.unread:
            self.unread = 0
            document.title = self._title
