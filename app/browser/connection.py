"""The connection status, and the start-up: the adapter's setup step, then the rules and the history.

Start-up waits and asks again only when waiting can help (the network, a
timeout, 429, 5xx: `BackendError.retryable`), for as long as it takes, with
the page's one retry policy's waits (`app.core.backoff`: 1, 2, 4 ... 30 s).
A token the server does not accept says "Sign in again" (`sign_in_again`,
app.browser.signin) and start-up goes on after Try again. Another refusal
that waiting cannot heal — a conversation that is not there, a room we are
not in — is named in the status and in a notice, and the page stops asking.
"""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from app.backends import ConversationApi, HistoryPage
from app.browser.notices import Notices
from app.browser.transport import perform
from app.core.backoff import backoff
from app.core.errors import BackendError
from app.core.models import Problem
from app.core.restrictions import Restrictions

STARTUP = "startup"  # the key of the start-up notice
# What the status says when start-up is refused for good; the notice says the rest.
REFUSED_LABELS = {"forbidden": "No access", "not_found": "Not found", "not_in_room": "Not in the room",
                  "room_not_found": "Not found"}


class ConnectionView:
    def __init__(self, element, notices: Notices) -> None:
        self.element = element
        self.notices = notices
        # A refused token: "Sign in again", returning after Try again (None: a refusal like any other).
        self.sign_in_again: Callable[[Problem], Awaitable[None]] | None = None

    def show(self, state: str, label: str) -> None:
        """state: "live", "offline" or "refused" (the dot's colour); label: what it says."""
        self.element.dataset.state = state
        self.element.textContent = label

    def on_live_state(self, state: str, label: str = "", hint: str = "") -> None:
        """The live feed's state: "live"; "connecting"; "reconnecting" or "offline" (the label may say more);
        "refused" with what to do ("Too many open tabs for this account: close one"), the hint
        (the details) in the status's description. It clears once live again."""
        if state == "live":
            self.show("live", "Live")
        elif state in ("refused", "connecting"):
            self.show(state, label or "Not connected")
        else:
            self.show("offline", label or "Reconnecting…")
        if hint:
            self.element.setAttribute("aria-description", hint)
            self.element.title = hint
        else:
            self.element.removeAttribute("aria-description")
            self.element.removeAttribute("title")

    async def load(self, api: ConversationApi) -> tuple[Restrictions, HistoryPage] | None:
        """The rules and the newest history page, asking again while waiting may help; None when
        refused. An adapter with a setup step (Matrix: the room alias, who we are) does it first."""
        attempt = 0
        while True:
            try:
                await _setup(api)
                restrictions, messages = await asyncio.gather(_restrictions(api), _history(api))
            except BackendError as error:
                if error.problem.code == "unauthorized" and self.sign_in_again is not None:
                    self.notices.clear(STARTUP)
                    await self.sign_in_again(error.problem)
                    attempt = 0
                    continue
                self.notices.show(error.problem, key=STARTUP)
                if not error.retryable:
                    self.show("refused", REFUSED_LABELS.get(error.problem.code, "Not connected"))
                    return None
                attempt += 1
                delay = backoff(attempt)
                what = "Offline" if error.status == 0 else "Server unavailable"
                self.show("offline", f"{what} — retrying in {delay:g} s")
                await asyncio.sleep(delay)
                continue
            self.notices.clear(STARTUP)
            return restrictions, messages


async def _setup(api: ConversationApi) -> None:
    """The adapter's start-up requests, when it has any (Matrix: resolve the alias, whoami)."""
    setup = getattr(api, "setup_request", None)
    while setup is not None and (request := setup()) is not None:
        api.parse_setup(await perform(request))  # type: ignore[attr-defined]  # comes with setup_request


async def _restrictions(api: ConversationApi) -> Restrictions:
    return api.parse_restrictions(await perform(api.restrictions_request()))


async def _history(api: ConversationApi) -> HistoryPage:
    """The newest page (older pages, as the reader scrolls up, are the history view's)."""
    return api.parse_history(await perform(api.history_request()))
