"""The Matrix conversation API: one room on a homeserver, sans-IO.

Every ``*_request`` returns a Request and every ``parse_*`` reads a Response;
the Matrix knowledge itself lives in pure functions (``wire``, ``events``,
``errors``) so this class only holds what a session learns on the way: the
room id behind an alias, our user id, members' display names and the
homeserver's upload limit.

Start-up, before anything else, ``setup_request``/``parse_setup`` until None
(resolves an alias, learns who we are). Then restrictions, history pages (``page.older`` asks for the page before),
sending, and ``/sync`` long-polls from the ``next_since`` each poll returns --
after a network fault the same ``since`` again, so nothing is missed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import unquote

from app.backends.matrix import wire
from app.backends.matrix.compat import (
    FileSlice,
    Request,
    Response,
    Uploaded,
    bad_response,
    join_url,
    normalise_base_url,
    parse_json,
    request,
    require_object,
    require_str,
)
from app.backends.matrix.errors import matrix_error
from app.backends.matrix.events import Context, member_names, read_message
from app.backends.matrix.pages import HistoryPage, SyncBatch, read_history, read_sync, room_state_events
from app.core.media import thumbnail_ok
from app.core.models import Attachment, FileInfo, Message
from app.core.restrictions import Restrictions
from app.core.sniff import effective_type

HISTORY_PAGE = 50
POLL_TIMEOUT_MS = 30_000
POLL_MARGIN_S = 15  # the transport waits this much longer than the server holds a poll


class MatrixConversation:
    """One Matrix room as an Attache conversation.

    Args:
        homeserver: the client-server API's base URL (``https://matrix.example``).
        token: the user's access token (``Authorization: Bearer``).
        room: a room id (``!abc:server``, or ``!abc`` for room version 12) or an alias.
        restrictions: the administrator's rules; merged with the homeserver's.
        user_id: our Matrix user id when known (else asked with ``whoami``).
        clock: seconds since the epoch, for the time of a message we just sent.
    """

    name = "matrix"
    live = "poll"  # live updates: poll_request / parse_poll (a /sync long-poll)
    media_needs_token = True  # attachment URLs are authenticated: fetch, then show a blob:

    def __init__(self, homeserver: str, token: object, room: object, *, restrictions: Restrictions | None = None,
                 user_id: str = "", identity: str = "", clock: Callable[[], float] = time.time) -> None:
        if not isinstance(token, str) or not token or any(c in token for c in "\r\n\0 "):
            raise ValueError("token must be a non-empty access token without spaces or line breaks")
        self.base_url = normalise_base_url(homeserver)
        self.token = token
        self.room = wire.check_room(room)
        self.room_id = "" if wire.is_room_alias(self.room) else self.room
        self.conversation = self.room
        self.user_id = user_id
        self.identity = identity
        self.admin_rules = restrictions or Restrictions()
        self.upload_limit: int | None = None
        self.names: dict[str, str] = {}
        self._clock = clock
        self._pending_setup = ""

    @classmethod
    def from_config(cls, backend: Mapping[str, Any], identity: str) -> MatrixConversation:
        """From the page config's ``backend`` table: ``homeserver``, ``room``, ``identities``
        (``{name: token}`` or ``{name: {"token", "user_id"}}``) -- or, in production, a
        ``token`` (+ ``user_id``) handed over by whatever fetched it -- and optional ``attachments``."""
        identities = backend.get("identities")
        if isinstance(backend.get("token"), str) and not identities:  # handed over (token_url, embedding page)
            identities = {identity: {"token": backend["token"], "user_id": backend.get("user_id", "")}}
        if not isinstance(identities, Mapping) or identity not in identities:
            known = ", ".join(sorted(map(str, identities))) if isinstance(identities, Mapping) else ""
            raise ValueError(f"unknown identity {identity!r}; known identities: {known or 'none'}")
        entry = identities[identity]
        token, user_id = (entry.get("token"), entry.get("user_id", "")) if isinstance(entry, Mapping) else (entry, "")
        rules, homeserver = backend.get("attachments"), backend.get("homeserver")
        if not isinstance(homeserver, str):
            raise ValueError("config backend.homeserver must be the homeserver's URL, e.g. 'https://matrix.example'")
        return cls(homeserver, token, backend.get("room"), identity=identity,
                   user_id=user_id, restrictions=Restrictions.from_mapping(rules) if rules else None)

    def __repr__(self) -> str:  # never show the token
        return f"MatrixConversation(homeserver={self.base_url!r}, room={self.room!r}, user={self.user_id!r})"

    # ---------------------------------------------------------------- requests
    def _headers(self, content_type: str = "") -> dict[str, str]:
        headers = {"Accept": "application/json", "Authorization": f"Bearer {self.token}"}
        if content_type:
            headers["Content-Type"] = content_type
        return headers

    def _get(self, path: str, query: Mapping[str, object] | None = None) -> Request:
        return Request("GET", join_url(self.base_url, path, query), self._headers())

    def _room_id(self) -> str:
        if not self.room_id:
            raise ValueError(f"resolve the room alias {self.room} first (setup_request)")
        return self.room_id

    def setup_request(self) -> Request | None:
        """The next start-up request (alias, then whoami), None once the adapter is ready."""
        if not self.room_id:
            self._pending_setup = "alias"
            return self._get(wire.alias_path(self.room))
        if not self.user_id:
            self._pending_setup = "whoami"
            return self._get(wire.WHOAMI)
        return None

    def restrictions_request(self) -> Request:
        return self._get(wire.MEDIA_CONFIG)

    def history_request(self, page_token: str | None = None, limit: int = HISTORY_PAGE) -> Request:
        """The newest page, or the page before ``page_token`` (a ``HistoryPage.older``)."""
        query = {"dir": "b", "limit": limit, "filter": wire.compact(wire.history_filter()), "from": page_token}
        return self._get(wire.room_path(self._room_id()) + "/messages", query)

    def poll_request(self, since: str | None = None, timeout_ms: int = POLL_TIMEOUT_MS) -> Request:
        """``/sync`` for this room: at once without ``since``, else a long-poll of ``timeout_ms``.

        The transport must wait longer than ``timeout_ms`` (``Request.timeout`` says how long)."""
        wait = 0 if since is None else timeout_ms
        query = {"filter": wire.compact(wire.sync_filter(self._room_id(), HISTORY_PAGE)),
                 "since": since, "timeout": wait}
        return request("GET", join_url(self.base_url, wire.SYNC, query), self._headers(),
                       timeout=wait / 1000 + POLL_MARGIN_S)

    def uploader_defaults(self) -> dict[str, Any]:
        """Matrix media take the whole file in one POST: the ``single`` uploader."""
        return {"kind": "single"}

    def upload_request(self, info: FileInfo) -> Request:
        """The single-request upload: the whole file as the body, typed by its content."""
        content_type = effective_type(info)
        return Request("POST", join_url(self.base_url, wire.MEDIA_UPLOAD, {"filename": info.name}),
                       self._headers(content_type), body=FileSlice(0, info.size))

    def send_request(self, text: str, files: Sequence[Uploaded], idempotency_key: str) -> Request:
        """``PUT .../send/m.room.message/{txnId}``: the idempotency key is the txn id, so a
        retry returns the first event. A file's message carries ``text`` as its caption."""
        if not isinstance(idempotency_key, str) or not idempotency_key:
            raise ValueError("idempotency_key must be a non-empty string")
        if len(files) > 1:
            raise ValueError("a Matrix message carries at most one file")
        if files:
            done = files[0]
            content = wire.media_content(text, done.ref, done.info, done.content_type)
        elif text.strip():
            content = wire.text_content(text)
        else:
            raise ValueError("nothing to send: no text and no file")
        return Request("PUT", join_url(self.base_url, wire.send_path(self._room_id(), idempotency_key)),
                       self._headers("application/json"), json=content)

    def media_request(self, attachment: Attachment) -> Request:
        """Download an attachment (authenticated media: the token goes in the header).

        Only this homeserver's media URLs get the token (ValueError otherwise): an
        attachment that came from elsewhere must never carry it away."""
        if not attachment.url.startswith(self.base_url + wire.MEDIA_DOWNLOAD):
            raise ValueError(f"not a media URL of this homeserver: {attachment.url!r}")
        return Request("GET", attachment.url, {"Authorization": f"Bearer {self.token}"})

    def thumbnail_request(self, attachment: Attachment, width: int = 320, height: int = 240) -> Request | None:
        """A server-made thumbnail of a raster image; None for anything else."""
        if not thumbnail_ok(attachment.content_type) or wire.parse_mxc(attachment.id) is None:
            return None
        query = {"width": width, "height": height, "method": "scale"}
        url = join_url(self.base_url, wire.thumbnail_path(attachment.id), query)
        return Request("GET", url, {"Authorization": f"Bearer {self.token}"})

    # ----------------------------------------------------------------- parsing
    def _json(self, resp: Response, **context: Any) -> dict:
        if not resp.ok:
            raise matrix_error(resp, limit=self.upload_limit, **context)
        return require_object(parse_json(resp.text, resp.status), "answer", resp.status)

    def parse_setup(self, resp: Response) -> None:
        pending, self._pending_setup = self._pending_setup, ""
        if pending == "alias":
            data = self._json(resp, room=self.room)
            room_id = require_str(data, "room_id", "room alias", resp.status, nonempty=True)
            self.room_id = wire.check_room(room_id) if room_id.startswith("!") else ""
            if not self.room_id:
                raise bad_response("room alias answer is not a room id", resp.status)
        elif pending == "whoami":
            self.user_id = require_str(self._json(resp), "user_id", "whoami", resp.status, nonempty=True)
        else:
            raise ValueError("parse_setup without a setup_request")

    def parse_restrictions(self, resp: Response) -> Restrictions:
        """The administrator's rules, with the homeserver's ``m.upload.size`` if stricter.

        A homeserver without the endpoint (404/405 ``M_UNRECOGNIZED``) leaves the
        administrator's rules as they are. One file per message: a Matrix event has one."""
        size = None if resp.status in (404, 405) else self._json(resp).get("m.upload.size")
        if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
            size = None
        self.upload_limit = size
        rules = self.admin_rules
        limit = rules.max_file_size if size is None else min(size, rules.max_file_size)
        return Restrictions(max_file_size=limit, accepted_types=rules.accepted_types, max_files_per_message=1)

    def parse_history(self, resp: Response) -> HistoryPage:
        """One page, oldest first, and the token for the page before it."""
        data = self._json(resp, room=self.room)
        self.names.update(member_names(data.get("state")))
        return read_history(data, Context(self.base_url, self.names), resp.status)

    def parse_upload(self, resp: Response, info: FileInfo) -> Uploaded:
        data = self._json(resp, file=info)
        uri = require_str(data, "content_uri", "upload", resp.status)
        if wire.parse_mxc(uri) is None:
            raise bad_response("upload.content_uri is not an mxc:// URI", resp.status)
        return Uploaded(uri, info, effective_type(info))

    def parse_message(self, resp: Response, request: Request | None = None) -> Message:
        """Our sent message, from the ``event_id`` answer and the content we sent (``request``)."""
        if request is None:
            raise ValueError("parse_message needs the send_request: Matrix answers only an event id")
        event_id = require_str(self._json(resp), "event_id", "send", resp.status, nonempty=True)
        txn = unquote(request.url.rsplit("/", 1)[-1])
        event = {"type": "m.room.message", "event_id": event_id, "sender": self.user_id or "@me",
                 "origin_server_ts": int(self._clock() * 1000), "content": request.json,
                 "unsigned": {"transaction_id": txn}}
        message = read_message(event, Context(self.base_url, self.names))
        if message is None:
            raise ValueError("parse_message: the request was not a message send_request built")
        return message

    def parse_poll(self, resp: Response) -> tuple[list[Message], str]:
        """New messages and where the next poll continues (edits/deletions: ``parse_sync``)."""
        batch = self.parse_sync(resp)
        return list(batch.messages), batch.next_since

    def parse_sync(self, resp: Response) -> SyncBatch:
        """Everything a poll brought: new messages, edits, deletions, and a gap if cut short."""
        data = self._json(resp)
        self.names.update(member_names(room_state_events(data, self._room_id())))
        return read_sync(data, self._room_id(), Context(self.base_url, self.names), resp.status)
