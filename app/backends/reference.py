"""The conversation API of Attache's reference server (``server/``), see docs/api.md.

JSON shapes come from ``app.core.schemas`` (the server's OpenAPI is built from
the same classes); files go up with tus to ``/api/uploads``, and a message
refers to them by upload id. Live updates are Server-Sent Events.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from app.backends.api import HistoryPage
from app.backends.decoding import decode, parse_json, read_json
from app.backends.urls import join_url, normalise_base_url, path_segment, resolve_url
from app.core import schemas
from app.core.errors import BackendError, bad_response
from app.core.http import Request, Response
from app.core.models import Attachment, Message, Uploaded
from app.core.restrictions import Restrictions
from app.core.wire import encode

__all__ = ["ReferenceApi"]


class ReferenceApi:
    """Args:
        base_url: ``""`` for the page's own origin, or ``"https://host/prefix"``
            where the server's ``/`` lives (a trailing slash is ignored).
        token: the identity's bearer token, sent only as ``Authorization: Bearer ...``
            (never in a URL: the event stream opens with a single-use ticket).
        conversation: any string but ``""``, ``"."``, ``".."`` (percent-encoded as one segment).
        identity: the identity name the token belongs to.
    """

    name = "reference"
    live = "sse"

    def __init__(self, base_url: str, token: str, conversation: str = "default", *, identity: str = "") -> None:
        if not isinstance(token, str) or any(c in token for c in "\r\n\0"):
            raise ValueError("token must be a string without line breaks")
        self.base_url = normalise_base_url(base_url)
        self.token, self.conversation, self.identity = token, conversation, identity
        self._conversation_path = "/api/conversations/" + path_segment(conversation, "conversation id")

    @classmethod
    def from_config(cls, backend: Mapping[str, Any], identity: str) -> ReferenceApi:
        """Build from the page config's ``backend`` table (``/attache-config.json``)::

            {"adapter": "reference", "base_url": "", "conversation": "default",
             "identities": {"agent": {"token": "...", "name": "Agent"}, ...}}

        An identity entry may also be the token string itself. Raises
        ValueError naming what is missing or wrong.
        """
        identities = backend.get("identities")
        if not isinstance(identities, Mapping) or not identities:
            raise ValueError("config backend.identities must be a table of identity -> token")
        if identity not in identities:
            known = ", ".join(sorted(map(str, identities)))
            raise ValueError(f"unknown identity {identity!r}; known identities: {known}")
        entry = identities[identity]
        token = entry.get("token") if isinstance(entry, Mapping) else entry
        if not isinstance(token, str):
            raise ValueError(f"config backend.identities.{identity}.token must be a string")
        conversation = backend.get("conversation", "default")
        if not isinstance(conversation, str):
            raise ValueError("config backend.conversation must be a string")
        return cls(backend.get("base_url", ""), token, conversation, identity=identity)

    def __repr__(self) -> str:  # never show the token
        return (f"ReferenceApi(base_url={self.base_url!r}, conversation={self.conversation!r}, "
                f"identity={self.identity!r})")

    # ---------------------------------------------------------------- requests

    def _headers(self, content_type: str = "") -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if content_type:
            headers["Content-Type"] = content_type
        return headers

    def restrictions_request(self) -> Request:
        """``GET /api/conversations/{cid}/restrictions``: this conversation's rules (a bridged
        channel's limits included), which may be stricter than the server's ``/api/restrictions``."""
        return Request("GET", join_url(self.base_url, self._conversation_path + "/restrictions"), self._headers())

    def history_request(self, page_token: str | None = None) -> Request:
        """``GET /api/conversations/{cid}/messages[?before=token]``."""
        if page_token is not None and (not isinstance(page_token, str) or not page_token):
            raise ValueError(f"page_token must be a non-empty string or None, got {page_token!r}")
        url = join_url(self.base_url, self._conversation_path + "/messages", {"before": page_token})
        return Request("GET", url, self._headers())

    def send_request(self, text: str, files: Sequence[Uploaded], idempotency_key: str) -> Request:
        """``POST /api/conversations/{cid}/messages`` with the files' upload ids.

        Posting again with the same ``idempotency_key`` returns the message
        created the first time, so a retry after a lost answer never duplicates it.
        """
        if not isinstance(idempotency_key, str) or not idempotency_key:
            raise ValueError("idempotency_key must be a non-empty string")
        if not isinstance(text, str):
            raise ValueError("text must be a string")
        if isinstance(files, (str, bytes)) or not all(isinstance(f, Uploaded) for f in files):
            raise ValueError("files must be a sequence of Uploaded")
        body = schemas.MessageCreate(idempotency_key, text, tuple(f.ref for f in files))
        url = join_url(self.base_url, self._conversation_path + "/messages")
        return Request("POST", url, self._headers("application/json"), json=encode(body))

    def ticket_request(self) -> Request:
        """``POST /api/conversations/{cid}/events/ticket``: a single-use ticket for one stream."""
        return Request("POST", join_url(self.base_url, self._conversation_path + "/events/ticket"), self._headers())

    def events_url(self, after: int | None = None, ticket: str | None = None) -> str:
        """``/api/conversations/{cid}/events?ticket=...&after=seq``.

        EventSource cannot send an Authorization header, and a token in a URL
        ends up in logs: the stream opens with a ticket from
        :meth:`ticket_request`, good for one connection within seconds. The
        browser's own reconnect would reuse a spent ticket, so the page opens
        a new EventSource with a new ticket and ``after`` = the last seq it has.
        """
        if after is not None and (isinstance(after, bool) or not isinstance(after, int) or after < 0):
            raise ValueError(f"after must be a non-negative integer or None, got {after!r}")
        if ticket is not None and (not isinstance(ticket, str) or not ticket):
            raise ValueError("ticket must be a non-empty string or None")
        return join_url(self.base_url, self._conversation_path + "/events", {"ticket": ticket, "after": after})

    # One stream for many conversations (app.core.livehub, app.browser.hub): a page's canvases share it.

    @property
    def stream_key(self) -> str:
        """Canvases with the same key share one stream: the same server and identity."""
        return f"{self.base_url}|{self.identity}"

    def set_ticket_request(self, conversations: Sequence[str]) -> Request:
        """``POST /api/events/ticket {"conversations": [...]}``: a single-use ticket for one stream of them all."""
        if isinstance(conversations, str) or not conversations or not all(
                isinstance(c, str) and c for c in conversations):
            raise ValueError("conversations must be a non-empty sequence of conversation ids")
        return Request("POST", join_url(self.base_url, "/api/events/ticket"), self._headers("application/json"),
                       json={"conversations": list(conversations)})

    def set_events_url(self, after: int | None, ticket: str) -> str:
        """``/api/events?ticket=...&after=seq``: the set's messages (seq is global: one ``after`` serves all)."""
        if after is not None and (isinstance(after, bool) or not isinstance(after, int) or after < 0):
            raise ValueError(f"after must be a non-negative integer or None, got {after!r}")
        if not isinstance(ticket, str) or not ticket:
            raise ValueError("ticket must be a non-empty string")
        return join_url(self.base_url, "/api/events", {"ticket": ticket, "after": after})

    def parse_set_event(self, data: str) -> tuple[str, Message]:
        """One event of the set's stream: (its conversation, the message)."""
        if not isinstance(data, str):
            raise bad_response("event data should be text")
        wire = decode(schemas.Message, parse_json(data), "event")
        if not wire.conversation:
            raise bad_response("event.conversation is missing")
        return wire.conversation, self._message(wire, "event", None)

    @staticmethod
    def refused_conversation(resp: Response) -> str:
        """The conversation a refused set ticket names (``error.conversation``), or ""."""
        try:
            error = parse_json(resp.text, resp.status).get("error")
        except (BackendError, AttributeError):
            return ""
        named = error.get("conversation") if isinstance(error, dict) else None
        return named if isinstance(named, str) else ""

    def uploader_defaults(self) -> dict[str, Any]:
        """tus at ``/api/uploads`` with this identity's bearer token."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return {"kind": "tus", "endpoint": join_url(self.base_url, "/api/uploads"), "headers": headers}

    # ----------------------------------------------------------------- parsing

    def parse_restrictions(self, resp: Response) -> Restrictions:
        wire = decode(schemas.Restrictions, read_json(resp), "restrictions", resp.status)
        try:
            return Restrictions.from_json({k: v for k, v in encode(wire).items() if k != "limit"})
        except (ValueError, TypeError, KeyError) as exc:
            raise bad_response(f"restrictions: {exc}", resp.status) from None

    def parse_history(self, resp: Response) -> HistoryPage:
        """One page, oldest first (sorted by ``seq``); ``older`` when the server pages."""
        page = decode(schemas.History, read_json(resp), "history", resp.status)
        messages = [self._message(m, f"history.messages[{i}]", resp.status) for i, m in enumerate(page.messages)]
        return HistoryPage(tuple(sorted(messages, key=lambda m: m.seq)), page.older or None)

    def parse_message(self, resp: Response, request: Request | None = None) -> Message:
        """The created message (201), or the one already created with this key (200); the
        server answers the whole message, so ``request`` (the send_request) is not needed."""
        return self._message(decode(schemas.Message, read_json(resp), "message", resp.status), "message", resp.status)

    def parse_ticket(self, resp: Response) -> str:
        """The ticket of a ticket answer (``{"ticket", "expires_in"}``)."""
        body = read_json(resp)
        ticket = body.get("ticket") if isinstance(body, dict) else None
        if not isinstance(ticket, str) or not ticket or len(ticket) > 512:
            raise bad_response("ticket is missing", resp.status)
        return ticket

    def parse_event(self, data: str) -> Message:
        """One SSE ``data:`` payload (a Message JSON)."""
        if not isinstance(data, str):
            raise bad_response("event data should be text")
        return self._message(decode(schemas.Message, parse_json(data), "event"), "event", None)

    def _message(self, m: schemas.Message, where: str, status: int | None) -> Message:
        return Message(id=m.id, seq=m.seq, sender=m.sender, text=m.text, created_at=m.created_at,
                       attachments=tuple(self._attachment(a, f"{where}.attachments[{i}]", status)
                                         for i, a in enumerate(m.attachments)),
                       idempotency_key=m.idempotency_key, sender_name=m.sender_name, sender_role=m.sender_role)

    def _attachment(self, a: schemas.Attachment, where: str, status: int | None) -> Attachment:
        try:
            url = resolve_url(self.base_url, a.url)
        except ValueError:
            raise bad_response(f"{where}.url is not an http(s) URL or path", status) from None
        thumb = a.thumbnail
        try:
            thumb_url = "" if thumb is None else resolve_url(self.base_url, thumb.url)
        except ValueError:
            raise bad_response(f"{where}.thumbnail.url is not an http(s) URL or path", status) from None
        return Attachment(id=a.id, name=a.name, size=a.size, content_type=a.content_type, url=url,
                          thumbnail_url=thumb_url, thumbnail_width=thumb.width if thumb else 0,
                          thumbnail_height=thumb.height if thumb else 0,
                          thumbnail_pending=thumb is None and a.thumbnail_pending)
