"""The message box, the attach button and the staged files under it.

What is typed and picked (or dropped, or pasted) goes to the core Composer,
which judges each file by the restrictions; the view renders its state, says
in one notice what was refused, keeps the draft, and hands what is sent to
`on_send`.
"""
from __future__ import annotations

from collections.abc import Callable

from pyscript import when

from app import render
from app.browser.dom import Root, closest, maybe
from app.browser.notices import Notices, combine
from app.browser.persistence import Persistence
from app.browser.previews import Previews
from app.core.composer import Composer, Draft, Staged
from app.core.models import FileInfo, Problem
from app.core.restrictions import Restrictions
from app.core.sniff import HEAD_SIZE

STAGING = "staging"  # the notice about the files the agent last tried to attach


class ComposerView:
    def __init__(self, root: Root, previews: Previews, keeper: Persistence, notices: Notices,
                 on_send: Callable[[Draft], object]) -> None:
        self.composer = Composer(Restrictions())
        self.previews = previews
        self.keeper = keeper
        self.notices = notices
        self.on_send = on_send
        self.form = root.by_id("composer")
        self.text = root.by_id("message")
        self.send_button = root.by_id("send")
        self.attach_button = root.by_id("attach")
        self.file_input = root.by_id("file-input")
        self.staged = root.by_id("staged")
        self.hint = root.by_id("restrictions-hint")

    def bind(self) -> None:
        when("click", self.attach_button)(lambda: self.file_input.click())
        when("change", self.file_input)(self._on_file_input)
        when("input", self.text)(self._on_text)
        when("keydown", self.text)(self._on_key)
        when("paste", self.text)(self._on_paste)
        when("submit", self.form)(self._on_submit)
        when("click", self.staged)(self._on_staged_click)

    def apply(self, restrictions: Restrictions) -> None:
        """The server's rules arrived: files are judged by them from now on."""
        self.composer.restrictions = restrictions
        accept = restrictions.accept_attribute()
        if accept:
            self.file_input.setAttribute("accept", accept)
        self.file_input.multiple = restrictions.max_files_per_message > 1
        self.hint.textContent = restrictions.describe_limit()

    def enable(self) -> None:
        """Let the agent write and send (once the draft is back)."""
        self.text.placeholder = "Write a message…"
        for control in (self.text, self.attach_button):
            control.disabled = False
        self.form.setAttribute("aria-busy", "false")
        self._refresh_send()

    async def stage(self, files) -> None:
        """Stage picked, dropped or pasted files; what is refused is said in one notice."""
        before = self.composer.staged
        described, refused = await _describe(files)
        for info, file in described:
            refused += self.composer.stage(info, file)
        self._say(refused)
        self._changed(before)

    async def take_over(self, draft: tuple[dict, list] | None, early_files: list) -> None:
        """Python takes the composer from static/early.mjs (call `bind` first): the draft a
        reload interrupted comes back, then the files held before Python ran are judged
        like any picked file, and the staged files are drawn once."""
        described, refused = await _describe(early_files)
        self.restore(draft, draw=False)
        for info, file in described:
            refused += self.composer.stage(info, file)
        if refused:
            self._say(refused)
        self._changed(())
        self.enable()

    def restore(self, draft: tuple[dict, list] | None, draw: bool = True) -> None:
        """Bring back the draft a reload interrupted (files the rules now refuse are named);
        text typed before Python ran wins over the kept text."""
        if draft is not None:
            self._restore(draft)
        self.composer.set_text(self.text.value)
        if draw:
            self._changed(())

    def _restore(self, draft: tuple[dict, list]) -> None:
        record, handles = draft
        try:
            if not self.text.value:
                self.text.value = str(record.get("text", ""))
            for info, handle in zip(record.get("files", []), handles, strict=False):
                refused = self.composer.stage(FileInfo.from_json(info), handle)
                if refused:  # the rules changed since the draft was kept
                    self.notices.show(combine(refused), key=STAGING)
        except (ValueError, KeyError, TypeError, AttributeError):
            pass  # an unreadable draft: keep what could be read

    # ---- events -----------------------------------------------------------------
    def _on_text(self, _event) -> None:
        self.composer.set_text(self.text.value)
        self._refresh_send()
        self._keep()

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
        await self.stage(files)

    async def _on_paste(self, event) -> None:
        clipboard = maybe(event.clipboardData)
        files = list(clipboard.files) if clipboard is not None else []
        if files:
            event.preventDefault()
            await self.stage(files)

    def _on_staged_click(self, event) -> None:
        button = closest(event, "[data-action='remove-staged']")
        if button is not None:
            before = self.composer.staged
            self.composer.remove(int(button.dataset.index))
            self._changed(before)
            self.text.focus()

    # ---- state to screen ------------------------------------------------------------
    def _send(self) -> None:
        refused = self.composer.refusals()
        if refused:      # refused on the spot, as a file would be: nothing is sent, the text stays
            self._say(refused)
            return
        draft = self.composer.take()
        if draft is None:
            return
        self.text.value = ""
        self._changed(())  # the files went with the draft: their previews go on showing
        self.on_send(draft)

    def _changed(self, before: tuple[Staged, ...]) -> None:
        """Re-render after the staged files changed; files no longer staged lose their preview."""
        now = self.composer.staged
        self.previews.release(s for s in before if not any(s is kept for kept in now))
        self.staged.innerHTML = render.staged_html([s.info for s in now], self.previews.urls(now))
        self.staged.hidden = not now
        self._refresh_send()
        self._keep()

    def _say(self, refused: list[Problem]) -> None:
        if refused:
            self.notices.show(combine(refused), key=STAGING)
        else:
            self.notices.clear(STAGING)

    def _refresh_send(self) -> None:
        self.send_button.disabled = not self.composer.can_send

    def _keep(self) -> None:
        self.keeper.keep_draft(self.composer.text, self.composer.staged)


async def _describe(files) -> tuple[list[tuple[FileInfo, object]], list[Problem]]:
    """(FileInfo, file) for each file whose first bytes could be read; a problem for each other."""
    described, refused = [], []
    for file in files:
        try:
            head = (await file.slice(0, HEAD_SIZE).arrayBuffer()).to_bytes()
        except Exception:  # moved, deleted or unreadable since it was picked
            refused.append(Problem("unreadable", f"{file.name} could not be read.", "Pick the file again."))
            continue
        described.append((FileInfo(name=file.name, size=int(file.size), declared_type=file.type, head=head), file))
    return described, refused
