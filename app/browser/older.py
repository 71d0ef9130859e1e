"""Older history pages, fetched as the history view needs them.

A backend that answers the history in pages (Matrix `/messages`) gives the
newest page at start-up and a token for the one before it. More pages are
fetched while the history does not fill its box, and whenever the reader
scrolls near its top; each is put above what is shown without moving what
the reader is looking at.
"""
from __future__ import annotations

import asyncio
from typing import Callable

from pyscript import when

from app.browser.transport import perform
from app.core.errors import BackendError
from app.core.models import Problem

NEAR_TOP_PX = 400


class OlderPages:
    def __init__(self, api, history, on_problem: Callable[[Problem], None]) -> None:
        self.api = api
        self.history = history
        self.on_problem = on_problem
        self.token: str | None = None  # the page before the oldest shown; None: the beginning is shown
        self.loading = False

    def start(self, token: str | None) -> None:
        self.token = token
        if token is not None:
            when("scroll", self.history.element)(self._on_scroll)
            asyncio.ensure_future(self._more())

    def _on_scroll(self, _event=None) -> None:
        if self.token is not None and not self.loading and self.history.element.scrollTop < NEAR_TOP_PX:
            asyncio.ensure_future(self._more())

    async def _more(self) -> None:
        if self.loading:
            return
        self.loading = True
        try:
            while self.token is not None and self.history.element.scrollTop < NEAR_TOP_PX:
                page = self.api.parse_history(await perform(self.api.history_request(self.token)))
                self.token = page.older
                self.history.prepend(list(page.messages))
        except BackendError as error:  # a passing fault: the next scroll asks again
            if not error.retryable:
                self.token = None
                self.on_problem(error.problem)
        finally:
            self.loading = False
