"""Media that only the bearer token may fetch (Matrix authenticated media), shown as `blob:` URLs.

The history renders such attachments with no URL the browser would follow on
its own (`data-protected`, app/templates/_attachment.html). This view:
- fetches a thumbnail when its image comes near the screen and shows it as a
  `blob:` URL typed with the attachment's raster type (only raster images get
  an <img>; never SVG);
- revokes that URL as soon as its image leaves the page (a deleted message, a
  block of the history emptied into a spacer: app.browser.blocks), and fetches
  it again when the block is drawn again: a MutationObserver on the history
  watches both;
- on a click, fetches the file and opens it in a new tab only when it may open
  in place (`app.core.media.open_in_place`: the declared type, and the first
  bytes when they say otherwise), else downloads it with <a download>, typed
  application/octet-stream, so nothing runs from the page's own origin.
The bytes never enter Python: fetch -> Blob -> URL.createObjectURL.
"""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from js import URL, Blob, IntersectionObserver, MutationObserver, Object, console, document, setTimeout, window
from pyodide.ffi import create_proxy, jsnull, to_js
from pyscript import when

from app.browser.dom import closest, maybe
from app.browser.transport import fetch_blob
from app.core.errors import http_error
from app.core.http import Response
from app.core.media import open_in_place, opens_inline
from app.core.models import Attachment, Problem
from app.core.sniff import HEAD_SIZE, sniff

NEAR_SCREEN = "400px"  # start fetching a thumbnail this far before it scrolls into view
HANDED_OVER_MS = 60_000  # a new tab or a download has read its blob: URL long before this
WAITING = "img[data-protected]:not([data-watched])"


def _js(value: dict):
    return to_js(value, dict_converter=Object.fromEntries)


class ProtectedMedia:
    def __init__(self, api, history, root, on_problem: Callable[[Problem], None]) -> None:
        """api: media_request(attachment), thumbnail_request(attachment); history: a HistoryView."""
        self.api = api
        self.history = history
        self.root = root
        self.on_problem = on_problem
        self.shown: set[str] = set()  # blob: URLs of thumbnails on the page
        self._revoke = create_proxy(lambda url: URL.revokeObjectURL(url))
        self._near = IntersectionObserver.new(create_proxy(self._on_near),
                                              _js({"root": history.element, "rootMargin": NEAR_SCREEN}))
        self._changes = MutationObserver.new(create_proxy(self._on_changed))

    def bind(self) -> None:
        self._changes.observe(self.history.element, _js({"childList": True, "subtree": True}))
        when("click", self.history.element)(self._on_click)
        self._watch(self.history.element)

    def __len__(self) -> int:
        return len(self.shown)

    # ---- thumbnails ------------------------------------------------------------------
    def _watch(self, element) -> None:
        for img in element.querySelectorAll(WAITING):
            img.dataset.watched = "1"
            self._near.observe(img)

    def _on_changed(self, records, _observer=None) -> None:
        targets: list[Any] = []
        for record in records:
            if record.addedNodes.length and not any(t is record.target for t in targets):
                targets.append(record.target)
            if self.shown:
                for node in record.removedNodes:
                    self._release(node)
        for target in targets:
            if target.isConnected:
                self._watch(target)

    def _release(self, node) -> None:
        """A node left the page: revoke the blob: URLs its thumbnails showed (ours only)."""
        if node.nodeType != 1:
            return
        images = [node] if node.tagName == "IMG" else list(node.querySelectorAll("img[src^='blob:']"))
        for img in images:
            url = str(img.src)
            if url in self.shown:
                self.shown.discard(url)
                URL.revokeObjectURL(url)

    def _on_near(self, entries, observer=None) -> None:
        for entry in entries:
            if entry.isIntersecting:
                self._near.unobserve(entry.target)
                asyncio.ensure_future(self._show(entry.target))

    async def _show(self, img) -> None:
        attachment = self._attachment(img)
        if attachment is None:
            return
        try:
            requests = [r for r in (self.api.thumbnail_request(attachment), self.api.media_request(attachment)) if r]
        except ValueError as error:  # not this homeserver's media: never send the token there
            console.warn(f"Attache: {error}")
            return
        status, blob = 0, None
        for request in requests:  # the server's thumbnail, else the file itself
            status, blob = await fetch_blob(request, attachment.content_type)
            if blob is not None or status == 401:
                break
        if blob is None:
            img.dataset.state = "failed"
            if status == 401:
                self.on_problem(http_error(Response(401, {})).problem)
            return
        if img.isConnected:  # still on the page (not deleted meanwhile)
            url = str(URL.createObjectURL(blob))
            self.shown.add(url)
            img.src = url

    def _attachment(self, element) -> Attachment | None:
        article = maybe(element.closest("article"))
        message = self.history.message(str(article.id)[4:]) if article is not None else None
        try:
            return message.attachments[int(element.dataset.protected)] if message is not None else None
        except (ValueError, IndexError):
            return None

    # ---- open or download ----------------------------------------------------------------
    def _on_click(self, event) -> None:
        link = closest(event, "a[data-protected]")
        attachment = self._attachment(link) if link is not None else None
        if attachment is None:
            return
        event.preventDefault()
        # Opened now, while the click still counts as the user's: after the fetch a popup blocker would refuse.
        tab = maybe(window.open("", "_blank")) if opens_inline(attachment.content_type) else None
        asyncio.ensure_future(self._hand_over(attachment, tab))

    async def _hand_over(self, attachment: Attachment, tab) -> None:
        try:
            status, blob = await fetch_blob(self.api.media_request(attachment))
        except ValueError:
            status, blob = 404, None
        if blob is None:
            if tab is not None:
                tab.close()
            problem = http_error(Response(status, {})).problem if status in (0, 401) else Problem(
                "media_unavailable", f"{attachment.name} could not be fetched from the homeserver (HTTP {status}).",
                "Retry in a moment; if it keeps failing, the file may have been removed.")
            self.on_problem(problem)
            return
        head = (await blob.slice(0, HEAD_SIZE).arrayBuffer()).to_bytes()
        inline, content_type = open_in_place(attachment.content_type, sniff(head))
        url = URL.createObjectURL(Blob.new(to_js([blob]), _js({"type": content_type})))
        if inline and tab is not None:
            tab.opener = jsnull
            tab.location.href = url
        else:
            if tab is not None:
                tab.close()
            anchor = document.createElement("a")
            anchor.href, anchor.download, anchor.hidden = url, attachment.name, True
            self.root.element.appendChild(anchor)
            anchor.click()
            anchor.remove()
        setTimeout(self._revoke, HANDED_OVER_MS, url)
