"""The canvas: builds the views and wires them together; it does nothing else.

    ConnectionView   status pill; start-up: the adapter's setup step, rules and history
    HistoryView      delivered messages, pending bubbles' place, scrolling, unread count
    ComposerView     message box, attach/paste/drop, staged files, the draft
    DeliveryView     the outbox and each message's upload-then-post loop
    LiveFeed/PollFeed live updates: server-sent events (one stream for the page's canvases), or
                     long-poll (Matrix /sync), by `api.live`
    ProtectedMedia   media only the token may fetch (Matrix): shown as blob: URLs
    Previews         object URLs of local thumbnails (created and revoked there only)
    Persistence      the draft and the unsent messages, kept across reloads

Who we are (which messages are "You") is one value: the token's `sub` until
the adapter's setup step says otherwise (Matrix: the user id `whoami`
answers), set once after it. A refused token anywhere says "Sign in again"
in one place (app.browser.signin). Every DOM lookup goes through `root`
(app.browser.dom.Root), never `document`.
"""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import cast

from pyscript import when

from app.backends import Backend, HistoryPage, SetEvents
from app.browser import dropzone
from app.browser.composer_view import ComposerView
from app.browser.connection import REFUSED_LABELS, ConnectionView
from app.browser.delivery import DeliveryView
from app.browser.dom import Root
from app.browser.history import HistoryView
from app.browser.live import LiveFeed
from app.browser.notices import Notices
from app.browser.persistence import Persistence
from app.browser.poll import PollFeed
from app.browser.previews import Previews
from app.browser.protected_media import ProtectedMedia
from app.browser.storage import UnsentStore
from app.browser.transport import perform
from app.core.models import Problem


class Canvas:
    def __init__(self, root: Root, backend: Backend, identity: str, names: dict[str, str], store: UnsentStore) -> None:
        self.root = root
        self.backend = backend
        self.identity = identity
        self.notices = Notices(root.by_id("notices"))
        self.previews = Previews()
        self.keeper = Persistence(store)
        self.history = HistoryView(root, identity, names)
        self.delivery = DeliveryView(backend, self.history, self.previews, self.keeper)
        self.composer = ComposerView(root, self.previews, self.keeper, self.notices, self.delivery.send)
        self.connection = ConnectionView(root.by_id("connection"), self.notices)
        # A refused token: "Sign in again" (app/main.py hands it to its SignInView).
        self.on_signed_out: Callable[[Problem], None] = self.notices.show
        self.delivery.on_signed_out = self._problem
        api, on_state = backend.api, self.connection.on_live_state
        # Both feeds: start(after_seq), stop(), reconnect_now().
        self.live: PollFeed | LiveFeed
        if api.live == "poll":
            self.live = PollFeed(api, self.delivery.delivered, self._problem, on_state, self.history)
        else:   # an adapter whose live is not "poll" serves SetEvents (app.backends.api)
            self.live = LiveFeed(cast(SetEvents, api), api.conversation, self.delivery.delivered, self._problem,
                                 on_state, self.history.replace)   # e.g. a photo's thumbnail, made after its message
        self.media = ProtectedMedia(api, self.history, root, self._problem) if getattr(
            api, "media_needs_token", False) else None
        self.history.protected_media = self.media is not None
        self._identify(identity)

    async def start(self) -> None:
        """Take over the canvas drawn before Python ran (server or <attache-canvas>)."""
        self.history.bind()
        when("click", self.history.element)(self.delivery.on_click)
        if self.media is not None:
            self.media.bind()
        opening = asyncio.ensure_future(self.keeper.open())
        loaded = await self.connection.load(self.backend.api)
        self._history_known()
        if loaded is None:  # refused for good: the notice says why, the composer closes
            self.root.give_up()
            return
        restrictions, page = loaded
        self._identify(getattr(self.backend.api, "user_id", "") or self.identity)
        self.composer.apply(restrictions)
        self.history.show_page(page, self._older_page)
        await opening
        kept = await self.keeper.load()
        early = self.root.take_early()  # from here Python's handlers take the files: same task
        self.composer.bind()
        dropzone.install(self.root.element, self.root.by_id("drop-overlay"), self.composer.stage)
        await self.composer.take_over(kept.draft, early)
        self.delivery.restore(kept.messages)
        self.go_live()
        self.root.busy(False)

    def go_live(self) -> None:
        """Follow the conversation live from the last message shown: an empty history
        follows from its start (seq 0), so nothing sent meanwhile is missed."""
        self.live.start(self.history.last_seq() or 0)

    def _identify(self, identity: str) -> None:
        """Who we are: our messages' sender; where our unsent work is kept."""
        self.identity = self.history.identity = identity
        self.keeper.store.identity = identity
        self.root.element.dataset.identity = identity

    async def _older_page(self, token: str) -> HistoryPage:
        """An older page of the history, for the history view as the reader scrolls up."""
        api = self.backend.api
        return api.parse_history(await perform(api.history_request(token)))

    def _problem(self, problem: Problem) -> None:
        """What the live feed, a delivery or protected media met: a refused token reads "Sign in
        again"; a refusal the feed stopped for (not in the room any more) is named in the status."""
        if problem.code == "unauthorized":
            self.on_signed_out(problem)
            return
        self.notices.show(problem)
        if problem.code in REFUSED_LABELS:
            self.connection.show("refused", REFUSED_LABELS[problem.code])

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
            "media_urls": len(self.media) if self.media is not None else 0,      # blob: URLs of protected media
        }
