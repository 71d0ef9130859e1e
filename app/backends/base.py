"""The sans-IO shape every conversations backend adapter shares.

An adapter never performs I/O. Like h11, it only *builds* requests and
*parses* responses; the browser shell (``app/browser/transport.py``) owns the
network and runs what the adapter asks for::

    req = backend.history_request()          # adapter: a Request value
    resp = await transport.perform(req)      # shell: fetch / XMLHttpRequest
    messages = backend.parse_history(resp)   # adapter: values, or BackendError

That keeps every adapter testable under CPython with plain values, and the
same code runs unchanged in Pyodide. File bytes never enter Python: an upload
chunk is a :class:`FileSlice` and the transport sends ``file.slice(start, end)``.

Errors are values too. Every ``parse_*`` method raises :class:`BackendError`
carrying a :class:`~app.core.models.Problem` (code, human message, hint) and a
``retryable`` flag -- never a ``KeyError``, ``TypeError`` or a JSON traceback.

Adding an adapter (Matrix, Twilio Conversations, ...)
-----------------------------------------------------
1. Create ``app/backends/<name>.py`` with a class implementing every member of
   the :class:`Backend` protocol below. Import from ``app.core`` and the
   standard library only -- no ``js``, ``pyscript``, ``pyodide`` or third-party
   package, and no I/O (no sockets, no clocks, no randomness you cannot inject).
2. Map the backend's concepts onto ours:

   * ``restrictions``: if the backend has no endpoint, return a Request for a
     static file or let ``parse_restrictions`` ignore the response and return
     the backend's known limits (e.g. Matrix ``/_matrix/media/v3/config``
     gives ``m.upload.size``).
   * uploads: the contract is resumable, chunked (start / chunk / status). A
     backend that only takes a single POST (Matrix media upload, Twilio MCS)
     can return one chunk covering the whole file -- ``FileSlice(0, size)`` --
     and report ``complete=True`` from ``parse_upload``.
   * ``send_request``: put our ``idempotency_key`` where the backend
     deduplicates (Matrix: the transaction id in the PUT path; Twilio: an
     ``X-Twilio-Idempotency-Token``-like header or message attributes) and
     read it back in ``parse_message`` / ``parse_event`` so the outbox can
     recognise its own echo.
   * ``events_url`` / ``parse_event``: one ``Message`` per EventSource
     ``data:`` payload. A backend without Server-Sent Events needs a shell
     transport for its stream (long-poll ``/sync``, websockets); keep the
     parsing here and the loop in ``app/browser``.

3. Turn HTTP failures into :class:`BackendError` with :func:`http_error` (it
   knows the status classes, retryability, ``Retry-After`` and the fallback
   wording); pass it the backend's own error code/message when the body has
   one. Validate every field you read with the ``require_*`` helpers so a
   bad payload becomes ``BackendError(code="bad_response")``.
4. Register a factory in ``ADAPTERS`` in ``app/backends/__init__.py``:
   ``create_backend(config, identity)`` passes it ``config["backend"]`` and the
   identity name. Write ``tests/unit/test_backend_<name>.py`` in the style of
   ``test_backend_reference.py``.
"""

import json as _json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping, Protocol, runtime_checkable
from urllib.parse import quote, urlencode, urlsplit

from app.core.models import FileInfo, Message, Problem
from app.core.restrictions import Restrictions

__all__ = [
    "Backend",
    "BackendError",
    "FileSlice",
    "Request",
    "Response",
    "UploadState",
    "RETRYABLE_STATUSES",
    "TIMED_OUT",
    "bad_response",
    "http_error",
    "is_retryable",
    "join_url",
    "normalise_base_url",
    "parse_json",
    "path_segment",
    "require_bool",
    "require_int",
    "require_list",
    "require_object",
    "require_str",
    "require_timestamp",
    "resolve_url",
]


