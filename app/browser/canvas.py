"""The canvas: builds the views and wires them together; it does nothing else.

    ConnectionView   status pill; start-up load of rules and history; "signed out"
    LiveFeed/PollFeed live updates: server-sent events, or long-poll (Matrix /sync)
    OlderPages       older history pages as the reader scrolls up (paged backends)
    ProtectedMedia   media that need the token (Matrix): fetched, shown as blob: URLs
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

from app.backends import Backend
from app.browser import dropzone
from app.browser.composer_view import ComposerView
from app.browser.connection import ConnectionView
from app.browser.delivery import DeliveryView
from app.browser.dom import Root
from app.browser.history import HistoryView
from app.browser.live import LiveFeed
from app.browser.notices import Notices
from app.browser.older import OlderPages
from app.browser.persistence import Persistence
from app.browser.poll import PollFeed
from app.browser.previews import Previews
from app.browser.protected_media import ProtectedMedia
from app.browser.storage import UnsentStore


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
        self.delivery.on_signed_out = self.connection.signed_out
        api = backend.api
        if api.live == "poll":
            self.live = PollFeed(api, self.history, self.delivery.delivered, self._problem, self._live_state)
        else:
            self.live = LiveFeed(api, self.delivery.delivered, self._problem, self.connection.on_live_state)
        self.older = OlderPages(api, self.history, self._problem)
        self.media = ProtectedMedia(api, self.history, root, self._problem) if getattr(
            api, "media_needs_token", False) else None
        self.history.protected_media = self.media is not None

    async def start(self) -> None:
        self.history.bind()
        self.composer.bind()
        when("click", self.history.element)(self.delivery.on_click)
        if self.media is not None:
            self.media.bind()
        dropzone.install(self.root.element, self.root.by_id("drop-overlay"), self.composer.stage)
        opening = asyncio.ensure_future(self.keeper.open())
        loaded = await self.connection.load(self.backend.api)
        if loaded is None:  # refused for good: the notice says why, the composer stays off
            return
        restrictions, messages, older = loaded
        self.composer.apply(restrictions)
        # Who am I: our messages' sender -- the backend's user id when it has one (Matrix), else the identity.
        self.history.identity = getattr(self.backend.api, "user_id", "") or self.history.identity
        self.history.show_all(messages)
        self.older.start(older)
        await opening
        kept = await self.keeper.load()
        self.composer.restore(kept.draft)
        self.delivery.restore(kept.messages)
        if isinstance(self.live, PollFeed):
            self.live.start()
        else:
            self.live.start(self.history.last_seq())
        self.composer.enable()
        self.root.busy(False)

    def _problem(self, problem) -> None:
        """A problem the live feed, older pages or media met: a refused token reads "Sign in again"."""
        if problem.code == "unauthorized":
            self.connection.signed_out()
        else:
            self.notices.show(problem)

    def _live_state(self, state: str) -> None:
        if state != "refused":  # a refusal is said by _problem
            self.connection.on_live_state(state)

    def diagnostics(self) -> dict:
        """For the benchmarks and tests: what the page holds (see app.browser.diagnostics)."""
        return {
            "messages": self.root.count("#history article.msg:not(.pending)"),
            "outbox": len(self.delivery.outbox.pending()),
            "object_urls": len(self.previews),
            "media_urls": len(self.media) if self.media is not None else 0,  # blob: thumbnails of protected media
        }
