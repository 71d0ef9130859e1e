"""The canvas: mounts history and composer, routes DOM events to the core.

Every handler is a few lines: read the event, call the core (Composer,
Outbox, the backend adapter), re-render from state. Only this package
touches the DOM or the network.
"""
from __future__ import annotations

import asyncio

from js import URL, Date, console, document
from pyscript import when

from app import render
from app.backends.base import Backend, BackendError
from app.browser import dropzone
from app.browser.dom import by_id, closest, maybe, query
from app.browser.live import LiveFeed
from app.browser.notices import Notices, combine
from app.browser.storage import COMPOSER, UnsentStore
from app.browser.transport import Call, Cancelled, perform
from app.browser.uploader import upload_file
from app.core.composer import Composer
from app.core.models import FileInfo, Message, Problem
from app.core.outbox import Outbox, PostMessage, Status, UploadFile
from app.core.restrictions import Restrictions
from app.core.sniff import HEAD_SIZE

STARTUP_RETRY_S = (1, 2, 4, 8)
CANCELLED = Problem("cancelled", "You cancelled the upload.", "Retry to send it, or remove the attachment.")
NEAR_BOTTOM_PX = 120
STAGING = "staging"  # the notice about the files the agent last tried to attach


def reader_clock() -> tuple[int, str]:
    """The browser's offset to UTC (minutes) and the current time, for message times."""
    now = Date.new()
    return -int(now.getTimezoneOffset()), str(now.toISOString())


