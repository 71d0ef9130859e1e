"""'Sign in again': what the page shows while it has no usable token, and the way back.

When the portal refuses to hand out a token (signed out, session over), or a
server refuses the token the page has (revoked: a Matrix sign-out elsewhere),
the page says so in one notice with a "Try again" button, and the status reads
"Signed out". Nothing else stops: the draft stays in the composer, and a
message sent meanwhile fails as "Not sent" with Retry, kept in IndexedDB like
any other. After signing in (in another tab), Try again fetches a token and
the live feed reconnects. At start-up the page waits here until it has a
first token, and until Try again when the server refuses the one it has.
"""
from __future__ import annotations

import asyncio

from pyscript import when

from app import render
from app.browser.auth import Session, SignedOut, Unavailable
from app.browser.dom import Root, closest
from app.core.backoff import backoff
from app.core.models import Problem
from app.core.token import TokenClaims

UNAVAILABLE = Problem("portal_unavailable", "The sign-in service could not be reached.",
                      "Check your connection, then choose Try again.")
NOTICE_ID = "signin"
ACTION = "sign-in-retry"
MAX_WAIT_S = 8.0


class SignInView:
    def __init__(self, root: Root, session: Session) -> None:
        self.root = root
        self.session = session
        self.container = root.by_id("notices")
        self.status = root.by_id("connection")
        self._retried: asyncio.Future | None = None
        self.signed_in_again: list = []  # callbacks once a token is back (the live feed reconnects)
        session.on_signed_out = self.show
        session.on_signed_in = self._signed_in
        when("click", self.container)(self._on_click)

    def show(self, problem: Problem) -> None:
        self.hide()
        self.container.insertAdjacentHTML(
            "beforeend", render.notice_html(NOTICE_ID, problem, action=ACTION, action_label="Try again"))
        self.status.dataset.state = "refused"
        self.status.textContent = "Signed out"

    def hide(self) -> None:
        node = self.root.by_id(f"notice-{NOTICE_ID}")
        if node is not None:
            node.remove()

    def _signed_in(self) -> None:
        self.hide()
        self.status.dataset.state = "connecting"
        self.status.textContent = "Connecting…"
        for callback in self.signed_in_again:
            callback()

    def _on_click(self, event) -> None:
        button = closest(event, f"[data-action='{ACTION}']")
        if button is None:
            return
        button.disabled = True
        if self._retried is not None and not self._retried.done():
            self._retried.set_result(None)  # start-up is waiting for this
        else:
            asyncio.ensure_future(self._retry())

    async def _retry(self) -> None:
        try:
            await self.session.renew()
        except SignedOut:
            return  # shown again by on_signed_out
        except Unavailable:
            self.show(UNAVAILABLE)
            return
        if self.root.by_id(f"notice-{NOTICE_ID}") is not None:
            self._signed_in()  # the same token (one the page was given): the live feed tries it again

    async def refused(self, problem: Problem) -> None:
        """Start-up met a token the server refuses: say so, keep the composer closed, and return
        once Try again (or a token handed over) has fetched a token to try."""
        self.root.hold_composer()
        self.show(problem)
        while True:
            self._retried = asyncio.get_running_loop().create_future()
            await self._wait_for_retry(self._retried)
            try:
                await self.session.renew()
                break
            except SignedOut:
                continue  # on_signed_out said so
            except Unavailable:
                self.show(UNAVAILABLE)
        self.hide()
        self.status.dataset.state = "connecting"
        self.status.textContent = "Connecting…"

    async def first_token(self) -> TokenClaims:
        """The first token: asked for until there is one (the user signs in, or the portal is back)."""
        attempt = 0
        while (claims := self.session.claims) is None:
            try:
                await self.session.renew()
            except SignedOut:
                self.root.hold_composer()  # no one to keep a draft for yet
                self._retried = asyncio.get_running_loop().create_future()
                await self._wait_for_retry(self._retried)
            except Unavailable:
                attempt += 1
                delay = min(backoff(attempt), MAX_WAIT_S)
                self.status.dataset.state = "offline"
                self.status.textContent = f"Sign-in service unavailable — retrying in {delay:g} s"
                await asyncio.sleep(delay)
        self.hide()
        return claims

    async def _wait_for_retry(self, retried: asyncio.Future) -> None:
        """Until Try again, or a token the embedding page hands over."""
        def handed() -> None:
            if self._retried is not None and not self._retried.done():
                self._retried.set_result(None)
        self.session.on_token.append(handed)
        try:
            await retried
        finally:
            self.session.on_token.remove(handed)
