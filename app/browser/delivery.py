"""Messages on their way: the outbox, the upload-then-post loop of each, and its
pending bubble (progress, Cancel; or "Not sent" with Retry and Remove).

The loop asks the outbox for the next step and performs it: `_upload` for a
file, `_post` for the message. `_upload` drives the uploader's sans-IO machine
(`app.core.upload`: tus, or one request): it performs each Request the machine
asks for, sleeps its Waits, and feeds it every answer. The machine's record
(a tus upload's URL and offset) is kept with the unsent message in IndexedDB
before any bytes leave, so after a Cancel, a failure or a reload, Retry
resumes from the server's offset. Removing a file (or the message) terminates
its upload on the server.
"""
from __future__ import annotations

import asyncio
from collections.abc import Callable

from js import console, performance

from app import render
from app.backends import Backend
from app.browser.dom import closest
from app.browser.history import HistoryView
from app.browser.persistence import Persistence
from app.browser.previews import Previews
from app.browser.transport import Call, Cancelled, perform
from app.core.backoff import POLICY
from app.core.composer import Draft, Staged
from app.core.errors import BackendError
from app.core.http import Request, Response
from app.core.models import FileInfo, Message, Problem, Uploaded
from app.core.outbox import Outbox, Outgoing, PostMessage, Status, UploadFile
from app.core.upload import Failed, Finished, UploadMachine, Wait


def start(coroutine) -> asyncio.Task:
    """Run `coroutine` at once up to its first wait (Python 3.12+ eager start), so a message's first
    request leaves before the browser draws its bubble: `ensure_future` would wait a turn of the
    event loop, a frame's rendering included (~10 ms on the upload benchmark)."""
    return asyncio.Task(coroutine, loop=asyncio.get_event_loop(), eager_start=True)  # type: ignore[call-arg]  # 3.12+


CANCELLED = Problem("cancelled", "You cancelled the upload.", "Retry to send it, or remove the attachment.")
UNEXPECTED = Problem("unexpected", "Something went wrong while sending.", "Retry to send it again.")


