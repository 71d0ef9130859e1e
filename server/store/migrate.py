"""Versioned schema migrations (Alembic, server/store/migrations/), run at every start before anything else.

Why at start: a server must never run against a schema older than its code,
and an administrator should not need a separate step to upgrade. Why under a
lock: in a cluster several processes start at once; the first to take the
lock migrates, the others wait and then find nothing left to do. On
PostgreSQL that lock is an advisory transaction lock (and the DDL is
transactional: a migration that fails leaves nothing half done); on SQLite
the migration's BEGIN IMMEDIATE transaction is the lock.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from server.store.database import MIGRATION_LOCK, Database, postgresql_database, sqlite_database

SCRIPTS = Path(__file__).with_name("migrations")


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(SCRIPTS))
    return config


def head() -> str:
    """The newest revision this code knows."""
    return ScriptDirectory.from_config(_config()).get_current_head() or ""


def upgrade(database: Database, revision: str = "head") -> None:
    """Bring the database to `revision` (default: the newest), holding the migration lock."""
    config = _config()
    with database.transaction() as conn:
        if database.dialect == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        if MigrationContext.configure(conn).get_current_revision() == head() and revision == "head":
            return                          # the common case: nothing to load, nothing to run
        config.attributes["connection"] = conn
        command.upgrade(config, revision)


def current(database: Database) -> str | None:
    """The revision the database is at (None: not yet under migrations)."""
    with database.transaction() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def open_database(url: str | None, sqlite_path: Path | str) -> Database:
    """PostgreSQL at `url`, or (None) SQLite at `sqlite_path`; schema migrated to the newest revision.

    Raises DatabaseUnavailable when the database cannot be reached or migrated."""
    database = postgresql_database(url) if url else sqlite_database(Path(sqlite_path))
    try:
        upgrade(database)
    except BaseException:
        database.close()
        raise
    return database
