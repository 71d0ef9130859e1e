"""The values exchanged with the network shell: a Request to perform, the Response it got.

Sans-IO like h11: the adapters and upload machines only *build* requests and
*read* responses; ``app/browser/transport.py`` performs them with fetch. So
everything that decides what to send is tested under CPython with plain values,
and the same code runs unchanged in Pyodide. File bytes never enter Python: an
upload body is a :class:`FileSlice` and the transport sends ``file.slice(start, end)``
(reading a file into Pyodide grows the wasm heap for good).
"""

from __future__ import annotations

from dataclasses import dataclass

#: ``Response.text`` of a status-0 answer when the transport's timer fired.
TIMED_OUT = "timeout"

#: Statuses worth retrying as they are; 5xx are added by :func:`is_retryable`.
#: 423 Locked: a tus server still busy with the previous request on this upload.
RETRYABLE_STATUSES = frozenset({0, 408, 423, 429})


@dataclass(frozen=True)
class FileSlice:
    """Bytes ``[start, end)`` of the file being uploaded."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if self.start < 0 or self.end < self.start:
            raise ValueError(f"invalid file slice [{self.start}, {self.end})")


@dataclass(frozen=True)
class Request:
    """One HTTP request for the transport to perform.

    ``json`` is serialised by the transport when it is not None; ``body`` is a
    slice of the file being uploaded. At most one is set. ``headers`` are
    complete (``Authorization``, ``Content-Type``, tus headers...).
    ``timeout`` (seconds) is for requests the server holds open on purpose,
    like a long-poll; None lets the transport choose.
    """

    method: str
    url: str
    headers: dict[str, str]
    json: object = None
    body: FileSlice | None = None
    timeout: float | None = None

    def __post_init__(self) -> None:
        if self.json is not None and self.body is not None:
            raise ValueError("a Request carries either json or a file body, not both")


@dataclass(frozen=True)
class Response:
    """What the transport got back.

    ``status`` is 0 when the request never reached an HTTP answer (offline,
    DNS, CORS refusal); ``text`` then holds the browser's error text, or
    exactly :data:`TIMED_OUT` when the transport gave up waiting. Header names
    are lower-cased here whatever the transport passed.
    """

    status: int
    headers: dict[str, str]
    text: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "headers", {str(k).lower(): str(v) for k, v in self.headers.items()})

    @property
    def ok(self) -> bool:
        return 200 <= self.status <= 299

    @property
    def timed_out(self) -> bool:
        return self.status == 0 and self.text == TIMED_OUT


def is_retryable(status: int) -> bool:
    """Network failures, 408, 423, 429 and 5xx: the same request may succeed later."""
    return status in RETRYABLE_STATUSES or 500 <= status <= 599


def header_int(resp: Response, name: str) -> int | None:
    """A non-negative integer header (``Upload-Offset``...), None when absent or malformed."""
    value = resp.headers.get(name.lower(), "").strip()
    return int(value) if value.isascii() and value.isdigit() else None


def retry_after(resp: Response) -> float | None:
    """Seconds from a ``Retry-After`` header; None when absent (or in its HTTP-date form,
    which would need a clock here)."""
    seconds = header_int(resp, "retry-after")
    return None if seconds is None else float(seconds)
