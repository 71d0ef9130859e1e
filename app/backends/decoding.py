"""Reading a response's JSON into wire values, with BackendError for anything off-contract.

Adapters call :func:`read_json` on every answer (a non-2xx becomes the
server's problem, a body that is not JSON becomes ``bad_response``) and
:func:`decode` to check it against a wire class from ``app.core.schemas``
(or their own), so a missing or mistyped field reads
"The server sent a response Attache could not read (history.messages[2].id is missing)".
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from app.core.errors import bad_response, error_from_response
from app.core.http import Response
from app.core.wire import WireError
from app.core.wire import decode as _decode

__all__ = ["decode", "parse_json", "read_json"]

T = TypeVar("T")


def read_json(resp: Response) -> Any:
    """The JSON body of a 2xx response; BackendError for anything else."""
    if not resp.ok:
        raise error_from_response(resp)
    return parse_json(resp.text, resp.status)


def parse_json(text: str, status: int | None = None) -> Any:
    """``json.loads`` that raises BackendError(bad_response) instead of tracebacks (NaN is not JSON)."""
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError, TypeError):
        raise bad_response("expected JSON", status) from None


def decode(cls: type[T], value: Any, where: str, status: int | None = None) -> T:
    """``value`` as wire class ``cls``; BackendError(bad_response) naming the field otherwise."""
    try:
        return _decode(cls, value, where)
    except WireError as error:
        raise bad_response(str(error), status) from None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")

