"""Adapter for Attache's reference server (``server/``), see docs/CONTRACT.md.

Sans-IO: every ``*_request`` method returns a :class:`~app.backends.base.Request`
and every ``parse_*`` method reads a :class:`~app.backends.base.Response`;
nothing here touches the network.

Uploads are resumable in the tus spirit::

    state = backend.parse_upload(send(backend.upload_start_request(info)))
    while not state.complete:
        try:
            state = backend.parse_upload(send(backend.upload_chunk_request(state)))
        except BackendError as err:
            if not err.retryable:          # 413, 415 type_mismatch, 404 ...
                raise
            # network, 5xx, or code "offset_mismatch" (409): ask where we are
            state = backend.parse_upload(send(backend.upload_status_request(state)))
    upload_id = state.upload_id
"""

from typing import Any, Mapping, Sequence

from app.backends.base import (
    BackendError,
    FileSlice,
    Request,
    Response,
    UploadState,
    bad_response,
    http_error,
    join_url,
    normalise_base_url,
    parse_json,
    path_segment,
    require_bool,
    require_int,
    require_list,
    require_object,
    require_str,
    require_timestamp,
    resolve_url,
)
from app.core.models import Attachment, FileInfo, Message
from app.core.restrictions import Restrictions
from app.core.sniff import effective_type

__all__ = ["DEFAULT_CHUNK_SIZE", "ReferenceBackend"]

#: 8 MiB: large enough that per-request overhead is small, small enough that a
#: failed chunk costs little to resend.
DEFAULT_CHUNK_SIZE = 8 * 2**20


