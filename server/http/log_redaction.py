"""The access log keeps the path but never a token, ticket or media signature from the query string.

However the parameter's name is percent-encoded (the server decodes `%73ig=`
to `sig=`), the log decodes it the same way before it decides.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote_plus

SECRET_PARAMS = frozenset({"access_token", "ticket", "sig", "token"})
_QUERY_SEPARATOR = re.compile(r"([&;])")


def _secret_name(raw: str) -> bool:
    """Whether a raw query parameter name is, once decoded as the server decodes it, a secret's.

    Decoded until it stops changing (at most 4 times), in any case and without
    surrounding blanks: redacting a value the server ignores costs nothing.
    """
    name = raw
    for _ in range(4):
        decoded = unquote_plus(name)
        if decoded == name:
            break
        name = decoded
    return name.strip().lower() in SECRET_PARAMS


def redact(path: str) -> str:
    """`path?query` with the value of every secret parameter replaced by `[redacted]`."""
    base, mark, query = path.partition("?")
    if not mark:
        return path
    parts = _QUERY_SEPARATOR.split(query)      # separators kept at odd positions
    for i in range(0, len(parts), 2):
        name, eq, _ = parts[i].partition("=")
        if eq and _secret_name(name):
            parts[i] = f"{name}=[redacted]"
    return base + mark + "".join(parts)


class RedactingFilter(logging.Filter):
    """For uvicorn's access logger, whose record args are (client, method, path, http version, status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redact(args[2]), *args[3:])
        return True


def install_log_redaction() -> None:
    logging.getLogger("uvicorn.access").addFilter(RedactingFilter())
