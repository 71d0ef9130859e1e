"""The `[broker]` table: where the processes of one deployment meet (Redis), or nobody (one process).

Why a refusal and not a guess: a process cannot see whether others share its
database, so two processes without a broker would each keep their own tickets,
stream counts and live feed, and a message sent on one would reach the other's
streams late or never. SQLite in the --data folder is one process by nature;
a PostgreSQL `[database]` exists to be shared, so it is refused without a
`[broker]`, with a sentence saying why.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from server.config.config_error import ConfigError, service_table

BROKER_KEYS = ("url",)
SCHEMES = ("redis", "rediss", "unix")


def without_password(url: str) -> str:
    """The URL as it may be printed: any password is left out (`redis://user@host:6379/0`)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    user = f"{parts.username}@" if parts.username else ""
    port = f":{parts.port}" if parts.port is not None else ""
    return urlunsplit((parts.scheme, f"{user}{host}{port}", parts.path, parts.query, parts.fragment))


def broker_url(data: dict[str, Any], where: str) -> str | None:
    """`[broker] url`, checked; None without a [broker] table (the in-process broker)."""
    if data.get("broker") is None:
        return None
    url = service_table(data["broker"], "broker", BROKER_KEYS, where).get("url")
    if not isinstance(url, str) or urlsplit(url).scheme not in SCHEMES or not (urlsplit(url).netloc or
                                                                                 urlsplit(url).path):
        raise ConfigError(f"{where}: [broker] url must be a Redis URL such as 'redis://cache.internal:6379/0' "
                          "(or rediss:// for TLS, unix:///path/to/redis.sock)")
    return url


def refuse_shared_database_without_broker(user: dict[str, Any], where: str) -> None:
    """A PostgreSQL [database] without a [broker] table is refused (see the module docstring)."""
    database = user.get("database")
    url = database.get("url") if isinstance(database, dict) else None
    scheme = urlsplit(url).scheme.split("+")[0] if isinstance(url, str) else ""
    if scheme in ("postgresql", "postgres") and "broker" not in user:
        raise ConfigError(f"{where}: [database] is PostgreSQL but there is no [broker]: a shared database means "
                          "several processes, and without Redis each would keep its own stream tickets, stream "
                          "counts and live feed (a message sent on one would reach the others' streams late). "
                          "Add [broker] url = \"redis://HOST:6379/0\"; one process alone can use the SQLite "
                          "default (leave [database] out)")
