"""Holding a page's upload chunks in flight, so a test can act while an upload is under way."""
from __future__ import annotations

from playwright.sync_api import Error as PlaywrightError, Page

from tools.waiting import page_pause, wait_until


def release(routes) -> None:
    """Abort requests a test held; a request its page already gave up on is settled."""
    for route in routes:
        try:
            route.abort()
        except PlaywrightError:
            pass


def wait_for(page: Page, condition, what: str) -> None:
    """Let the page run until `condition()` holds (Playwright's event loop serves routes meanwhile)."""
    wait_until(condition, what, 30, 0.1, page_pause(page))


class PatchHold:
    """Every PATCH to `pattern` is held (its URL noted); other requests go through.
    `end()` stops holding and aborts what was held."""

    def __init__(self, page: Page, pattern: str = "**/api/uploads/*") -> None:
        self.page, self.pattern = page, pattern
        self.held: list = []
        self.urls: list[str] = []
        page.route(pattern, self._route)

    def _route(self, route) -> None:
        if route.request.method == "PATCH":
            self.urls.append(route.request.url)
            self.held.append(route)
        else:
            route.continue_()

    def end(self) -> None:
        self.page.unroute(self.pattern)
        release(self.held)
