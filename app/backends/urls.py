"""URLs the adapters build and read: base URLs from the config, path segments, server paths.

Every id that goes into a path is percent-encoded as one segment, and every URL
a server sends is checked before it can reach an ``href`` or ``src``.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote, urlencode, urlsplit

__all__ = ["join_url", "normalise_base_url", "path_segment", "resolve_url"]


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


def join_url(base_url: str, path: str, query: Mapping[str, object] | None = None) -> str:
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