class ReferenceBackend:
    """The reference server's REST API.

    Args:
        base_url: ``""`` for the page's own origin, or ``"https://host/prefix"``
            where the server's ``/`` lives (a trailing slash is ignored).
        token: the identity's bearer token (``Authorization: Bearer ...``;
            ``access_token`` query parameter for the event stream).
        conversation: the conversation id; any string but ``""``, ``"."``,
            ``".."`` (it is percent-encoded as one path segment).
        identity: the identity name the token belongs to (informational).
    """

    name = "reference"

    def __init__(
        self,
        base_url: str,
        token: str,
        conversation: str = "default",
        *,
        identity: str = "",
    ) -> None:
        if not isinstance(token, str) or any(c in token for c in "\r\n\0"):
            raise ValueError("token must be a string without line breaks")
        self.base_url = normalise_base_url(base_url)
        self.token = token
        self.conversation = conversation
        self.identity = identity
        self._conversation_path = (
            "/api/conversations/" + path_segment(conversation, "conversation id")
        )

    @classmethod
    def from_config(cls, backend: Mapping[str, Any], identity: str) -> "ReferenceBackend":
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
        base_url = backend.get("base_url", "")
        conversation = backend.get("conversation", "default")
        if not isinstance(conversation, str):
            raise ValueError("config backend.conversation must be a string")
        return cls(base_url, token, conversation, identity=identity)

    def __repr__(self) -> str:  # never show the token
        return (
            f"ReferenceBackend(base_url={self.base_url!r}, "
            f"conversation={self.conversation!r}, identity={self.identity!r})"
        )

    # ---------------------------------------------------------------- requests

    def _headers(self, content_type: str = "") -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if content_type:
            headers["Content-Type"] = content_type
        return headers

    def _get(self, path: str, query: "Mapping[str, object] | None" = None) -> Request:
        return Request("GET", join_url(self.base_url, path, query), self._headers())

    def _post_json(self, path: str, payload: object) -> Request:
        return Request(
            "POST", join_url(self.base_url, path), self._headers("application/json"), json=payload
        )

    def restrictions_request(self) -> Request:
        """``GET /api/restrictions``."""
        return self._get("/api/restrictions")

    def history_request(self, after_seq: "int | None" = None) -> Request:
        """``GET /api/conversations/{cid}/messages[?after=seq]``."""
        return self._get(self._conversation_path + "/messages", {"after": _seq(after_seq)})

    def upload_start_request(self, info: FileInfo) -> Request:
        """``POST /api/uploads`` with name, size and the type we believe.

        ``content_type`` is :func:`app.core.sniff.effective_type` -- sniffed
        from the file's first bytes when possible, not just the browser's
        guess from the extension.
        """
        return self._post_json(
            "/api/uploads",
            {"name": info.name, "size": info.size, "content_type": effective_type(info)},
        )

    def upload_chunk_request(
        self, state: UploadState, chunk_size: int = DEFAULT_CHUNK_SIZE
    ) -> Request:
        """``PATCH /api/uploads/{id}`` with ``Upload-Offset`` and the next slice.

        The body is ``FileSlice(offset, min(offset + chunk_size, size))``; the
        last chunk is short unless the size is an exact multiple. Raises
        ValueError when there is nothing left to send (complete upload).
        """
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size <= 0:
            raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
        if state.complete or state.offset >= state.size:
            raise ValueError(
                f"upload {state.upload_id!r} has nothing left to send "
                f"(offset {state.offset} of {state.size})"
            )
        headers = self._headers("application/octet-stream")
        headers["Upload-Offset"] = str(state.offset)
        return Request(
            "PATCH",
            join_url(self.base_url, _upload_path(state)),
            headers,
            body=FileSlice(state.offset, min(state.offset + chunk_size, state.size)),
        )

    def upload_status_request(self, state: UploadState) -> Request:
        """``GET /api/uploads/{id}``: where the server stands (resume)."""
        return self._get(_upload_path(state))

    def send_request(
        self, text: str, upload_ids: Sequence[str], idempotency_key: str
    ) -> Request:
        """``POST /api/conversations/{cid}/messages``.

        Posting again with the same ``idempotency_key`` returns the message
        created the first time (200 instead of 201), so a retry after a lost
        response never duplicates it.
        """
        if not isinstance(idempotency_key, str) or not idempotency_key:
            raise ValueError("idempotency_key must be a non-empty string")
        if not isinstance(text, str):
            raise ValueError("text must be a string")
        if isinstance(upload_ids, str) or not all(isinstance(u, str) for u in upload_ids):
            raise ValueError("upload_ids must be a sequence of upload id strings")
        return self._post_json(
            self._conversation_path + "/messages",
            {"idempotency_key": idempotency_key, "text": text, "attachments": list(upload_ids)},
        )

    def events_url(self, after_seq: "int | None" = None) -> str:
        """``/api/conversations/{cid}/events?access_token=...&after=seq``.

        EventSource cannot send an Authorization header, so the token travels
        in the query (the server accepts ``access_token`` on this endpoint
        only). On reconnect the browser also sends ``Last-Event-ID`` itself.
        """
        return join_url(
            self.base_url,
            self._conversation_path + "/events",
            {"access_token": self.token or None, "after": _seq(after_seq)},
        )

    # ----------------------------------------------------------------- parsing

    def parse_restrictions(self, resp: Response) -> Restrictions:
        data = require_object(self._json(resp), "restrictions", resp.status)
        try:
            return Restrictions.from_mapping(data)
        except (ValueError, TypeError, KeyError) as exc:
            raise bad_response(f"restrictions: {exc}", resp.status) from None

    def parse_history(self, resp: Response) -> list[Message]:
        """The conversation's messages, oldest first (sorted by ``seq``)."""
        data = require_object(self._json(resp), "history", resp.status)
        items = require_list(data, "messages", "history", resp.status)
        messages = [
            self._message(item, f"history.messages[{i}]", resp.status)
            for i, item in enumerate(items)
        ]
        messages.sort(key=lambda m: m.seq)
        return messages

    def parse_upload(self, resp: Response) -> UploadState:
        """Parse the ``Upload`` answer of start, chunk and status requests.

        Raises BackendError; on 409 its ``problem.code`` is ``"offset_mismatch"``,
        ``retryable`` is True and ``offset`` holds the server's offset when the
        server said it. Recover with ``upload_status_request(state)``.
        """
        status = resp.status
        data = require_object(self._json(resp), "upload", status)
        size = require_int(data, "size", "upload", status)
        offset = require_int(data, "offset", "upload", status)
        if offset > size:
            raise bad_response("upload.offset is beyond upload.size", status)
        state = UploadState(
            upload_id=require_str(data, "upload_id", "upload", status, nonempty=True),
            offset=offset,
            size=size,
            complete=require_bool(data, "complete", "upload", status),
            name=_optional_str(data, "name", "upload", status),
            content_type=_optional_str(data, "content_type", "upload", status),
        )
        if state.upload_id in (".", ".."):
            raise bad_response("upload.upload_id is not a usable id", status)
        return state

    def parse_message(self, resp: Response) -> Message:
        """The created message (201), or the one already created with this key (200)."""
        return self._message(self._json(resp), "message", resp.status)

    def parse_event(self, data: str) -> Message:
        """One SSE ``data:`` payload (a Message JSON) to a Message."""
        if not isinstance(data, str):
            raise bad_response("event data should be text")
        return self._message(parse_json(data), "event")

    # ---------------------------------------------------------------- internal

    def _json(self, resp: Response) -> Any:
        """The JSON body of a 2xx response; BackendError for anything else."""
        if not resp.ok:
            raise self._error(resp)
        return parse_json(resp.text, resp.status)

    def _error(self, resp: Response) -> BackendError:
        """Map a non-2xx answer, using ``{"error": {code, message, hint}}`` when present.

        A 409 with code ``offset_mismatch`` (or a 409 naming an offset) becomes
        a retryable BackendError whose ``offset`` is the server's offset.
        """
        body: Any = None
        if resp.status != 0 and resp.text:
            try:
                body = parse_json(resp.text)
            except BackendError:
                body = None  # e.g. an HTML error page from a proxy: use our wording
        err = body.get("error") if isinstance(body, dict) else None
        if isinstance(err, str):
            err = {"message": err}
        if not isinstance(err, dict):
            err = {}
        code = _str_or_none(err.get("code"))
        message = _str_or_none(err.get("message"))
        hint = _str_or_none(err.get("hint"))
        if resp.status == 409 and code in (None, "offset_mismatch"):
            offset = _offset_or_none(err.get("offset"))
            if offset is None and isinstance(body, dict):
                offset = _offset_or_none(body.get("offset"))
            if offset is None:
                offset = _offset_or_none(resp.headers.get("upload-offset"))
            if code == "offset_mismatch" or offset is not None:
                return http_error(
                    resp,
                    "offset_mismatch",
                    message or "The server holds a different part of this upload than expected.",
                    hint or "Retry: the upload resumes from where the server stands.",
                    offset=offset,
                    retryable=True,  # after upload_status_request; see parse_upload
                )
        return http_error(resp, code, message, hint)

    def _message(self, value: Any, where: str, status: "int | None" = None) -> Message:
        data = require_object(value, where, status)
        items = require_list(data, "attachments", where, status)
        attachments = tuple(
            self._attachment(item, f"{where}.attachments[{i}]", status)
            for i, item in enumerate(items)
        )
        if "conversation" in data and not isinstance(data["conversation"], str):
            raise bad_response(f"{where}.conversation should be a string", status)
        key = data.get("idempotency_key")
        if key is not None and not isinstance(key, str):
            raise bad_response(f"{where}.idempotency_key should be a string", status)
        return Message(
            id=require_str(data, "id", where, status, nonempty=True),
            seq=require_int(data, "seq", where, status),
            sender=require_str(data, "sender", where, status),
            text=require_str(data, "text", where, status),
            attachments=attachments,
            created_at=require_timestamp(data, "created_at", where, status),
            idempotency_key=key or "",
        )

    def _attachment(self, value: Any, where: str, status: "int | None") -> Attachment:
        data = require_object(value, where, status)
        url = require_str(data, "url", where, status, nonempty=True)
        try:
            url = resolve_url(self.base_url, url)
        except ValueError:
            raise bad_response(f"{where}.url is not an http(s) URL or path", status) from None
        return Attachment(
            id=require_str(data, "id", where, status, nonempty=True),
            name=require_str(data, "name", where, status),
            size=require_int(data, "size", where, status),
            content_type=require_str(data, "content_type", where, status),
            url=url,
        )


def _upload_path(state: UploadState) -> str:
    return "/api/uploads/" + path_segment(state.upload_id, "upload id")


def _seq(after_seq: "int | None") -> "int | None":
    if after_seq is None:
        return None
    if isinstance(after_seq, bool) or not isinstance(after_seq, int) or after_seq < 0:
        raise ValueError(f"after_seq must be a non-negative integer or None, got {after_seq!r}")
    return after_seq


def _optional_str(data: dict, key: str, where: str, status: "int | None") -> str:
    if data.get(key) is None:
        return ""
    return require_str(data, key, where, status)


def _str_or_none(value: Any) -> "str | None":
    return value if isinstance(value, str) and value.strip() else None


def _offset_or_none(value: Any) -> "int | None":
    if isinstance(value, str):
        value = value.strip()
        return int(value) if value.isascii() and value.isdigit() else None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None
