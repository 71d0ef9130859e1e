"""The send queue: each message goes upload by upload, then one post, and survives failure.

Sans-IO like h11: `next_step` says what to do (upload file i, or post the
message), the shell does it over the network and feeds the outcome back with
`on_progress`, `on_uploaded`, `on_sent` or `on_failed`. Nothing here waits
or touches a socket, so every path is tested without a browser.

An upload in progress is kept as its machine's record (`to_record()` of
`app.core.upload`), so after a failure or a reload the upload resumes where the
server stands instead of starting over.

A message keeps its idempotency key for its whole life, across retries and
attachment removal: if a post did reach the server before the connection
broke, posting again returns that same message instead of a duplicate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from uuid import uuid4

from app.core.composer import Draft, Staged
from app.core.models import FileInfo, Message, Problem, Uploaded
from app.core.sniff import effective_type

INTERRUPTED = Problem(
    "interrupted",
    "This message was not sent before the page was closed or reloaded.",
    "Retry to send it, or remove it.",
)


class Status:
    QUEUED = "queued"
    UPLOADING = "uploading"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


@dataclass(frozen=True)
class UploadFile:
    """Upload `files[index]` of the message: `uploader.begin(info, record)` resumes `record` when there is one."""

    index: int
    record: dict | None = None


@dataclass(frozen=True)
class PostMessage:
    """Post the message's text with these finished uploads, in the order of its files."""

    files: tuple[Uploaded, ...]


Step = UploadFile | PostMessage


@dataclass
class Outgoing:
    """One message on its way; `uploaded` maps a file index to its finished upload,
    `uploads` a file index to the record of its upload (in progress, or finished and not yet sent)."""

    local_id: str
    idempotency_key: str
    text: str
    files: tuple[Staged, ...]
    status: str = Status.QUEUED
    progress: float = 0.0  # 0..1 over all bytes of the message's files
    uploaded: dict[int, Uploaded] = field(default_factory=dict)
    uploads: dict[int, dict] = field(default_factory=dict)  # kept after it finishes, until the message is sent
    problem: Problem | None = None
    message: Message | None = None

    @property
    def total_bytes(self) -> int:
        return sum(f.info.size for f in self.files)


