"""The two interfaces an adapter implements, as Uppy separates uploaders from its core.

A **conversation API** (:class:`ConversationApi`) knows one backend's
messages: restrictions, history pages, sending, live updates. An **uploader**
(:class:`Uploader`) gets a file's bytes to a server and hands back an
:class:`~app.core.models.Uploaded` to attach. Configuration picks each:
the reference server is a conversation API that uploads with tus; Matrix would
be one whose media take a single POST.

Nothing here performs I/O. ``*_request`` methods return a
:class:`~app.core.http.Request`; ``parse_*`` methods take the transport's
:class:`~app.core.http.Response` and return values or raise
:class:`~app.core.errors.BackendError`.

Adding an adapter (Matrix, ...)
-------------------------------
1. ``app/backends/<name>.py``: a class with every member of
   :class:`ConversationApi` and of :class:`SseEvents` or :class:`PollEvents`
   (say which in ``live``). Stdlib and ``app.core`` only; no clocks or
   randomness you cannot inject.
2. ``send_request``: put the idempotency key where the backend deduplicates
   (Matrix: the transaction id in the PUT path) and read it back in
   ``parse_message``/events so the outbox recognises its own echo.
3. Uploads: return ``{"kind": "tus", "endpoint": ..., "headers": ...}`` from
   ``uploader_defaults`` for a tus server, or ``{"kind": "single"}`` and
   implement :class:`SingleRequestUploads` (Matrix:
   ``POST /_matrix/media/v3/upload`` -> ``Uploaded(ref="mxc://...")``).
4. Errors: ``app.backends.decoding.read_json`` maps non-2xx answers with the
   shared wording; ``decode`` checks fields against wire dataclasses.
5. Register ``from_config`` in ``ADAPTERS`` (``app/backends/__init__.py``)
   and write ``tests/unit/test_backend_<name>.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from app.core.http import Request, Response
from app.core.models import FileInfo, Message, Uploaded
from app.core.restrictions import Restrictions
from app.core.upload import UploadMachine

__all__ = ["ConversationApi", "HistoryPage", "PollEvents", "SetEvents", "SingleRequestUploads", "SseEvents", "Uploader"]


@dataclass(frozen=True)
class HistoryPage:
    """Messages oldest first; ``older`` fetches the page before (None: this page starts the conversation)."""

    messages: tuple[Message, ...]
    older: str | None = None


class ConversationApi(Protocol):
    name: str  # the adapter's name in the config
    identity: str  # who the page acts as
    conversation: str
    live: str  # "sse" (implements SseEvents) or "poll" (implements PollEvents)

    def restrictions_request(self) -> Request:
        """Ask for the attachment rules the backend enforces."""
        ...

    def parse_restrictions(self, resp: Response) -> Restrictions: ...

    def history_request(self, page_token: str | None = None) -> Request:
        """The newest page of messages, or the page before ``page_token`` (a ``HistoryPage.older``)."""
        ...

    def parse_history(self, resp: Response) -> HistoryPage: ...

    def send_request(self, text: str, files: Sequence[Uploaded], idempotency_key: str) -> Request:
        """Post a message; the same idempotency_key must never create two messages."""
        ...

    def parse_message(self, resp: Response, request: Request | None = None) -> Message:
        """The sent message; ``request`` is the send_request it answers (Matrix answers only an id)."""
        ...

    def uploader_defaults(self) -> dict[str, Any]:
        """How this backend takes files unless the config says otherwise:
        ``{"kind": "tus", "endpoint": url, "headers": {...}}`` or ``{"kind": "single"}``."""
        ...


class SseEvents(Protocol):
    """Live updates over Server-Sent Events (EventSource)."""

    def ticket_request(self) -> Request:
        """Ask for a short-lived, single-use ticket that opens one stream (bearer token in the header)."""
        ...

    def parse_ticket(self, resp: Response) -> str: ...

    def events_url(self, after: int | None = None, ticket: str | None = None) -> str:
        """EventSource URL for messages after seq ``after``, opened with ``ticket`` (never a token:
        EventSource sends no headers, and URLs end up in logs)."""
        ...

    def parse_event(self, data: str) -> Message:
        """One event's ``data:`` payload."""
        ...


class SetEvents(Protocol):
    """Live updates of many conversations over one SSE stream (the reference server's ``/api/events``):
    the page's canvases of one ``stream_key`` share it (app.browser.hub)."""

    stream_key: str  # the same server and identity: one stream

    def set_ticket_request(self, conversations: Sequence[str]) -> Request: ...

    def parse_ticket(self, resp: Response) -> str: ...

    def refused_conversation(self, resp: Response) -> str:
        """The conversation a refused ticket names, or ""."""
        ...

    def set_events_url(self, after: int | None, ticket: str) -> str: ...

    def parse_set_event(self, data: str) -> tuple[str, Message]:
        """(the event's conversation, its message)."""
        ...


class PollEvents(Protocol):
    """Live updates by long-poll (Matrix ``/sync``): the shell loops poll_request -> parse_poll."""

    def poll_request(self, since: str | None = None, timeout_ms: int = ...) -> Request:
        """Wait for messages after cursor ``since`` (None: from now) up to ``timeout_ms`` at the server
        (0: answer at once, which the shell asks after a failure); sets ``Request.timeout``."""
        ...

    def parse_poll(self, resp: Response) -> tuple[list[Message], str]:
        """New messages oldest first, and the cursor for the next poll."""
        ...


@runtime_checkable
class SingleRequestUploads(Protocol):
    """A conversation API whose backend takes a file in one request (needed by the ``single`` uploader)."""

    def upload_request(self, info: FileInfo) -> Request:
        """The whole file: ``body=FileSlice(0, info.size)``."""
        ...

    def parse_upload(self, resp: Response, info: FileInfo) -> Uploaded: ...


class Uploader(Protocol):
    kind: str  # "tus" or "single"

    def begin(self, info: FileInfo, record: dict | None = None) -> UploadMachine:
        """A machine for one upload of ``info``, resuming ``record`` (its ``to_record()``) when it fits."""
        ...