class DeliveryView:
    def __init__(self, backend: Backend, history: HistoryView, previews: Previews, keeper: Persistence) -> None:
        self.api = backend.api
        self.uploader = backend.uploader
        self.history = history
        self.previews = previews
        self.keeper = keeper
        self.outbox = Outbox()
        self.calls: dict[str, Call] = {}  # the request in flight of each message being delivered
        self.on_failed = lambda problem: None  # <attache-canvas>'s attache-error (app/browser/portal.py)
        self.on_signed_out: Callable[[Problem], None] = lambda problem: None  # a send met a refused token

    # ---- what the other views call ---------------------------------------------------
    def send(self, draft: Draft) -> Outgoing:
        """Queue what the composer took, show it pending, keep it, and start delivering it."""
        outgoing = self.outbox.add(draft)
        self._render(outgoing.local_id)
        self._keep(outgoing.local_id)
        start(self._deliver(outgoing.local_id))
        return outgoing

    def delivered(self, message: Message) -> None:
        """A delivered message (our POST's answer or the live feed): if it is ours it leaves
        the outbox, its pending bubble, its previews and its kept copy; all are shown once."""
        mine = self.outbox.on_echo(message)
        if mine is not None:
            self._forget(mine)
        self.history.add(message)

    def restore(self, messages: list[tuple[str, dict, list]]) -> None:
        """Bring back the messages a reload interrupted, as failed, unless they did arrive."""
        arrived = self.history.delivered_keys()
        for key, record, handles in messages:
            try:
                if record.get("idempotency_key") in arrived:
                    self.keeper.forget(key)
                    continue
                self.outbox.restore(record, handles)
                self._render(key)
            except (ValueError, KeyError, TypeError, AttributeError):
                self.keeper.forget(key)

    def on_click(self, event) -> None:
        """Retry, Cancel, Remove attachment and Discard on a pending message."""
        button = closest(event, "button[data-action]")
        outgoing = self.outbox.find(button.dataset.local) if button is not None else None
        if outgoing is None:
            return
        local_id, action = outgoing.local_id, button.dataset.action
        failed = outgoing.status == Status.FAILED  # a double click must not act twice
        if action == "retry" and failed:
            self.outbox.retry(local_id)
            self._render(local_id)
            start(self._deliver(local_id))
        elif action == "cancel" and local_id in self.calls:
            self.calls[local_id].cancel()
        elif action == "remove-attachment" and failed:
            index = int(button.dataset.index or 0)
            if 0 <= index < len(outgoing.files):
                removed = outgoing.files[index]
                self._terminate(removed.info, self.outbox.remove_attachment(local_id, index))
                self.previews.release([removed])
                self._render(local_id)
                self._keep(local_id)
        elif action == "discard" and failed:
            for index, staged in enumerate(outgoing.files):
                self._terminate(staged.info, outgoing.uploads.get(index))
            self.outbox.discard(local_id)
            self._forget(outgoing)

    # ---- the delivery loop -----------------------------------------------------------
    async def _deliver(self, local_id: str) -> None:
        call = self.calls[local_id] = Call()
        try:
            while (step := self.outbox.next_step(local_id)) is not None:
                self._render(local_id)
                if isinstance(step, UploadFile):
                    uploaded = await self._upload(local_id, step, call)
                    self.outbox.on_uploaded(local_id, step.index, uploaded)
                elif isinstance(step, PostMessage):
                    self.delivered(await self._post(local_id, step.files, call))
        except BackendError as error:
            self._fail(local_id, error.problem)
        except Cancelled:
            self._fail(local_id, CANCELLED)
        except Exception as error:  # a bug must not leave the message spinning forever
            console.error(f"Attache: sending failed unexpectedly: {error!r}")
            self._fail(local_id, UNEXPECTED)
        finally:
            self.calls.pop(local_id, None)

    async def _upload(self, local_id: str, step: UploadFile, call: Call) -> Uploaded:
        """Upload file `step.index` of the message, resuming `step.record` where the server stands."""
        index, file = step.index, self.outbox.get(local_id).files[step.index]
        machine = self.uploader.begin(file.info, step.record)
        while not isinstance(next_step := machine.next(), (Finished, Failed)):
            if isinstance(next_step, Wait):
                await call.sleep(next_step.seconds)
                continue
            self._progress(local_id, index, machine.confirmed, machine.to_record())
            self._keep(local_id)  # before the bytes leave: a reload resumes this upload
            started = performance.now()
            if machine.creating():
                response = await self._create(local_id, file, machine, next_step, call)
            else:
                response = await perform(next_step, file.handle, call)
            machine.feed(response, elapsed=(performance.now() - started) / 1000)
            self._progress(local_id, index, machine.confirmed, machine.to_record())
        if isinstance(next_step, Failed):
            raise BackendError(next_step.problem, next_step.retryable)
        return next_step.uploaded

    async def _create(self, local_id: str, file: Staged, machine: UploadMachine, request: Request,
                      call: Call) -> Response:
        """Create the upload where a Cancel cannot abort it: the server would hold an upload nobody knows
        (counted against the agent's open uploads until it expires). After a Cancel the creation goes on;
        its answer is kept with the failed message, for Retry, or the upload freed (`_adopt`)."""
        creation = start(perform(request, file.handle))
        cancelled = asyncio.ensure_future(call.until_cancelled())
        await asyncio.wait([creation, cancelled], return_when=asyncio.FIRST_COMPLETED)
        cancelled.cancel()
        if creation.done():
            return creation.result()
        kept = machine.to_record()
        creation.add_done_callback(lambda done: self._adopt(local_id, file, machine, kept, done))
        raise Cancelled()

    def _adopt(self, local_id: str, file: Staged, machine: UploadMachine, kept: dict, done: asyncio.Future) -> None:
        """A creation answered after its message was cancelled: Retry goes on with its upload, or it is freed."""
        if done.cancelled() or done.exception() is not None:
            return
        machine.feed(done.result())
        record = machine.to_record()
        if self.outbox.adopt_upload(local_id, file, record, replacing=kept):
            self._keep(local_id)
        elif not self.outbox.delivering(local_id, file):
            self._terminate(file.info, record)

    def _terminate(self, info: FileInfo, record: dict | None) -> None:
        """A file left its message before it was sent: free the server's copy (tus DELETE), fire and forget."""
        request = self.uploader.begin(info, record).discard() if record else None
        if request is not None:
            asyncio.ensure_future(perform(request))

    async def _post(self, local_id: str, files: tuple[Uploaded, ...], call: Call) -> Message:
        """Post the message. Only a server's "slow down" (429) is waited out and asked again on
        its own (the same idempotency key: never twice); other failures show Retry at once."""
        outgoing = self.outbox.get(local_id)
        request = self.api.send_request(outgoing.text, files, outgoing.idempotency_key)
        attempt = 0
        while True:
            try:
                return self.api.parse_message(await perform(request, call=call), request)
            except BackendError as error:
                attempt += 1
                delay = POLICY.delay(attempt, error.retry_after) if POLICY.allows(attempt) else None
                if error.status != 429 or delay is None:
                    raise
                await call.sleep(delay)

    def _fail(self, local_id: str, problem: Problem) -> None:
        self.outbox.on_failed(local_id, problem)  # ignored when the message was delivered meanwhile
        if problem.code == "unauthorized":
            self.on_signed_out(problem)
        if self.outbox.find(local_id) is not None:
            self._render(local_id)
            self._keep(local_id)
            self.on_failed(problem)

    def _progress(self, local_id: str, index: int, sent: int, record: dict) -> None:
        """Note the upload's progress and record; move the bar in place (re-rendering would steal focus from Cancel)."""
        self.outbox.on_progress(local_id, index, sent, record)
        outgoing = self.outbox.find(local_id)
        bar, label = self.history.pending_part(local_id, "progress"), self.history.pending_part(local_id, ".status")
        if outgoing is None or bar is None or label is None:
            return self._render(local_id)
        bar.value = render.percent(outgoing)
        label.textContent = render.status_label(outgoing)
        announce, text = self.history.pending_part(local_id, ".announce"), render.progress_announcement(outgoing)
        if announce is not None and announce.textContent != text:  # only at 25% steps: heard, not chatter
            announce.textContent = text

    # ---- showing and keeping -----------------------------------------------------------
    def _render(self, local_id: str) -> None:
        outgoing = self.outbox.find(local_id)
        if outgoing is None:  # emptied by removing its last file, or delivered
            self.history.remove_pending(local_id)
            self.keeper.forget(local_id)
            return
        self.history.put_pending(local_id, render.pending_html(outgoing, self.previews.urls(outgoing.files)))

    def _keep(self, local_id: str) -> None:
        outgoing = self.outbox.find(local_id)
        if outgoing is not None:
            self.keeper.keep_message(self.outbox.to_record(local_id), outgoing.files)

    def _forget(self, outgoing: Outgoing) -> None:
        """A message delivered or given up: nothing of it stays on the page but the history."""
        self.history.remove_pending(outgoing.local_id)
        self.previews.release(outgoing.files)
        self.keeper.forget(outgoing.local_id)
