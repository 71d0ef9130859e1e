"""The shared pieces the Matrix adapter uses, imported in this one place.

The adapter interfaces are being reshaped (HTTP values to ``app.core.http``,
errors to ``app.core.errors``, URL helpers to ``app.backends.urls``,
``Uploaded`` to ``app.core.models``, ``HistoryPage`` to ``app.backends.api``).
Only this module knows where things live, so fitting the adapter to the new
shape changes these imports and nothing else. The field readers below are the
adapter's own: they turn a wrong shape into ``bad_response``, never a KeyError.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

try:  # the reshaped layout (upload-core)
    from app.backends.decoding import parse_json
    from app.backends.urls import join_url, normalise_base_url, path_segment
    from app.core.errors import BackendError, bad_response, http_error
    from app.core.http import TIMED_OUT, FileSlice, Request, Response
except ImportError:  # pragma: no cover - v1's app/backends/base.py
    from app.backends.base import (  # type: ignore[no-redef]
        TIMED_OUT, BackendError, FileSlice, Request, Response, bad_response, http_error, join_url,
        normalise_base_url, parse_json, path_segment,
    )

__all__ = [
    "TIMED_OUT", "BackendError", "FileSlice", "HistoryPage", "Request", "Response", "Uploaded", "annotate",
    "bad_response", "http_error", "join_url", "normalise_base_url", "parse_json", "path_segment", "request",
    "require_int", "require_list", "require_object", "require_str",
]
from app.core.models import FileInfo, Message

try:  # the reshaped core (upload-core) defines them
    from app.core.models import Uploaded  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - until then, the same shape here
    @dataclass(frozen=True)
    class Uploaded:  # type: ignore[no-redef]
        """A finished upload: ``ref`` is the ``mxc://`` URI to attach."""

        ref: str
        info: FileInfo
        content_type: str

try:
    from app.backends.api import HistoryPage  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover
    @dataclass(frozen=True)
    class HistoryPage:  # type: ignore[no-redef]
        """Messages oldest first; ``older`` fetches the page before (None: the room's beginning)."""

        messages: tuple[Message, ...]
        older: str | None = None


def request(method: str, url: str, headers: dict[str, str], *, json: object = None,
            body: FileSlice | None = None, timeout: float | None = None) -> Request:
    """A Request; ``timeout`` (a long-poll's) only where Request has that field."""
    if timeout is not None and "timeout" in getattr(Request, "__dataclass_fields__", {}):
        return Request(method, url, headers, json=json, body=body, timeout=timeout)  # type: ignore[call-arg]
    return Request(method, url, headers, json=json, body=body)


def annotate(err: BackendError, *, retry_after: float | None = None, detail: str = "") -> BackendError:
    """Keep the server's wait (``retry_after_ms``) and its own words (for logs) on the error.

    v1's BackendError declares ``retry_after`` and ``detail``; the reshaped one
    does not (its upload machines read ``Retry-After`` from the response, which
    Synapse sends too), so they are set here only when given and read with getattr.
    """
    if retry_after is not None:
        err.retry_after = retry_after  # type: ignore[attr-defined]
    if detail:
        err.detail = detail  # type: ignore[attr-defined]
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