# --------------------------------------------------------------------------
# Values exchanged with the transport
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class FileSlice:
    """Bytes ``[start, end)`` of the file being uploaded.

    The transport sends ``handle.slice(start, end)`` of the JS ``File`` it
    holds; the bytes never enter Python (reading a file into Pyodide grows
    the wasm heap for good).
    """

    start: int
    end: int

    def __post_init__(self) -> None:
        if self.start < 0 or self.end < self.start:
            raise ValueError(f"invalid file slice [{self.start}, {self.end})")

    @property
    def length(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class Request:
    """One HTTP request for the transport to perform.

    ``json`` is serialised by the transport (``JSON.stringify``) when it is
    not None; ``body`` is a slice of the staged file. At most one is set.
    ``headers`` already include ``Authorization`` and ``Content-Type``.
    """

    method: str
    url: str
    headers: dict[str, str]
    json: object = None
    body: "FileSlice | None" = None

    def __post_init__(self) -> None:
        if self.json is not None and self.body is not None:
            raise ValueError("a Request carries either json or a file body, not both")


@dataclass(frozen=True)
class Response:
    """What the transport got back.

    ``status`` is 0 when the request never reached an HTTP answer (offline,
    DNS, CORS refusal, abort); ``text`` then holds the browser's error text,
    or exactly :data:`TIMED_OUT` when the transport gave up waiting.
    Header names are lower-cased here whatever the transport passed.
    """

    status: int
    headers: dict[str, str]
    text: str

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "headers", {str(k).lower(): str(v) for k, v in self.headers.items()}
        )

    @property
    def ok(self) -> bool:
        return 200 <= self.status <= 299


@dataclass(frozen=True)
class UploadState:
    """Where a resumable upload stands, as the server last reported it.

    ``offset`` is the number of bytes the server holds; the next chunk starts
    there. ``name`` and ``content_type`` echo what the server recorded (empty
    when the backend does not say).
    """

    upload_id: str
    offset: int
    size: int
    complete: bool
    name: str = ""
    content_type: str = ""

    @property
    def progress(self) -> float:
        """Fraction of the file the server holds, 0..1 (1 for a complete upload)."""
        if self.complete or self.size <= 0:
            return 1.0
        return min(1.0, self.offset / self.size)


class BackendError(Exception):
    """A backend call failed; ``problem`` says what happened for humans.

    Attributes:
        problem: code, message and hint ready for the UI.
        retryable: True when performing the same step again later may
            succeed (status 0, 408, 429, 5xx, and ``offset_mismatch``, which
            is retried after re-synchronising -- see below).
        status: the HTTP status (0 for network failures; None when the error
            is not about a response, e.g. a malformed event payload).
        offset: for ``offset_mismatch`` (HTTP 409 on an upload chunk), the
            offset the server holds when it said so, else None.
        retry_after: seconds from a ``Retry-After`` header, else None.
        detail: technical text for logs (the browser's network error, the
            server's own wording where we show our own); never shown as-is.

    Upload resumption: on any retryable error while uploading (network
    failure, 5xx, or ``problem.code == "offset_mismatch"``) the caller asks
    the server where it stands with ``upload_status_request(state)``, parses
    that with ``parse_upload`` and continues from the returned state. That
    single path covers a lost response, a partly stored chunk and a
    duplicated chunk alike.
    """

    def __init__(
        self,
        problem: Problem,
        retryable: bool = False,
        *,
        status: "int | None" = None,
        offset: "int | None" = None,
        retry_after: "float | None" = None,
        detail: str = "",
    ) -> None:
        super().__init__(problem.message)
        self.problem = problem
        self.retryable = retryable
        self.status = status
        self.offset = offset
        self.retry_after = retry_after
        self.detail = detail

    @property
    def code(self) -> str:
        return self.problem.code

    def __repr__(self) -> str:
        return (
            f"BackendError({self.problem!r}, retryable={self.retryable!r}, "
            f"status={self.status!r})"
        )


