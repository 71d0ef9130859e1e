"""The connection status, and the start-up that loads the rules and the history.

Start-up waits and asks again only when waiting can help (the network, a
timeout, 429, 5xx: `BackendError.retryable`), for as long as it takes, with
the page's one retry policy's waits (`app.core.backoff`: 1, 2, 4 ... 30 s).
A refusal that waiting cannot heal — a token the server does not accept, a
conversation that is not there — is named in the status and in a notice, and
the page stops asking.
"""
from __future__ import annotations

import asyncio

from app.backends import ConversationApi
from app.browser.notices import Notices
from app.browser.transport import perform
from app.core.backoff import backoff
from app.core.errors import BackendError
from app.core.models import Message, Problem
from app.core.restrictions import Restrictions

STARTUP = "startup"  # the key of the start-up notice
SESSION = "session"  # the key of the "signed out" notice
SIGNED_OUT = Problem("unauthorized", "You are signed out: the server no longer accepts your access token.",
                     "Sign in again; your draft and unsent messages are kept.")
# What the status says when start-up is refused for good; the notice says the rest.
REFUSED_LABELS = {"unauthorized": "Not authorised", "forbidden": "No access", "not_found": "Not found",
                  "not_in_room": "Not in the room", "room_not_found": "Not found"}


class ConnectionView:
    def __init__(self, element, notices: Notices) -> None:
        self.element = element
        self.notices = notices

    def show(self, state: str, label: str) -> None:
        """state: "live", "offline" or "refused" (the dot's colour); label: what it says."""
        self.element.dataset.state = state
        self.element.textContent = label

    def signed_out(self) -> None:
        """The token was refused (revoked, expired): say so once; nothing typed is lost."""
        self.show("refused", "Signed out")
        self.notices.clear(STARTUP)
        self.notices.show(SIGNED_OUT, key=SESSION)

    def on_live_state(self, state: str) -> None:
        """The live feed's "live" / "reconnecting"."""
        if state == "live":
            self.show("live", "Live")
        else:
            self.show("offline", "Reconnecting…")

    async def load(self, api: ConversationApi) -> tuple[Restrictions, list[Message], str | None] | None:
        """The rules, the newest history page and the token of the page before it, asking
        again while waiting may help; None when refused. An adapter with a setup step
        (Matrix: the room alias, who we are) does it first."""
        attempt = 0
        while True:
            try:
                await _setup(api)
                restrictions, (messages, older) = await asyncio.gather(_restrictions(api), _history(api))
            except BackendError as error:
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
            return restrictions, messages, older


async def _setup(api) -> None:
    setup = getattr(api, "setup_request", None)
    while setup is not None and (request := setup()) is not None:
        api.parse_setup(await perform(request))


async def _restrictions(api: ConversationApi) -> Restrictions:
    return api.parse_restrictions(await perform(api.restrictions_request()))


async def _history(api: ConversationApi) -> tuple[list[Message], str | None]:
    """The newest page, and the token of the page before it (app.browser.older fetches those)."""
    page = api.parse_history(await perform(api.history_request()))
    return list(page.messages), page.older
