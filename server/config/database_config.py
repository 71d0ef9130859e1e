"""`[database]`: where conversations, messages, uploads and quotas live (absent: SQLite in the --data folder).

    [database]
    url = "postgresql://attache@db.internal:5432/attache"

Why a password is better kept out of the URL: libpq reads PGPASSWORD and
~/.pgpass (also PGSSLMODE and the other PG* variables), so the config file can
be shared without leaking it; a password in the URL works but is never printed.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from server.config.config_error import ConfigError, service_table

KEYS = ("url",)
SCHEMES = ("postgresql", "postgres")
EXAMPLE = "postgresql://attache@db.internal:5432/attache"


def database_url(table: object, where: str, storage: bool) -> str | None:
    """The PostgreSQL URL of `[database]`, or None (SQLite). `storage`: the file names a [storage] table."""
    if table is None:
        if storage:
            raise ConfigError(f"{where}: [storage] needs a [database] table: with files in a shared bucket, the "
                              "messages and uploads that point at them must be shared too, or each process would "
                              f"know only its own; add [database] url = \"{EXAMPLE}\"")
        return None
    return _url(service_table(table, "database", KEYS, where).get("url"), where)


def _url(value: Any, where: str) -> str:
    wanted = f"a PostgreSQL URL such as \"{EXAMPLE}\""
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: [database] url must be {wanted}; without a [database] table the server "
                          "keeps its database in the --data folder (SQLite)")
    try:
        url = make_url(value.strip())
    except (ArgumentError, ValueError):
        raise ConfigError(f"{where}: [database] url is not a URL; write {wanted}") from None
    if url.drivername not in SCHEMES:
        raise ConfigError(f"{where}: [database] url: {url.drivername!r} is not supported; write {wanted} "
                          "(only PostgreSQL can be shared by several processes; SQLite is the default without "
                          "[database])")
    if not url.database:
        raise ConfigError(f"{where}: [database] url names no database; write {wanted}")
    if not url.host and "host" not in url.query:
        raise ConfigError(f"{where}: [database] url names no host; write {wanted}")
    return url.set(drivername="postgresql").render_as_string(hide_password=False)
