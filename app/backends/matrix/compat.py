"""The shared pieces the Matrix adapter uses, imported in this one place
(HTTP values from ``app.core.http``, errors from ``app.core.errors``, URL
helpers from ``app.backends.urls``, ``Uploaded`` from ``app.core.models``,
``HistoryPage`` from ``app.backends.api``). The field readers below are the
adapter's own: they turn a wrong shape into ``bad_response``, never a KeyError.
"""

from __future__ import annotations

from typing import Any

from app.backends.api import HistoryPage
from app.backends.decoding import parse_json
from app.backends.urls import join_url, normalise_base_url, path_segment
from app.core.errors import BackendError, bad_response, http_error
from app.core.http import TIMED_OUT, FileSlice, Request, Response
from app.core.models import Uploaded

__all__ = [
    "TIMED_OUT", "BackendError", "FileSlice", "HistoryPage", "Request", "Response", "Uploaded", "annotate",
    "bad_response", "http_error", "join_url", "normalise_base_url", "parse_json", "path_segment", "request",
    "require_int", "require_list", "require_object", "require_str",
]


def request(method: str, url: str, headers: dict[str, str], *, json: object = None,
            body: FileSlice | None = None, timeout: float | None = None) -> Request:
    """A Request (``timeout``: a long-poll's)."""
    return Request(method, url, headers, json=json, body=body, timeout=timeout)


def annotate(err: BackendError, *, retry_after: float | None = None, detail: str = "") -> BackendError:
    """Keep the server's wait (``retry_after_ms``) and its own words (for logs) on the error,
    each only when given (BackendError's defaults: None and "")."""
    if retry_after is not None:
        err.retry_after = retry_after
    if detail:
        err.detail = detail
    return err


def require_object(value: Any, where: str, status: int | None = None) -> dict:
    if not isinstance(value, dict):
        raise bad_response(f"{where} should be an object", status)
    return value


def require_list(obj: dict, key: str, where: str, status: int | None = None) -> list:
    value = obj.get(key)
    if not isinstance(value, list):
        raise bad_response(f"{where}.{key} should be a list", status)
    return value


def require_str(obj: dict, key: str, where: str, status: int | None = None, *, nonempty: bool = False) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or (nonempty and not value):
        raise bad_response(f"{where}.{key} should be a{' non-empty' if nonempty else ''} string", status)
    return value


def require_int(obj: dict, key: str, where: str, status: int | None = None) -> int:
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise bad_response(f"{where}.{key} should be a non-negative integer", status)
    return value
