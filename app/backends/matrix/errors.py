"""Matrix error answers (``{"errcode", "error"}``) in the words the reference backend uses.

The server's own text is technical ("User @x not in room !y") and goes to
``BackendError.detail`` for logs; people read our sentence, built by
:func:`app.core.errors.http_error` so statuses, retryability and
``Retry-After`` are judged the same way for every backend.
"""

from __future__ import annotations

from typing import Any

from app.backends.matrix.compat import BackendError, Response, annotate, http_error, parse_json
from app.core.humanize import human_size
from app.core.models import FileInfo, Problem


def matrix_error(
    resp: Response,
    *,
    file: FileInfo | None = None,
    limit: int | None = None,
    room: str = "",
) -> BackendError:
    """The BackendError for a non-2xx answer.

    ``file`` and ``limit`` (the homeserver's ``m.upload.size``, when known)
    name the file in a size problem; ``room`` names the room when it is not found.
    """
    errcode, text, body = _read(resp)
    status = resp.status
    if status == 0 or status == 401:
        err = http_error(resp, message=text or None)
    elif status == 413 or errcode == "M_TOO_LARGE":
        err = http_error(resp, "too_large", _too_large(file, limit), "Choose a smaller file.",
                         retryable=False)
    elif status == 429 or errcode == "M_LIMIT_EXCEEDED":
        err = http_error(resp, "rate_limited", "The homeserver asked Attache to slow down.", retryable=True)
        if err.retry_after is None:
            annotate(err, retry_after=_wait(resp, body))
    elif status == 403 and "not in room" in text.lower():
        err = http_error(resp, "not_in_room", *_NOT_IN_ROOM)
    elif errcode == "M_RESOURCE_LIMIT_EXCEEDED":
        err = http_error(resp, "quota_exceeded", "The homeserver has reached a limit on its resources.",
                         "Tell the homeserver's administrator.", retryable=False)
    elif status == 404 and errcode == "M_NOT_FOUND" and room:
        err = http_error(resp, "room_not_found", f"The room {room} does not exist on the homeserver.",
                         "Check the room in Attache's configuration.")
    elif errcode == "M_UNRECOGNIZED":
        err = http_error(resp, "unsupported_server", "The homeserver does not support a request "
                         "Attache needs.", "Tell the administrator; Attache needs Matrix 1.11 or later.")
    else:
        err = http_error(resp)
    if status != 0 and (errcode or text):
        annotate(err, detail=f"{errcode}: {text}".strip(": "))
    return err


_NOT_IN_ROOM = ("You are not a member of this Matrix room, so you cannot read or post in it.",
                "Ask someone in the room to invite you, then reload.")


def not_in_room() -> BackendError:
    """We left the room (or were removed) while the canvas was open."""
    return BackendError(Problem("not_in_room", *_NOT_IN_ROOM), retryable=False, status=403)


def _read(resp: Response) -> tuple[str, str, dict]:
    """``(errcode, error, body)`` from a Matrix error body; empty when it is not one."""
    body: Any = None
    if resp.status != 0 and resp.text:
        try:
            body = parse_json(resp.text)
        except BackendError:
            body = None  # an HTML page from a proxy: our wording
    if not isinstance(body, dict):
        return "", "", {}
    errcode, text = body.get("errcode"), body.get("error")
    return (errcode if isinstance(errcode, str) else "", text if isinstance(text, str) else "", body)


def _wait(resp: Response, body: dict) -> float | None:
    """Seconds to wait: the ``Retry-After`` header (Matrix 1.10+), else the older ``retry_after_ms``."""
    header = resp.headers.get("retry-after", "").strip()
    if header.isascii() and header.isdigit():
        return float(header)
    ms = body.get("retry_after_ms")
    return ms / 1000 if isinstance(ms, int) and not isinstance(ms, bool) and ms >= 0 else None


def _too_large(file: FileInfo | None, limit: int | None) -> str:
    name = file.name.strip() if file is not None and file.name.strip() else "The file"
    if file is not None and limit:
        return f"{name} is {human_size(file.size)}; the homeserver accepts files up to {human_size(limit)}"
    return f"{name} is larger than the homeserver accepts."
