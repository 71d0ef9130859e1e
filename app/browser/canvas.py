"""The canvas: builds the views and wires them together; it does nothing else.

    ConnectionView   status pill; start-up load of rules and history
    HistoryView      delivered messages, pending bubbles' place, scrolling, unread count
    ComposerView     message box, attach/paste/drop, staged files, the draft
    DeliveryView     the outbox and each message's upload-then-post loop
    Previews         object URLs of local thumbnails (created and revoked there only)
    Persistence      the draft and the unsent messages, kept across reloads

Every DOM lookup goes through `root` (app.browser.dom.Root), never `document`.
"""
from __future__ import annotations

import asyncio

from pyscript import when

from app.backends import Backend, HistoryPage
from app.browser import dropzone
from app.browser.composer_view import ComposerView
from app.browser.connection import ConnectionView
from app.browser.delivery import DeliveryView
from app.browser.dom import Root
from app.browser.history import HistoryView
from app.browser.live import LiveFeed
from app.browser.notices import Notices
from app.browser.persistence import Persistence
from app.browser.previews import Previews
from app.browser.storage import UnsentStore
from app.browser.transport import perform


class Canvas:
    def __init__(self, root: Root, backend: Backend, identity: str, names: dict[str, str], store: UnsentStore) -> None:
        self.root = root
        self.backend = backend
        self.notices = Notices(root.by_id("notices"))
        self.previews = Previews()
        self.keeper = Persistence(store)
        self.history = HistoryView(root, identity, names)
        self.delivery = DeliveryView(backend, self.history, self.previews, self.keeper)
        self.composer = ComposerView(root, self.previews, self.keeper, self.notices, self.delivery.send)
        self.connection = ConnectionView(root.by_id("connection"), self.notices)
        self.live = LiveFeed(backend.api, self.delivery.delivered, self.notices.show, self.connection.on_live_state)

    async def start(self) -> None:
        """Take over the canvas drawn before Python ran (server or <attache-canvas>)."""
        self.history.bind()
        when("click", self.history.element)(self.delivery.on_click)
        opening = asyncio.ensure_future(self.keeper.open())
        loaded = await self.connection.load(self.backend.api)
        self._history_known()
        if loaded is None:  # refused for good: the notice says why, the composer closes
            self.root.give_up()
            return
        restrictions, page = loaded
        self.composer.apply(restrictions)
        self.history.show_page(page, self._older_page)
        await opening
        kept = await self.keeper.load()
        early = self.root.take_early()  # from here Python's handlers take the files: same task
        self.composer.bind()
        dropzone.install(self.root.element, self.root.by_id("drop-overlay"), self.composer.stage)
        await self.composer.take_over(kept.draft, early)
        self.delivery.restore(kept.messages)
        if self.backend.api.live == "sse":  # a long-poll feed (Matrix /sync) is not in the page yet
            self.live.start(self.history.last_seq())
        self.root.busy(False)

    async def _older_page(self, token: str) -> HistoryPage:
        """An older page of the history, for the history view as the reader scrolls up."""
        api = self.backend.api
        return api.parse_history(await perform(api.history_request(token)))

    def _history_known(self) -> None:
        loading = self.root.by_id("history-loading")
        if loading is not None:
            loading.hidden = True
        self.history.element.setAttribute("aria-busy", "false")

    def diagnostics(self) -> dict:
        """For the benchmarks and tests: what the page holds (see app.browser.diagnostics)."""
        return {
            "messages": self.root.count("#history article.msg:not(.pending)"),   # in the DOM
            "history_loaded": self.history.timeline.loaded(),                    # held in Python
            "outbox": len(self.delivery.outbox.pending()),
            "object_urls": len(self.previews),
        }