# --------------------------------------------------------------------------
# The protocol
# --------------------------------------------------------------------------

@runtime_checkable
class Backend(Protocol):
    """What every adapter implements. No method performs I/O.

    ``*_request`` methods return a :class:`Request`; the matching ``parse_*``
    method takes the transport's :class:`Response` and returns values or
    raises :class:`BackendError`.
    """

    base_url: str
    conversation: str

    def restrictions_request(self) -> Request:
        """Ask for the attachment rules the backend enforces."""
        ...

    def parse_restrictions(self, resp: Response) -> Restrictions:
        ...

    def history_request(self, after_seq: "int | None" = None) -> Request:
        """All messages of the conversation (only those after ``after_seq`` when given)."""
        ...

    def parse_history(self, resp: Response) -> list[Message]:
        """Messages oldest first."""
        ...

    def upload_start_request(self, info: FileInfo) -> Request:
        """Declare a new upload (name, size, type); the server may refuse it already."""
        ...

    def upload_chunk_request(self, state: UploadState, chunk_size: int = ...) -> Request:
        """The next chunk: ``FileSlice(offset, min(offset + chunk_size, size))``."""
        ...

    def upload_status_request(self, state: UploadState) -> Request:
        """Ask where an upload stands (resume after a failure or offset_mismatch)."""
        ...

    def parse_upload(self, resp: Response) -> UploadState:
        """Parse the answer to start, chunk and status requests alike."""
        ...

    def send_request(
        self, text: str, upload_ids: "tuple[str, ...] | list[str]", idempotency_key: str
    ) -> Request:
        """Post a message; the same idempotency_key must never create two messages."""
        ...

    def parse_message(self, resp: Response) -> Message:
        ...

    def events_url(self, after_seq: "int | None" = None) -> str:
        """EventSource URL (credentials in the query: EventSource sends no headers)."""
        ...

    def parse_event(self, data: str) -> Message:
        """One event's ``data:`` payload to a Message."""
        ...


# --------------------------------------------------------------------------
# URL helpers
# --------------------------------------------------------------------------

def normalise_base_url(base_url: str) -> str:
    """Validate ``base_url`` and drop a trailing slash.

    Accepted: ``""`` (same origin), ``"/prefix"`` (same origin under a path),
    ``"http(s)://host[:port][/prefix]"``. Anything else is a configuration
    mistake and raises ValueError.
    """
    if not isinstance(base_url, str):
        raise ValueError(f"base_url must be a string, not {type(base_url).__name__}")
    if base_url == "":
        return ""
    try:
        parts = urlsplit(base_url)
    except ValueError as exc:
        raise ValueError(f"base_url is not a valid URL: {base_url!r} ({exc})") from None
    if parts.query or parts.fragment:
        raise ValueError(f"base_url must not have a query or fragment: {base_url!r}")
    if parts.scheme:
        if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
            raise ValueError(
                f"base_url must be '' or an http(s) URL like 'https://host/prefix', got {base_url!r}"
            )
    elif not base_url.startswith("/") or base_url.startswith("//"):
        raise ValueError(
            f"base_url must be '' , a path starting with '/', or an http(s) URL, got {base_url!r}"
        )
    return base_url.rstrip("/")


def path_segment(value: str, what: str) -> str:
    """Percent-encode one path segment (``/``, ``?``, ``#``, ``%`` ... included).

    ``"."`` and ``".."`` are refused: browsers resolve them (even encoded as
    ``%2e``) and the request would land on another path.
    """
    if not isinstance(value, str) or value in ("", ".", ".."):
        raise ValueError(f"invalid {what}: {value!r}")
    return quote(value, safe="")


def join_url(base_url: str, path: str, query: "Mapping[str, object] | None" = None) -> str:
    """``base_url`` (already normalised) + ``path`` (already encoded) + query."""
    url = base_url + path
    if query:
        pairs = [(k, str(v)) for k, v in query.items() if v is not None]
        if pairs:
            url += "?" + urlencode(pairs, quote_via=quote, safe="")
    return url


