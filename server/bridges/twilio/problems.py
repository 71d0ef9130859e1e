"""Twilio's failures as our JSON problems, each saying whether Retry can help.

Why one table: the canvas shows `{"error": {"code", "message", "hint"}}` as a
notice and offers Retry when `retryable` is true; Twilio's own error codes
(https://www.twilio.com/docs/api/errors) decide which notice. Twilio's text
is never copied into ours: it can name hosts and SIDs the page should not see.
"""

from __future__ import annotations

import json

import httpx
from twilio.base.exceptions import TwilioException
from twilio.http.response import Response as TwilioResponse

from server.http.api_error import ApiError

# Twilio error code -> (our status, our code, message, hint, retryable)
_BY_CODE: dict[int, tuple[int, str, str, str, bool]] = {
    20003: (502, "twilio_auth", "Twilio refused this server's credentials.",
            "An administrator must check the API key (api_key_sid and its secret file).", False),
    20404: (404, "conversation_not_found", "Twilio has no such conversation (or it was deleted).",
            "Check the conversation link; closed conversations cannot receive messages.", False),
    20429: (503, "twilio_rate_limited", "Twilio is limiting how fast messages are sent.",
            "Wait a moment and retry.", True),
    50512: (413, "too_large", "Twilio refused the file: it is larger than this channel accepts.",
            "Send a smaller file, or a link to it.", False),
}
_BY_STATUS: dict[int, tuple[int, str, str, str, bool]] = {
    401: _BY_CODE[20003],
    403: (502, "twilio_forbidden", "Twilio did not allow this action for this server's API key.",
          "An administrator must check the API key's permissions.", False),
    404: _BY_CODE[20404],
    413: _BY_CODE[50512],
    429: _BY_CODE[20429],
}


class McsError(Exception):
    """A Media Content Service failure: HTTP status and Twilio error code when it sent one."""

    def __init__(self, status: int, code: int | None, message: str) -> None:
        super().__init__(message)
        self.status, self.code = status, code


def problem(status: int, code: int | None) -> ApiError:
    """The ApiError for a Twilio answer of `status` with Twilio error `code`."""
    if code in _BY_CODE:
        entry = _BY_CODE[code]
    elif status in _BY_STATUS:
        entry = _BY_STATUS[status]
    elif status >= 500:
        entry = (502, "twilio_unavailable", "Twilio is not answering properly right now.",
                 "Retry in a moment.", True)
    else:
        entry = (422, "twilio_refused", "Twilio refused this message.",
                 "Check the message and the conversation; retrying the same message will not help.", False)
    http, ours, message, hint, retryable = entry
    extra = {"retryable": retryable, "twilio_code": code} if code else {"retryable": retryable}
    return ApiError(http, ours, message, hint, **extra)


def from_exception(exc: BaseException) -> ApiError:
    """Map anything the bridge's Twilio calls raise; unknown exceptions are re-raised."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, McsError):
        return problem(exc.status, exc.code)
    if isinstance(exc, httpx.TimeoutException):
        return ApiError(504, "twilio_timeout", "Twilio did not answer in time.",
                        "Retry: a message that did reach Twilio is not sent twice.", retryable=True)
    if isinstance(exc, httpx.TransportError):
        return ApiError(502, "twilio_unreachable", "This server could not reach Twilio.",
                        "Retry in a moment; if it keeps failing, an administrator must check the network.",
                        retryable=True)
    if isinstance(exc, TwilioException) and isinstance(getattr(exc, "status", None), int):
        code = getattr(exc, "code", None)
        return problem(exc.status, code if isinstance(code, int) and code != exc.status else None)
    if isinstance(exc, TwilioException) and len(exc.args) == 2 and isinstance(exc.args[1], TwilioResponse):
        return problem(exc.args[1].status_code, _code(exc.args[1].text))   # a page read ("Unable to fetch page")
    raise exc


def _code(text: str) -> int | None:
    try:
        code = json.loads(text).get("code")
    except (ValueError, AttributeError):
        return None
    return code if isinstance(code, int) else None


def ambiguous(error: ApiError) -> bool:
    """Could the request have been carried out although we got no success answer?

    A lost answer (timeout, broken connection) or a 5xx may hide a created message;
    Twilio's refusals (4xx, rate limiting included) say for sure that nothing was.
    """
    return error.code in ("twilio_timeout", "twilio_unreachable", "twilio_unavailable")