class Outbox:
    def __init__(self, new_id: Callable[[], str] = lambda: uuid4().hex) -> None:
        self._new_id = new_id
        self._items: dict[str, Outgoing] = {}  # insertion order = oldest first

    def add(self, draft: Draft) -> Outgoing:
        """Queue a draft; ValueError for a draft with neither text nor files."""
        if not draft.text.strip() and not draft.files:
            raise ValueError("an empty draft cannot be sent")
        item = Outgoing(local_id=self._new_id(), idempotency_key=self._new_id(),
                        text=draft.text, files=tuple(draft.files))
        self._items[item.local_id] = item
        return item

    def get(self, local_id: str) -> Outgoing:
        return self._items[local_id]

    def find(self, local_id: str) -> Outgoing | None:
        """The message, or None once it was delivered, discarded or emptied."""
        return self._items.get(local_id)

    def pending(self) -> list[Outgoing]:
        """Messages not yet sent (queued, in flight or failed), oldest first."""
        return [item for item in self._items.values() if item.status != Status.SENT]

    def discard(self, local_id: str) -> None:
        """Forget a message (the user gave up on a failed one)."""
        self._items.pop(local_id, None)

    def next_step(self, local_id: str) -> Step | None:
        """The next thing to do; None when sent (gone), or failed (it waits for `retry`)."""
        item = self.find(local_id)
        if item is None or item.status in (Status.SENT, Status.FAILED):
            return None
        for index in range(len(item.files)):
            if index not in item.uploaded:
                item.status = Status.UPLOADING
                return UploadFile(index, item.uploads.get(index))
        item.status = Status.SENDING
        return PostMessage(tuple(item.uploaded[i] for i in range(len(item.files))))

    def on_progress(self, local_id: str, index: int, sent_bytes: int, record: dict | None = None) -> None:
        """`sent_bytes` of file `index` are on the server (counted from the file's start);
        `record` is the upload machine's `to_record()`, kept to resume it later."""
        item = self.find(local_id)
        if item is None or item.status != Status.UPLOADING or not 0 <= index < len(item.files):
            return  # a late event from an upload that no longer matters
        if record is not None and index not in item.uploaded:
            item.uploads[index] = record
        size = item.files[index].info.size
        current = 0 if index in item.uploaded else min(max(sent_bytes, 0), size)
        item.progress = _fraction(_done_bytes(item) + current, item.total_bytes)

    def on_uploaded(self, local_id: str, index: int, uploaded: Uploaded) -> None:
        item = self.find(local_id)
        if item is None or not 0 <= index < len(item.files):
            return
        item.uploaded[index] = uploaded  # its record stays: removing the file before the post frees the server's copy
        item.progress = _fraction(_done_bytes(item), item.total_bytes)

    def on_sent(self, local_id: str, message: Message) -> Outgoing | None:
        """The server has the message (its answer, or its live echo arrived first).

        It leaves the outbox, and with it the references to its files (a pasted
        screenshot lives no longer than its message); the Outgoing, marked sent,
        is returned. None when it had already left: later events about it are
        ignored, whichever of the answer and the echo came second.
        """
        item = self._items.pop(local_id, None)
        if item is not None:
            item.status, item.message, item.problem, item.progress = Status.SENT, message, None, 1.0
        return item

    def on_failed(self, local_id: str, problem: Problem) -> None:
        """Keep text, files and finished uploads, so a retry resumes where it stopped."""
        item = self.find(local_id)
        if item is None:
            return  # the echo won the race: the message is there
        item.status, item.problem = Status.FAILED, problem

    def adopt_upload(self, local_id: str, staged: Staged, record: dict, replacing: dict | None) -> bool:
        """An upload created after its message stopped (its creation answered after a Cancel): `record`
        becomes the file's, so Retry goes on with it, when the message still waits for Retry with the
        record it had when the creation left (`replacing`). False when nothing will use it (the message
        was retried, sent or discarded, the file removed): the shell frees the server's copy."""
        item = self.find(local_id)
        index = next((i for i, f in enumerate(item.files) if f is staged), None) if item is not None else None
        if item is None or index is None or item.status != Status.FAILED or index in item.uploaded:
            return False
        if item.uploads.get(index) != replacing:
            return False
        item.uploads[index] = record
        return True

    def delivering(self, local_id: str, staged: Staged) -> bool:
        """The message is on its way again (Retry) with this file: a creation of its upload answering late
        names the upload that delivery goes on with (the same creation key), so it is not to be freed."""
        item = self.find(local_id)
        return (item is not None and item.status in (Status.QUEUED, Status.UPLOADING, Status.SENDING)
                and any(f is staged for f in item.files))

    def retry(self, local_id: str) -> Step:
        """Resume a failed message with the same idempotency key; ValueError unless failed."""
        item = self.get(local_id)
        if item.status != Status.FAILED:
            raise ValueError(f"only a failed message can be retried (this one is {item.status})")
        item.status, item.problem = Status.QUEUED, None
        step = self.next_step(local_id)
        assert step is not None
        return step

    def remove_attachment(self, local_id: str, index: int = 0) -> dict | None:
        """Drop a file from a message that is not in flight (failed or queued).

        Finished uploads of the other files are kept. When nothing is left to
        send (no text, no files) the message leaves the outbox. Returns the
        record of the dropped file's upload (partial, or finished but not sent),
        if any, so the shell can free the server's copy
        (`uploader.begin(info, record).discard()`).
        """
        item = self.get(local_id)
        if item.status not in (Status.FAILED, Status.QUEUED):
            raise ValueError(f"attachments can only be removed from a failed message (this one is {item.status})")
        if not 0 <= index < len(item.files):
            raise IndexError(f"no file at index {index} ({len(item.files)} files)")
        item.files = item.files[:index] + item.files[index + 1:]
        item.uploaded = _without(item.uploaded, index)
        dropped = item.uploads.get(index)
        item.uploads = _without(item.uploads, index)
        item.progress = _fraction(_done_bytes(item), item.total_bytes)
        if not item.text.strip() and not item.files:
            del self._items[local_id]
        return dropped

    def to_record(self, local_id: str) -> dict:
        """A JSON-able copy of an unsent message, without the file handles, so
        the shell can keep it (with the files) across a page reload."""
        item = self.get(local_id)
        return {
            "local_id": item.local_id,
            "idempotency_key": item.idempotency_key,
            "text": item.text,
            "files": [f.info.to_json() for f in item.files],
            "uploaded": {str(i): uploaded.to_json() for i, uploaded in item.uploaded.items()},
            "uploads": {str(i): record for i, record in item.uploads.items()},
        }

    def restore(self, record: dict, handles: list) -> Outgoing:
        """Bring back a message kept by `to_record`, as failed so the user decides:
        Retry (same idempotency key: no duplicate if it did arrive) or remove it.
        ValueError for a record that does not fit (then the shell drops it)."""
        try:
            files = tuple(Staged(FileInfo.from_json(f), handle)
                          for f, handle in zip(record["files"], handles, strict=True))
            item = Outgoing(local_id=record["local_id"], idempotency_key=record["idempotency_key"],
                            text=record["text"], files=files, status=Status.FAILED, problem=INTERRUPTED,
                            uploaded={int(i): _uploaded(u, files[int(i)].info) for i, u in record["uploaded"].items()},
                            uploads={int(i): dict(r) for i, r in record.get("uploads", {}).items()})
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise ValueError(f"unusable outbox record: {error}") from None
        item.progress = _fraction(_done_bytes(item), item.total_bytes)
        self._items[item.local_id] = item
        return item

    def find_by_key(self, idempotency_key: str) -> Outgoing | None:
        """The outgoing message with this key, if still here."""
        for item in self._items.values():
            if idempotency_key and item.idempotency_key == idempotency_key:
                return item
        return None

    def on_echo(self, message: Message) -> Outgoing | None:
        """A delivered message (live event or POST answer): if it is one of ours
        still in the outbox, it leaves it (`on_sent`) and is returned, else None."""
        item = self.find_by_key(message.idempotency_key)
        return None if item is None else self.on_sent(item.local_id, message)


def _uploaded(value: object, info: FileInfo) -> Uploaded:
    """A kept finished upload; a bare id is how pages before uploads had records kept them."""
    if isinstance(value, str) and value:
        return Uploaded(value, info, effective_type(info))
    return Uploaded.from_json(value)


def _without(by_index: dict, index: int) -> dict:
    """`by_index` without `index`, the later indexes moved down by one."""
    return {(i if i < index else i - 1): value for i, value in by_index.items() if i != index}


def _done_bytes(item: Outgoing) -> int:
    return sum(item.files[i].info.size for i in item.uploaded if i < len(item.files))


def _fraction(done: int, total: int) -> float:
    return 0.0 if total <= 0 else min(1.0, done / total)