def resolve_url(base_url: str, url: str) -> str:
    """Resolve a URL the server sent against ``base_url``.

    Server paths are relative to the server root, which is ``base_url`` (the
    API itself lives at ``base_url + "/api/..."``), so ``"/media/x"`` becomes
    ``base_url + "/media/x"`` -- also when the server sits under a prefix.
    Absolute http(s) URLs are kept; other schemes (``javascript:``,
    ``data:``...) raise ValueError since they would end up in ``href``/``src``.
    """
    if url.startswith("//"):
        return url
    scheme = urlsplit(url).scheme
    if scheme:
        if scheme.lower() in ("http", "https"):
            return url
        raise ValueError(f"unsupported URL scheme {scheme!r}")
    if url.startswith("/"):
        return base_url + url
    return base_url + "/" + url


# --------------------------------------------------------------------------
# Response helpers
# --------------------------------------------------------------------------

#: Statuses worth retrying as they are; 5xx are added by :func:`is_retryable`.
RETRYABLE_STATUSES = frozenset({0, 408, 429})
TIMED_OUT = "timeout"  # Response.text of a status-0 answer when the transport's timer fired

_MAX_SERVER_TEXT = 500

# status -> (code, message, hint) used when the server gives no usable error.
_FALLBACK: dict[int, tuple[str, str, str]] = {
    0: ("network", "Could not reach the server.", "Check your connection, then retry."),
    400: ("bad_request", "The server did not understand the request.",
          "Reload the page and try again."),
    401: ("unauthorized", "Your session is not authorised: the server did not accept the access token.",
          "Reload the page; if it keeps happening, ask for a new access link."),
    403: ("forbidden", "You are not allowed to do this in this conversation.",
          "Ask the conversation's owner for access."),
    404: ("not_found", "The server could not find what was asked for.",
          "Reload the page; the conversation or upload may no longer exist."),
    408: ("timeout", "The server took too long to answer.", "Retry in a moment."),
    409: ("conflict", "The server refused the request because something changed meanwhile.",
          "Reload the page and try again."),
    413: ("too_large", "The file is larger than the server accepts.", "Choose a smaller file."),
    415: ("type_not_accepted", "The server does not accept this type of file.",
          "Choose a file of an accepted type."),
    422: ("unprocessable", "The server could not accept this request.",
          "Check the message and its attachment, then try again."),
    429: ("rate_limited", "Too many requests to the server.", "Wait a moment, then retry."),
}


def is_retryable(status: int) -> bool:
    """Network failures, 408, 429 and 5xx: the same request may succeed later."""
    return status in RETRYABLE_STATUSES or 500 <= status <= 599


def _fallback(status: int) -> tuple[str, str, str]:
    if status in _FALLBACK:
        return _FALLBACK[status]
    if 500 <= status <= 599:
        return ("server_error", f"The server had a problem (HTTP {status}).",
                "Retry in a moment; if it keeps failing, tell the administrator.")
    if 400 <= status <= 499:
        return ("http_error", f"The server refused the request (HTTP {status}).",
                "Reload the page and try again.")
    return ("unexpected_status", f"The server gave an unexpected answer (HTTP {status}).",
            "Retry in a moment; if it keeps failing, tell the administrator.")


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_SERVER_TEXT else text[: _MAX_SERVER_TEXT - 1] + "\u2026"


def _retry_after(resp: Response) -> "float | None":
    value = resp.headers.get("retry-after", "").strip()
    if value.isascii() and value.isdigit():
        return float(value)
    return None  # HTTP-date form: not worth a clock dependency here


