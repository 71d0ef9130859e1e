"""A Twilio conversation's whole history, read from Twilio page by page as the agent scrolls up.

Why import into the store (rather than proxy each page): the page's paging
is keyset paging on `seq`, its live feed resumes from a seq, and its media
come through our server; a message read from Twilio once is stored once
(with its files ingested like any upload) and never fetched again. Where an
imported message goes in the seq order: history_rows.py.

The reader, per conversation, is one background task that works towards what
the requests asked for: the newest page read again when older than
REFRESH_SECONDS (webhooks keep it current in between), and enough older
messages for the deepest `before` asked. A request waits while the task makes
progress and returns what the store has as soon as the task has to wait for
Twilio (429 with Retry-After, a lost answer, 5xx): the page shows that, with
an `older` token, and its sentinel says earlier messages are loading; the
task goes on after the pause, so the next request finds them.

Classification of a message Twilio lists that the store lacks: if it is
newer than what was read before, or newer than a live message Twilio's
listing has not reached yet, it reached us late and is stored as the newest
(published live); otherwise it is history, stored below all the others.
The webhook and this reader hold the same lock per message SID and each looks
for the other's row first, so a message is stored once whoever comes first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from server.bridges.twilio.bridge import TwilioBridge, check_conversation
from server.bridges.twilio.history_rows import LIVE_BASE, HistoryRows, Imported, ReadState
from server.bridges.twilio.incoming import Ingest, fetch_media, refusal_notes
from server.bridges.twilio.listing import Listed, Passing, list_page
from server.http.api_error import ApiError

PAGE_SIZE = 100             # Twilio's list resources take up to 100 (issue: PageSize up to 100)
REFRESH_SECONDS = 30.0      # the newest page is read again at most this often
WAIT_SECONDS = 20.0         # a history request waits at most this long for Twilio
MAX_PAUSE = 60.0            # longest pause after a fault (Retry-After is honoured up to this)
MEDIA_AT_ONCE = 4
GIVE_UP = 8                 # faults in a row (about three minutes of pauses) before the reader stops trying
log = logging.getLogger("attache.twilio")


@dataclass
class Job:
    event: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task | None = None
    refresh: bool = False
    stalled: bool = False
    error: ApiError | None = None          # a fault that does not pass (credentials, no such conversation)
    target: tuple[int | None, int] | None = None   # (before, limit) of the deepest page asked for
    not_before: float = 0.0
    failures: int = 0
    media: dict[str, tuple[list[Any], list[dict[str, str]]]] = field(default_factory=dict)

    def signal(self) -> None:
        self.event.set()
        self.event = asyncio.Event()


class TwilioHistory:
    def __init__(self, bridge: TwilioBridge, rows: HistoryRows, ingest: Ingest,
                 ready: Callable[[list[Any]], Awaitable[None]], publish: Callable[[str, dict[str, Any]], None],
                 refresh_seconds: float = REFRESH_SECONDS) -> None:
        self.bridge, self.rows, self.ingest, self.ready, self.publish = bridge, rows, ingest, ready, publish
        self.refresh_seconds = refresh_seconds
        self.jobs: dict[str, Job] = {}

    async def aclose(self) -> None:
        tasks = [j.task for j in self.jobs.values() if j.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # -- what requests ask -------------------------------------------------------------
    async def ensure(self, cid: str, before: int | None, limit: int) -> None:
        """Wait (up to WAIT_SECONDS) until the store holds `limit` messages before `before` or the first
        message; return early, with whatever is there, when Twilio makes the reader pause."""
        check_conversation(cid)
        job = self.jobs.setdefault(cid, Job())
        state = self.rows.state(cid)
        if before is None and time.time() - state.refreshed_at >= self.refresh_seconds:
            job.refresh = True
        if job.target is None or (job.target[0] or 2**63) > (before or 2**63):
            job.target = (before, limit)
        if job.task is None:
            job.error = None
            job.task = asyncio.ensure_future(self._work(cid, job))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT_SECONDS
        while not ((before is not None or not job.refresh) and self._enough(cid, before, limit)):
            remaining = deadline - loop.time()
            if job.task is None or remaining <= 0:
                return
            try:
                await asyncio.wait_for(job.event.wait(), remaining)
            except TimeoutError:
                return
            if job.stalled:
                return

    def complete(self, cid: str) -> bool:
        return self.rows.state(cid).complete

    def failure(self, cid: str) -> ApiError | None:
        job = self.jobs.get(cid)
        return None if job is None else job.error

    def _enough(self, cid: str, before: int | None, limit: int) -> bool:
        return self.rows.state(cid).complete or self.rows.count_before(cid, before, limit) >= limit

    # -- the reader ----------------------------------------------------------------------
    async def _work(self, cid: str, job: Job) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                pause = job.not_before - loop.time()
                if pause > 0:
                    job.stalled = True
                    job.signal()
                    await asyncio.sleep(pause)
                    job.stalled = False
                state = self.rows.state(cid)
                try:
                    if job.refresh or not state.started:
                        await self._newest(cid, state, job)
                        job.refresh = False
                    elif not state.complete and job.target and not self._enough(cid, *job.target):
                        await self._older(cid, state, job)
                    else:
                        job.target = None
                        return
                except Passing as fault:
                    job.failures += 1
                    if job.failures >= GIVE_UP:    # no longer passing: the page offers to try again
                        log.warning("Twilio history of %s stopped after %d faults: %s", cid, job.failures,
                                    fault.error.code)
                        job.error, job.target, job.failures, job.not_before = fault.error, None, 0, 0.0
                        return
                    wait = fault.retry_after if fault.retry_after is not None else 2.0 ** (job.failures - 1)
                    job.not_before = loop.time() + min(MAX_PAUSE, wait)
                    log.info("Twilio history of %s paused %.1fs: %s", cid, wait, fault.error.code)
                    continue
                except ApiError as error:
                    log.warning("Twilio history of %s stopped: %s", cid, error.code)
                    job.error, job.target = error, None
                    return
                job.failures = 0
                job.signal()
        finally:
            job.task, job.stalled = None, False
            job.signal()

    async def _newest(self, cid: str, state: ReadState, job: Job) -> None:
        """The newest page (the first read), or every message since the last read (a refresh)."""
        url: str | None = self._first(cid)
        if not state.started:
            listed, state.cursor = await list_page(self.bridge, url or "")
            await self._import(cid, listed, state, job, newer=False)
            state.complete = state.cursor is None
        else:
            fresh: list[Listed] = []
            while url:
                listed, url = await list_page(self.bridge, url)
                new = [m for m in listed if state.newest_index is None or m.index > state.newest_index]
                fresh += new
                if len(new) < len(listed):
                    break
            await self._import(cid, fresh, state, job, newer=True)
        state.refreshed_at = time.time()
        self.rows.save(state)

    def _first(self, cid: str) -> str:
        return f"{self.bridge.settings.api_base_url}/v1/Conversations/{cid}/Messages?Order=desc&PageSize={PAGE_SIZE}"

    async def _older(self, cid: str, state: ReadState, job: Job) -> None:
        try:
            listed, following = await list_page(self.bridge, state.cursor or "")
        except ApiError as error:
            if error.code not in ("conversation_not_found", "twilio_refused") or state.cursor == self._first(cid):
                raise
            state.cursor = self._first(cid)   # a page link Twilio no longer knows: down again from the newest
            self.rows.save(state)             # (pages already read import nothing)
            return
        older = [m for m in listed if state.oldest_index is None or m.index < state.oldest_index]
        await self._import(cid, older, state, job, newer=False)
        state.cursor, state.complete = following, following is None
        self.rows.save(state)

    async def _import(self, cid: str, listed: list[Listed], state: ReadState, job: Job, *, newer: bool) -> None:
        """Store what the store lacks of `listed` (newest first), each once, in its place."""
        unmatched, oldest_live = self.rows.live_unmatched(cid)
        plan: list[tuple[Listed, bool]] = []         # (message, history?)
        for m in listed:
            held, first_live = self._held(cid, m)
            unmatched -= first_live
            if held:
                continue
            late = newer or (unmatched > 0 and oldest_live is not None and m.created_at >= oldest_live)
            plan.append((m, not late))
        async with contextlib.AsyncExitStack() as holds:
            for m, _ in plan:
                await holds.enter_async_context(self.bridge.incoming.hold(m.sid))
            plan = [(m, past) for m, past in plan if not self._held(cid, m)[0]]   # the webhook's, meanwhile
            media = await self._media(cid, job, [m for m, _ in plan])
            await self.ready([u for m, _ in plan for u in media[m.sid][0]])
            for m, past in plan:                      # history: newest first, each below the one before
                if past:
                    self.rows.insert(cid, self._imported(m, media[m.sid]), past=True)
            for m, past in reversed(plan):            # late: oldest first, each the newest
                if not past:
                    stored, created = self.rows.insert(cid, self._imported(m, media[m.sid]), past=False)
                    if created:
                        self.publish(cid, stored)
            for m, _ in plan:
                self.bridge.ledger.mark_processed("", m.sid)   # a webhook for it now is a duplicate
                job.media.pop(m.sid, None)
        indexes = [m.index for m in listed]
        if indexes:
            state.newest_index = max([*indexes, *([state.newest_index] if state.newest_index is not None else [])])
            state.oldest_index = min([*indexes, *([state.oldest_index] if state.oldest_index is not None else [])])

    def _held(self, cid: str, m: Listed) -> tuple[bool, bool]:
        """(is `m` stored already, is it a live message the listing reaches for the first time);
        recorded as seen either way, so it is never counted twice."""
        seq = self.rows.held(cid, m.sid, m.key)
        if seq is None:
            return False, False
        first = not self.rows.seq_seen(cid, seq)
        self.rows.seen(cid, m.sid, m.index, seq)
        return True, first and seq > LIVE_BASE

    async def _media(self, cid: str, job: Job, messages: list[Listed]) -> dict[str, tuple[list[Any], list[Any]]]:
        """Each message's uploads and refusals, MEDIA_AT_ONCE messages at a time; kept across a pause."""
        gate = asyncio.Semaphore(MEDIA_AT_ONCE)

        async def one(m: Listed) -> None:
            if m.sid in job.media:
                return
            async with gate:
                try:
                    job.media[m.sid] = await fetch_media(self.bridge, self.ingest, "twilio:" + m.author, m.media)
                except ApiError as error:
                    raise Passing(error) from None
        results = await asyncio.gather(*(one(m) for m in messages), return_exceptions=True)
        for r in results:
            if isinstance(r, BaseException):
                raise r
        return {m.sid: job.media[m.sid] for m in messages}

    @staticmethod
    def _imported(m: Listed, media: tuple[list[Any], list[Any]]) -> Imported:
        uploads, refused = media
        return Imported(m.sid, m.index, m.author, "agent" if m.key else "customer", refusal_notes(m.body, refused),
                        m.created_at, tuple(uploads))
