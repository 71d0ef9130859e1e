"""One database for the whole server: SQLite in the --data folder, or PostgreSQL shared by a cluster.

Why SQLAlchemy Core and not an ORM: the queries stay visible SQL, written
once for both dialects; only three things differ and they live here (how a
write transaction starts, `INSERT ... ON CONFLICT`, and the lock that keeps
message commits in seq order).

Why synchronous, on the event loop's thread: every statement is small and
indexed (SQLite: well under a millisecond; PostgreSQL on a LAN: one round
trip), so a thread hop per statement would cost more than the statement. The
price is that a statement that hangs stalls the whole process, so PostgreSQL
connections carry short limits: a connect timeout, a server-side statement
and lock timeout, and TCP keep-alives plus a TCP user timeout that notice a
vanished server in seconds instead of the kernel's 15 minutes. A statement
that fails for any of these reasons (or a lost connection) is a
`DatabaseUnavailable`: the request is answered 503 with Retry-After, and the
pool throws away its dead connections so the next request reconnects.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, exc, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.sql import Executable, TableClause

from server.http.api_error import ApiError

RETRY_AFTER = 2                 # seconds a client waits before it tries again after a 503
CONNECT_TIMEOUT = 3             # seconds to open a PostgreSQL connection
STATEMENT_TIMEOUT_MS = 5000     # a statement (or a lock wait) longer than this is cancelled by the server
TCP_USER_TIMEOUT_MS = 5000      # unacknowledged bytes for this long: the server is gone
SQLITE_BUSY_TIMEOUT = 5         # seconds a SQLite writer waits for another process's write
# pg_advisory_xact_lock keys: arbitrary constants that only need to differ from each other.
MESSAGE_LOCK = 0x61747461_63686501     # held while a message is inserted: commits in seq order
MIGRATION_LOCK = 0x61747461_63686502   # held while migrations run: two processes starting at once


class DatabaseUnavailable(ApiError):
    """The database did not answer (lost, restarting, overloaded): the request may be retried."""

    def __init__(self, where: str, why: str) -> None:
        super().__init__(503, "database_unavailable", f"The database ({where}) is unreachable: {why}.",
                         "Try again in a few seconds; nothing already stored is lost.",
                         {"Retry-After": str(RETRY_AFTER)})
        self.where, self.why = where, why


def shown_url(url: str) -> str:
    """A database URL as it may be printed: without its password."""
    return make_url(url)._replace(password=None).render_as_string(hide_password=False)   # URL is a namedtuple


def _why(error: exc.DBAPIError) -> str:
    first = str(error.orig).strip().splitlines()[0] if error.orig is not None else str(error)
    return first.rstrip(".") or type(error.orig).__name__


class Database:
    """An engine plus the few dialect differences; statements run in short transactions."""

    def __init__(self, engine: Engine, where: str) -> None:
        self.engine, self.where = engine, where
        self._local = threading.local()
        self.dialect = engine.dialect.name         # "sqlite" | "postgresql"
        # Statements on their own run without BEGIN/COMMIT: one round trip instead of three.
        self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT") \
            if self.dialect == "postgresql" else engine.execution_options(attache_autocommit=True)

    def close(self) -> None:
        """The connections this thread kept, then the pool."""
        for name in ("statements", "transactions"):
            conn = getattr(self._local, name, None)
            if conn is not None:
                setattr(self._local, name, None)
                conn.close()
        self.engine.dispose()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A write transaction: committed at the end of the block, rolled back on any error.
        SQLite starts it with BEGIN IMMEDIATE (one writer at a time, no deadlock on upgrade)."""
        with self._kept("transactions", self.engine) as conn, conn.begin():
            yield conn

    @contextlib.contextmanager
    def connection(self) -> Iterator[Connection]:
        """For reads and one-statement writes: every statement on its own (no BEGIN/COMMIT around them)."""
        with self._kept("statements", self._autocommit) as conn:
            yield conn
            conn.commit()          # ends SQLAlchemy's own bookkeeping; no COMMIT is sent

    @contextlib.contextmanager
    def _kept(self, name: str, engine: Engine) -> Iterator[Connection]:
        """A connection this thread keeps between calls (a checkout from the pool costs more than a
        SQLite query). Any error drops it, so the next call connects afresh after a database is lost."""
        conn = getattr(self._local, name, None)
        try:
            with self._unavailable_on_loss():
                if conn is None:
                    conn = engine.connect()
                    setattr(self._local, name, conn)
                yield conn
        except BaseException:
            setattr(self._local, name, None)
            if conn is not None:
                with contextlib.suppress(exc.DBAPIError):
                    conn.close()
            raise

    def rows(self, statement: Executable, params: dict[str, Any] | None = None) -> list[Any]:
        """All rows of one statement, run on its own. Hot statements are built once, with bind
        parameters (`params`): building one per call costs more than SQLite running it."""
        with self.connection() as conn:
            return list(conn.execute(statement, params))

    def first(self, statement: Executable, params: dict[str, Any] | None = None) -> Any:
        rows = self.rows(statement, params)
        return rows[0] if rows else None

    def scalar(self, statement: Executable, params: dict[str, Any] | None = None) -> Any:
        row = self.first(statement, params)
        return None if row is None else row[0]

    def run(self, statement: Executable, params: dict[str, Any] | None = None) -> int:
        """One write statement on its own (atomic by itself); the number of rows it touched."""
        with self.connection() as conn:
            return conn.execute(statement, params).rowcount

    def insert(self, table: TableClause) -> Any:
        """INSERT with `.on_conflict_do_nothing()` / `.on_conflict_do_update()`: the same calls on both dialects."""
        return (postgresql if self.dialect == "postgresql" else sqlite).insert(table)

    def lock_messages(self, conn: Connection) -> None:
        """Inside a message-inserting transaction: wait for any other inserter (any process) to commit.

        Why: a listener reads `seq > last`. If seq 8 committed before seq 7, a
        listener woken by 8 would move past 7 and never see it. Holding one lock
        from before the seq is drawn until the commit makes commit order seq order.
        SQLite needs nothing: BEGIN IMMEDIATE already lets one writer in at a time."""
        if self.dialect == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MESSAGE_LOCK})

    @contextlib.contextmanager
    def _unavailable_on_loss(self) -> Iterator[None]:
        try:
            yield
        except (exc.OperationalError, exc.InterfaceError) as e:
            raise DatabaseUnavailable(self.where, _why(e)) from e
        except exc.DBAPIError as e:
            if e.connection_invalidated:
                raise DatabaseUnavailable(self.where, _why(e)) from e
            raise