def http_error(
    resp: Response,
    code: "str | None" = None,
    message: "str | None" = None,
    hint: "str | None" = None,
    *,
    offset: "int | None" = None,
    retryable: "bool | None" = None,
) -> BackendError:
    """Build the BackendError for a non-2xx response.

    ``code``/``message``/``hint`` come from the backend's own error body when
    it has one; missing parts fall back to wording by status. Two statuses
    always use our wording, keeping the server's text in ``detail``:
    0 (the browser's error text is meaningless to users) and 401 (token
    problems are explained the same way whatever the backend says).
    ``retryable`` overrides the status rule (e.g. a 409 that a resync fixes).
    """
    status = resp.status
    fb_code, fb_message, fb_hint = _fallback(status)
    detail = ""
    if status == 0:
        detail = resp.text
        code, message, hint = fb_code, fb_message, fb_hint
        if resp.text == TIMED_OUT:
            code, message, hint = "timeout", "The server did not answer in time.", "Retry in a moment."
    elif status == 401:
        detail = message or ""
        code, message, hint = fb_code, fb_message, fb_hint
    problem = Problem(
        code=code or fb_code,
        message=_clip(message) if message else fb_message,
        hint=_clip(hint) if hint else fb_hint,
    )
    return BackendError(
        problem,
        retryable=is_retryable(status) if retryable is None else retryable,
        status=status,
        offset=offset,
        retry_after=_retry_after(resp),
        detail=detail,
    )


def bad_response(what: str, status: "int | None" = None) -> BackendError:
    """The server answered, but not with what the contract promises."""
    return BackendError(
        Problem(
            code="bad_response",
            message=f"The server sent a response Attache could not read ({what}).",
            hint="Reload the page; if it keeps happening, the server may be a different "
                 "version than this page expects.",
        ),
        retryable=False,
        status=status,
    )


def parse_json(text: str, status: "int | None" = None) -> Any:
    """``json.loads`` that raises BackendError(bad_response) instead of tracebacks."""
    try:
        return _json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError, TypeError):
        raise bad_response("expected JSON", status) from None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def require_object(value: Any, where: str, status: "int | None" = None) -> dict:
    if not isinstance(value, dict):
        raise bad_response(f"{where} should be an object", status)
    return value


def _get(obj: dict, key: str, where: str, status: "int | None") -> Any:
    if key not in obj:
        raise bad_response(f"{where}.{key} is missing", status)
    return obj[key]


def require_str(obj: dict, key: str, where: str, status: "int | None" = None,
                *, nonempty: bool = False) -> str:
    value = _get(obj, key, where, status)
    if not isinstance(value, str):
        raise bad_response(f"{where}.{key} should be a string", status)
    if nonempty and not value:
        raise bad_response(f"{where}.{key} should not be empty", status)
    return value


def require_int(obj: dict, key: str, where: str, status: "int | None" = None,
                *, minimum: "int | None" = 0) -> int:
    value = _get(obj, key, where, status)
    # bool is an int subclass; 3.0 is not an integer on the wire.
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad_response(f"{where}.{key} should be an integer", status)
    if minimum is not None and value < minimum:
        raise bad_response(f"{where}.{key} should be at least {minimum}", status)
    return value


def require_bool(obj: dict, key: str, where: str, status: "int | None" = None) -> bool:
    value = _get(obj, key, where, status)
    if not isinstance(value, bool):
        raise bad_response(f"{where}.{key} should be true or false", status)
    return value


def require_list(obj: dict, key: str, where: str, status: "int | None" = None) -> list:
    value = _get(obj, key, where, status)
    if not isinstance(value, list):
        raise bad_response(f"{where}.{key} should be a list", status)
    return value


def require_timestamp(obj: dict, key: str, where: str, status: "int | None" = None) -> str:
    """An ISO 8601 string (``Z`` allowed); returned unchanged."""
    value = require_str(obj, key, where, status)
    try:
        datetime.fromisoformat(value)
    except ValueError:
        raise bad_response(f"{where}.{key} should be an ISO 8601 time", status) from None
    return value
