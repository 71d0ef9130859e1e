"""Failed HTTP exchanges as values people can read: :class:`BackendError` and its wording.

Adapters' ``parse_*`` methods raise :class:`BackendError` (never a ``KeyError``
or a JSON traceback); upload machines report the same :class:`Problem` in
``Failed``. The wording by status lives here once, so a 413 reads the same
whichever part of the page met it.
"""

from __future__ import annotations

import json
from typing import Any

from app.core.http import Response, is_retryable
from app.core.models import Problem

_MAX_SERVER_TEXT = 500

# status -> (code, message, hint) used when the server gives no usable error.
_FALLBACK: dict[int, tuple[str, str, str]] = {
    0: ("network", "Could not reach the server.", "Check your connection, then retry."),
    400: ("bad_request", "The server did not understand the request.", "Reload the page and try again."),
    401: ("unauthorized", "Sign in again: the server did not accept your access token.",
          "Your draft and unsent messages are kept."),
    403: ("forbidden", "You are not allowed to do this in this conversation.",
          "Ask the conversation's owner for access."),
    404: ("not_found", "The server could not find what was asked for.",
          "Reload the page; the conversation or upload may no longer exist."),
    408: ("timeout", "The server took too long to answer.", "Retry in a moment."),
    409: ("conflict", "The server refused the request because something changed meanwhile.",
          "Reload the page and try again."),
    410: ("gone", "The server no longer has what was asked for.", "Retry to start again."),
    412: ("protocol_version", "The server speaks another version of the upload protocol than this page.",
          "Tell the administrator: the page and the server do not match."),
    413: ("too_large", "The file is larger than the server accepts.", "Choose a smaller file."),
    415: ("type_not_accepted", "The server does not accept this type of file.", "Choose a file of an accepted type."),
    422: ("unprocessable", "The server could not accept this request.",
          "Check the message and its attachment, then try again."),
    423: ("locked", "The server is still busy with the previous part of this upload.", "Retry in a moment."),
    429: ("rate_limited", "Too many requests to the server.", "Wait a moment, then retry."),
}
_TIMEOUT = ("timeout", "The server did not answer in time.", "Retry in a moment.")


class BackendError(Exception):
    """A backend call failed; ``problem`` says what happened for humans.

    ``retryable`` is True when performing the same step again later may
    succeed (status 0, 408, 423, 429, 5xx). ``status`` is the HTTP status (0 for
    network failures; None when the error is not about a status, e.g. a
    malformed event payload).
    """

    retry_after: float | None = None   # a wait the server asked for (Matrix: retry_after_ms), when it said
    detail: str = ""                   # the server's own words, for logs (people read `problem`)

    def __init__(self, problem: Problem, retryable: bool = False, *, status: int | None = None) -> None:
        super().__init__(problem.message)
        self.problem = problem
        self.retryable = retryable
        self.status = status

    @property
    def code(self) -> str:
        return self.problem.code

    def __repr__(self) -> str:
        return f"BackendError({self.problem!r}, retryable={self.retryable!r}, status={self.status!r})"


def _fallback(status: int) -> tuple[str, str, str]:
    if status in _FALLBACK:
        return _FALLBACK[status]
    if 500 <= status <= 599:
        return ("server_error", f"The server had a problem (HTTP {status}).",
                "Retry in a moment; if it keeps failing, tell the administrator.")
    if 400 <= status <= 499:
        return ("http_error", f"The server refused the request (HTTP {status}).", "Reload the page and try again.")
    return ("unexpected_status", f"The server gave an unexpected answer (HTTP {status}).",
            "Retry in a moment; if it keeps failing, tell the administrator.")


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_SERVER_TEXT else text[: _MAX_SERVER_TEXT - 1] + "\u2026"


def http_error(resp: Response, code: str | None = None, message: str | None = None,
               hint: str | None = None, *, retryable: bool | None = None) -> BackendError:
    """The BackendError for a non-2xx response.

    ``code``/``message``/``hint`` come from the backend's own error body when
    it has one; missing parts fall back to wording by status. Status 0 (the
    browser's error text means nothing to users) and 401 (token problems read
    the same whatever the backend says) always use our wording.
    """
    status = resp.status
    fb_code, fb_message, fb_hint = _TIMEOUT if resp.timed_out else _fallback(status)
    if status in (0, 401):
        code = message = hint = None
    problem = Problem(code=code or fb_code,
                      message=_clip(message) if message else fb_message,
                      hint=_clip(hint) if hint else fb_hint)
    return BackendError(problem, retryable=is_retryable(status) if retryable is None else retryable, status=status)


def error_from_response(resp: Response) -> BackendError:
    """Map a non-2xx answer, using the problem body when there is one.

    Reads ``{"error": {"code", "message", "hint"}}`` (the reference server,
    and our tus server's errors) and ``{"error": "text"}`` (Matrix's shape);
    anything else -- an HTML page from a proxy, tus servers' plain text --
    gets the wording by status. An explicit ``"retryable": true|false`` in the
    problem wins over the status (a 502 for refused Twilio credentials is not
    something retrying fixes).
    """
    err: Any = None
    if resp.status != 0 and resp.text:
        try:
            body = json.loads(resp.text)
        except (ValueError, RecursionError):
            body = None
        err = body.get("error") if isinstance(body, dict) else None
    if isinstance(err, str):
        err = {"message": err}
    if not isinstance(err, dict):
        err = {}
    code, message, hint = (_str_or_none(err.get(k)) for k in ("code", "message", "hint"))
    retryable = err.get("retryable")
    return http_error(resp, code, message, hint, retryable=retryable if isinstance(retryable, bool) else None)


def bad_response(what: str, status: int | None = None) -> BackendError:
    """The server answered, but not with what the contract promises."""
    return BackendError(
        Problem(code="bad_response",
                message=f"The server sent a response Attache could not read ({what}).",
                hint="Reload the page; if it keeps happening, the server may be a different "
                     "version than this page expects."),
        retryable=False, status=status)


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None
