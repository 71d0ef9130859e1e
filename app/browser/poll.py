"""Live updates by long-poll (a conversation API whose `live` is "poll": Matrix `/sync`).

One request at a time: `api.poll_request(since)` waits at the server until
something happens (the transport waits longer than the server: the Request's
own timeout), and each answer says where the next poll continues. After a
network fault, a timeout or a 5xx the same `since` is asked again after the
page's one retry policy's wait (`app.core.backoff`; a 429's wait when the
server says it), so nothing is missed. A refusal that waiting cannot heal (the
token revoked, the room left) stops the feed and is said; `reconnect_now` (after
signing in again) starts it again from the same `since`.

What a batch brings is applied to the history: new messages (our own echo
included: it carries our idempotency key), edits (only by the original's
sender), deletions (both drawn again in place: HistoryView.replace), and --
when the server cut the timeline short -- the messages in the gap, fetched
with the history API first so the order holds.
"""
from __future__ import annotations

import asyncio
from collections.abc import Callable

from js import console

from app.backends.matrix.pages import SyncBatch, apply_edit, as_deleted
from app.browser.transport import Call, Cancelled, perform
from app.core.backoff import POLICY, backoff
from app.core.errors import BackendError
from app.core.models import Message, Problem

MAX_GAP_PAGES = 10  # a longer gap: the rest shows after a reload


class PollFeed:
    def __init__(self, api, on_message: Callable[[Message], None], on_problem: Callable[[Problem], None],
                 on_state: Callable[[str], None], history) -> None:
        """on_message gets each new message (the delivery view's `delivered`), on_problem the refusal
        the feed stopped for, on_state "live" or "reconnecting"; edits and deletions go to `history`
        (a HistoryView). As app.browser.live.LiveFeed: start(after_seq), stop(), reconnect_now()."""
        self.api = api
        self.on_message = on_message
        self.on_problem = on_problem
        self.on_state = on_state
        self.history = history
        self.since: str | None = None
        self.call = Call()
        self._started = False

    def start(self, after_seq: int | None = None) -> None:
        """Start polling; `after_seq` is not needed: the first /sync answers from now, and the
        history the start-up drew is checked against it by id."""
        self._started = True
        self._launch()

    def stop(self) -> None:
        self._started = False
        self.call.cancel()

    def reconnect_now(self) -> None:
        """Poll again now, from the same `since` (the user signed in again; a wait is cut short)."""
        if self._started:
            self._launch()

    def _launch(self) -> None:
        self.call.cancel()  # the poll in flight, or the wait before the next: it stands down
        self.call = call = Call()
        asyncio.ensure_future(self._run(call))

    async def _run(self, call: Call) -> None:
        attempt = 0
        while True:
            try:
                # After a failure, a poll that answers at once: "live" again as soon as it is true.
                request = (self.api.poll_request(self.since, timeout_ms=0) if attempt
                           else self.api.poll_request(self.since))
                batch = self._parse(await perform(request, call=call))
            except Cancelled:
                return
            except BackendError as error:
                if not error.retryable:
                    self.on_problem(error.problem)
                    return
                attempt += 1
                self.on_state("reconnecting")
                delay = POLICY.delay(attempt, error.retry_after) or backoff(attempt)
                try:
                    await call.sleep(delay)
                except Cancelled:
                    return
                continue
            attempt, first, self.since = 0, self.since is None, batch.next_since
            self.on_state("live")
            try:
                await self._apply(batch, first, call)
            except Cancelled:
                return
            except Exception as error:  # one unreadable batch must not stop the feed
                console.error(f"Attache: a live update could not be shown: {error!r}")

    def _parse(self, response) -> SyncBatch:
        if hasattr(self.api, "parse_sync"):
            return self.api.parse_sync(response)
        messages, since = self.api.parse_poll(response)
        return SyncBatch(tuple(messages), since)

    async def _apply(self, batch: SyncBatch, first: bool, call: Call) -> None:
        if batch.gap and not first:  # the first poll only confirms the history just loaded
            for message in await self._fill(batch.gap, call):
                self.on_message(message)
        for message in batch.messages:
            self.on_message(message)
        for edit in batch.edits:
            original = self.history.message(edit.id)
            edited = apply_edit(original, edit) if original is not None else None
            if edited is not None:
                self.history.replace(edited)
        for event_id in batch.deleted:
            original = self.history.message(event_id)
            if original is not None:
                self.history.replace(as_deleted(original))

    async def _fill(self, token: str, call: Call) -> list[Message]:
        """The messages the server left out of a cut-short batch, oldest first (back to one we have)."""
        found: list[Message] = []
        try:
            for _ in range(MAX_GAP_PAGES):
                page = self.api.parse_history(await perform(self.api.history_request(token), call=call))
                fresh = [m for m in page.messages if self.history.message(m.id) is None]
                found[:0] = fresh
                if len(fresh) < len(page.messages) or page.older is None:
                    break
                token = page.older
        except BackendError as error:
            console.warn(f"Attache: messages missed while offline could not be fetched ({error}); reload to see them")
        return found