def sqlite_database(path: Path) -> Database:
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": SQLITE_BUSY_TIMEOUT})

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None          # we say BEGIN ourselves (below), never the driver
        _wal(dbapi_connection)
        for pragma in ("synchronous=NORMAL", "foreign_keys=ON"):    # WAL + NORMAL: durable across process crashes
            dbapi_connection.execute(f"PRAGMA {pragma}")

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        if not conn.get_execution_options().get("attache_autocommit"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return Database(engine, f"SQLite {path}")


def _wal(dbapi_connection: Any) -> None:
    """WAL mode (kept in the file). Switching a new file needs it alone: SQLite answers "locked" at once,
    without waiting, when another process opens the same new file at that moment; so wait here."""
    for attempt in range(50):
        try:
            dbapi_connection.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or attempt == 49:
                raise
            time.sleep(0.1)


def postgresql_database(url: str) -> Database:
    options = f"-c statement_timeout={STATEMENT_TIMEOUT_MS} -c lock_timeout={STATEMENT_TIMEOUT_MS}" \
              " -c idle_in_transaction_session_timeout=60000"
    engine = create_engine(
        make_url(url).set(drivername="postgresql+psycopg"),
        connect_args={"connect_timeout": CONNECT_TIMEOUT, "options": options, "keepalives": 1,
                      "keepalives_idle": 10, "keepalives_interval": 3, "keepalives_count": 3,
                      "tcp_user_timeout": TCP_USER_TIMEOUT_MS, "application_name": "attache"},
        pool_size=5, max_overflow=5, pool_timeout=CONNECT_TIMEOUT)
    return Database(engine, f"PostgreSQL {shown_url(url)}")