class Canvas:
    def __init__(self, backend: Backend, identity: str, names: dict[str, str], store: UnsentStore) -> None:
        self.backend = backend
        self.store = store
        self.identity = identity
        self.names = names
        self.composer = Composer(Restrictions())
        self.outbox = Outbox()
        self.delivered: dict[str, Message] = {}
        self.calls: dict[str, Call] = {}
        self.unread = 0  # messages that arrived while the tab was hidden
        self.title = str(document.title)
        self.pinned = True  # the history follows the newest message
        self.last_scroll_top = 0
        self.staged_previews: dict[int, str] = {}
        self.pending_previews: dict[str, dict[int, str]] = {}
        self.history = by_id("history")
        self.text = by_id("message")
        self.send_button = by_id("send")
        self.attach_button = by_id("attach")
        self.file_input = by_id("file-input")
        self.staged = by_id("staged")
        self.notices = Notices(by_id("notices"))
        self.connection = by_id("connection")
        self.live = LiveFeed(self.backend.events_url, self._on_live_data, self._on_connection)

    # ---- start-up -------------------------------------------------------
    async def start(self) -> None:
        self._bind()
        opening = asyncio.ensure_future(self.store.open())
        attempt = 0
        while True:
            try:
                restrictions, messages = await asyncio.gather(self._fetch_restrictions(), self._fetch_history())
                break
            except BackendError as error:
                delay = STARTUP_RETRY_S[min(attempt, len(STARTUP_RETRY_S) - 1)]
                self._set_connection("offline", f"Offline — retrying in {delay} s")
                self.notices.show(error.problem, key="startup")
                attempt += 1
                await asyncio.sleep(delay)
        self.notices.clear("startup")
        self.composer = Composer(restrictions)
        self._apply_restrictions(restrictions)
        self._show_history(messages)
        await opening
        await self._restore_unsent()
        self.live.start(max((m.seq for m in messages), default=None))
        self.text.placeholder = "Write a message…"
        for control in (self.text, self.attach_button):
            control.disabled = False
        by_id("attache").setAttribute("aria-busy", "false")
        self._refresh_send()

    async def _fetch_restrictions(self) -> Restrictions:
        response = await perform(self.backend.restrictions_request())
        return self.backend.parse_restrictions(response)

    async def _fetch_history(self) -> list[Message]:
        response = await perform(self.backend.history_request())
        return self.backend.parse_history(response)

    def _apply_restrictions(self, restrictions: Restrictions) -> None:
        accept = restrictions.accept_attribute()
        if accept:
            self.file_input.setAttribute("accept", accept)
        self.file_input.multiple = restrictions.max_files_per_message > 1
        by_id("restrictions-hint").textContent = restrictions.describe_limit()

    # ---- events ---------------------------------------------------------
    def _bind(self) -> None:
        when("click", self.attach_button)(lambda: self.file_input.click())
        when("change", self.file_input)(self._on_file_input)
        when("input", self.text)(self._on_text)
        when("keydown", self.text)(self._on_key)
        when("paste", self.text)(self._on_paste)
        when("submit", by_id("composer"))(self._on_submit)
        when("click", self.staged)(self._on_staged_click)
        when("click", self.history)(self._on_history_click)
        when("scroll", self.history)(self._on_scroll)
        when("visibilitychange", document)(self._on_visibility)
        when("load", self.history, capture=True)(self._on_media_loaded)  # load does not bubble
        dropzone.install(by_id("attache"), by_id("drop-overlay"), self._stage_files)

    def _on_text(self, _event) -> None:
        self.composer.set_text(self.text.value)
        self._refresh_send()
        self._keep_composer()

    def _on_key(self, event) -> None:
        if event.key == "Enter" and not (event.shiftKey or event.isComposing):
            event.preventDefault()
            self._send()

    def _on_submit(self, event) -> None:
        event.preventDefault()
        self._send()

    async def _on_file_input(self, _event) -> None:
        files = list(self.file_input.files)
        self.file_input.value = ""  # so picking the same file again fires "change"
        await self._stage_files(files)

    async def _on_paste(self, event) -> None:
        clipboard = maybe(event.clipboardData)
        files = list(clipboard.files) if clipboard is not None else []
        if files:
            event.preventDefault()
            await self._stage_files(files)

    def _on_staged_click(self, event) -> None:
        button = closest(event, "[data-action='remove-staged']")
        if button is not None:
            self.composer.remove(int(button.dataset.index))
            self._render_staged()
            self._refresh_send()
            self._keep_composer()
            self.text.focus()

    def _on_history_click(self, event) -> None:
        button = closest(event, "button[data-action]")
        if button is None:
            return
        local_id, action = button.dataset.local, button.dataset.action
        outgoing = self.outbox.find(local_id)
        if outgoing is None:
            return
        failed = outgoing.status == Status.FAILED  # a double click must not act twice
        if action == "retry" and failed:
            self.outbox.retry(local_id)
            self._render_pending(local_id)
            asyncio.ensure_future(self._deliver(local_id))
        elif action == "cancel" and local_id in self.calls:
            self.calls[local_id].cancel()
        elif action == "remove-attachment" and failed and outgoing.files:
            self.outbox.remove_attachment(local_id, 0)
            self._render_pending(local_id)
            self._keep(local_id)
        elif action == "discard" and failed:
            self._drop_pending(local_id)

    # ---- composer ------------------------------------------------------
    async def _stage_files(self, files) -> None:
        """Stage picked, dropped or pasted files; what is refused is said in one notice."""
        refused: list[Problem] = []
        for file in files:
            try:
                head = (await file.slice(0, HEAD_SIZE).arrayBuffer()).to_bytes()
            except Exception:  # moved, deleted or unreadable since it was picked
                refused.append(Problem("unreadable", f"{file.name} could not be read.", "Pick the file again."))
                continue
            info = FileInfo(name=file.name, size=int(file.size), declared_type=file.type, head=head)
            refused += self.composer.stage(info, file)
        if refused:
            self.notices.show(combine(refused), key=STAGING)
        else:
            self.notices.clear(STAGING)
        self._render_staged()
        self._refresh_send()
        self._keep_composer()

    def _render_staged(self) -> None:
        for url in self.staged_previews.values():
            URL.revokeObjectURL(url)
        self.staged_previews = {
            i: URL.createObjectURL(s.handle) for i, s in enumerate(self.composer.staged)
            if s.info.declared_type.startswith("image/")
        }
        self.staged.innerHTML = render.staged_html([s.info for s in self.composer.staged], self.staged_previews)
        self.staged.hidden = not self.composer.staged

    def _refresh_send(self) -> None:
        self.send_button.disabled = not self.composer.can_send

    def _send(self) -> None:
        draft = self.composer.take()
        if draft is None:
            return
        outgoing = self.outbox.add(draft)
        self.pending_previews[outgoing.local_id] = self.staged_previews
        self.staged_previews = {}
        self.text.value = ""
        self._render_staged()
        self._refresh_send()
        self.history.insertAdjacentHTML("beforeend", render.pending_html(outgoing, self.pending_previews[outgoing.local_id]))
        self._scroll_to_end()
        self._keep(outgoing.local_id)
        self._keep_composer()
        asyncio.ensure_future(self._deliver(outgoing.local_id))

    # ---- delivery ------------------------------------------------------
    async def _deliver(self, local_id: str) -> None:
        call = self.calls[local_id] = Call()
        try:
            while (step := self.outbox.next_step(local_id)) is not None:
                self._render_pending(local_id)
                if isinstance(step, UploadFile):
                    outgoing = self.outbox.get(local_id)
                    upload_id = await upload_file(
                        self.backend, outgoing.files[step.index], call,
                        lambda sent, i=step.index: self._on_progress(local_id, i, sent),
                    )
                    self.outbox.on_uploaded(local_id, step.index, upload_id)
                elif isinstance(step, PostMessage):
                    outgoing = self.outbox.get(local_id)
                    request = self.backend.send_request(outgoing.text, list(step.upload_ids), outgoing.idempotency_key)
                    message = self.backend.parse_message(await perform(request, call=call))
                    self.outbox.on_sent(local_id, message)
                    self._show_message(message)
        except BackendError as error:
            self._fail(local_id, error.problem)
        except Cancelled:
            self._fail(local_id, CANCELLED)
        except Exception as error:  # a bug must not leave the message spinning forever
            console.error(f"Attache: sending failed unexpectedly: {error!r}")
            self._fail(local_id, Problem("unexpected", "Something went wrong while sending.", "Retry to send it again."))
        finally:
            self.calls.pop(local_id, None)

    def _fail(self, local_id: str, problem: Problem) -> None:
        self.outbox.on_failed(local_id, problem)
        self._render_pending(local_id)
        self._keep(local_id)

    def _on_progress(self, local_id: str, index: int, sent: int) -> None:
        """Move the bar in place: re-rendering would steal focus from Cancel."""
        self.outbox.on_progress(local_id, index, sent)
        bar, label = query(f"#out-{local_id} progress"), query(f"#out-{local_id} .status")
        if bar is None or label is None:
            return self._render_pending(local_id)
        outgoing = self.outbox.get(local_id)
        bar.value = render.percent(outgoing)
        label.textContent = render.status_label(outgoing)
        announce, text = query(f"#out-{local_id} .announce"), render.progress_announcement(outgoing)
        if announce is not None and announce.textContent != text:  # only at 25% steps: heard, not chatter
            announce.textContent = text

    def _render_pending(self, local_id: str) -> None:
        outgoing = self.outbox.find(local_id)
        if outgoing is None:
            return self._drop_pending(local_id)
        if outgoing.status == Status.SENT:
            return
        html = render.pending_html(outgoing, self.pending_previews.get(local_id, {}))
        node = by_id(f"out-{local_id}")
        if node is None:
            self.history.insertAdjacentHTML("beforeend", html)
        else:
            node.outerHTML = html

    def _drop_pending(self, local_id: str) -> None:
        self.outbox.discard(local_id)
        self._forget_pending(local_id)

    def _forget_pending(self, local_id: str) -> None:
        """Remove a pending message's node, previews and kept copy (sent or given up)."""
        node = by_id(f"out-{local_id}")
        if node is not None:
            node.remove()
        for url in self.pending_previews.pop(local_id, {}).values():
            URL.revokeObjectURL(url)
        self.store.delete(local_id)

    # ---- unsent work kept across reloads ------------------------------------
    def _keep(self, local_id: str) -> None:
        outgoing = self.outbox.find(local_id)
        if outgoing is None or outgoing.status == Status.SENT:
            return self.store.delete(local_id)
        self.store.put(local_id, self.outbox.to_record(local_id), [s.handle for s in outgoing.files])

    def _keep_composer(self) -> None:
        if not self.composer.text and not self.composer.staged:
            return self.store.delete(COMPOSER)
        record = {"text": self.composer.text, "files": [s.info.to_json() for s in self.composer.staged]}
        self.store.put(COMPOSER, record, [s.handle for s in self.composer.staged])

    async def _restore_unsent(self) -> None:
        """Bring back the draft and the messages a reload interrupted."""
        delivered_keys = {m.idempotency_key for m in self.delivered.values() if m.idempotency_key}
        for key, record, handles in await self.store.load():
            try:
                if key == COMPOSER:
                    self._restore_composer(record, handles)
                elif record.get("idempotency_key") in delivered_keys:
                    self.store.delete(key)  # it did arrive before the reload
                else:
                    self.outbox.restore(record, handles)
                    self._render_pending(key)
            except (ValueError, KeyError, TypeError, AttributeError):
                self.store.delete(key)

    def _restore_composer(self, record: dict, handles: list) -> None:
        self.text.value = record.get("text", "")
        self.composer.set_text(self.text.value)
        for info, handle in zip(record.get("files", []), handles):
            refused = self.composer.stage(FileInfo.from_json(info), handle)
            if refused:  # the rules changed since the draft was kept
                self.notices.show(combine(refused), key=STAGING)
        self._render_staged()

    # ---- history ---------------------------------------------------------
    def _show_history(self, messages: list[Message]) -> None:
        for message in messages:
            self.delivered[message.id] = message
        self.history.innerHTML = render.messages_html(messages, self.identity, self.names, *reader_clock())
        by_id("history-empty").hidden = bool(messages)
        self._scroll_to_end()

    def _show_message(self, message: Message) -> None:
        """Add a delivered message once, whether it came from our POST or the live feed."""
        local_id = self.outbox.on_echo(message)
        if local_id is not None:
            self._forget_pending(local_id)
        if message.id in self.delivered:
            return
        self.delivered[message.id] = message
        by_id("history-empty").hidden = True
        html = render.messages_html([message], self.identity, self.names, *reader_clock())
        first_pending = query(".pending", self.history)
        if first_pending is not None:
            first_pending.insertAdjacentHTML("beforebegin", html)
        else:
            self.history.insertAdjacentHTML("beforeend", html)
        if self.pinned or message.sender == self.identity:
            self._scroll_to_end()
        if message.sender != self.identity and document.hidden:
            self.unread += 1
            document.title = f"({self.unread}) {self.title}"

    def _on_visibility(self) -> None:
        """The agent is back on the tab: the unread count in its title has done its job."""
        if not document.hidden and self.unread:
            self.unread = 0
            document.title = self.title

    def _on_live_data(self, data: str) -> int | None:
        try:
            message = self.backend.parse_event(data)
        except BackendError as error:
            self.notices.show(error.problem)
            return None
        self._show_message(message)
        return message.seq

    def _on_connection(self, state: str) -> None:
        if state == "live":
            self._set_connection("live", "Live")
        else:
            self._set_connection("offline", "Reconnecting…")

    def _set_connection(self, state: str, label: str) -> None:
        self.connection.dataset.state = state
        self.connection.textContent = label

    def _on_scroll(self) -> None:
        """Stay pinned to the newest message unless the agent scrolled up to read.

        Only a move up unpins: content growing below (a thumbnail loading) also
        fires scroll events, and must not."""
        h = self.history
        top = h.scrollTop
        if top < self.last_scroll_top - 1:
            self.pinned = False
        if h.scrollHeight - top - h.clientHeight < NEAR_BOTTOM_PX:
            self.pinned = True
        self.last_scroll_top = top

    def _on_media_loaded(self) -> None:
        """A thumbnail that loads grows the history: keep the newest message in view."""
        if self.pinned:
            self._scroll_to_end()

    def _scroll_to_end(self) -> None:
        self.history.scrollTop = self.history.scrollHeight
        self.pinned = True
