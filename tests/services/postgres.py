"""A real PostgreSQL 15 for the tests: started once per session, a fresh database per test (or module).

Why real: the things that matter here (advisory locks, commit order,
unique-index races, a server that goes away) are PostgreSQL's behaviour, which
no stand-in reproduces. Started as a new user would: Debian's postgresql-15
(installed with apt when missing), `initdb` and `pg_ctl` as the postgres user
(they refuse root) in a folder of its own, on a free port on 127.0.0.1.
Each test's database is made with CREATE DATABASE (a copy of template1:
milliseconds), so tests never see each other's rows.

Modules that run against both databases import `both_databases` (a fixture
named `database_kind`); the server fixtures turn it into a [database] table
(and a [broker]: the server refuses a PostgreSQL without one).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

BIN = Path("/usr/lib/postgresql/15/bin")
USER = "postgres"


def _install() -> None:
    if (BIN / "initdb").exists():
        return
    if os.geteuid() != 0:
        pytest.skip("PostgreSQL 15 is not installed (apt-get install postgresql-15) and we are not root")
    subprocess.run(["apt-get", "install", "-y", "-q", "postgresql-15"], check=True, capture_output=True,
                   env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})


def _as_postgres(*cmd: str) -> list[str]:
    return ["runuser", "-u", USER, "--", *cmd] if os.geteuid() == 0 else list(cmd)


class Postgres:
    """One PostgreSQL server in a temporary folder; `stop()` and `start()` again keep its data and port."""

    def __init__(self) -> None:
        from tests.conftest import free_port
        _install()
        self.root = Path(tempfile.mkdtemp(prefix="attache-pg-"))
        self.root.chmod(0o755)
        shutil.chown(self.root, USER, USER) if os.geteuid() == 0 else None
        self.data, self.log = self.root / "data", self.root / "postgres.log"
        self.port = free_port()
        subprocess.run(_as_postgres(str(BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", USER,
                                    "--no-sync"), check=True, capture_output=True)

    def start(self) -> "Postgres":
        settings = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
                    " -c full_page_writes=off -c synchronous_commit=off -c max_connections=200")
        subprocess.run(_as_postgres(str(BIN / "pg_ctl"), "-D", str(self.data), "-w", "-l", str(self.log),
                                    "-o", settings, "start"), check=True, capture_output=True)
        return self

    def stop(self) -> None:
        subprocess.run(_as_postgres(str(BIN / "pg_ctl"), "-D", str(self.data), "-w", "-m", "fast", "stop"),
                       capture_output=True)

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = USER) -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def fresh_database(self, prefix: str = "t") -> str:
        """A new, empty database; its URL."""
        import psycopg
        name = f"{prefix}_{uuid.uuid4().hex[:16]}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)


@contextlib.contextmanager
def running(folder: Path | None = None) -> Iterator[Postgres]:
    """A PostgreSQL for a `with` block (bench/load.py). `folder` is not used: the server's files must sit
    where the postgres user can reach them, which a caller's private temporary folder is not."""
    server = Postgres().start()
    try:
        yield server
    finally:
        server.destroy()


def new_database(server: Postgres, name: str) -> str:
    """A fresh database on `server` whose name starts with `name`; its URL."""
    return server.fresh_database(name)


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """The session's PostgreSQL (started on first use)."""
    server = Postgres().start()
    yield server
    server.destroy()


def url_for(kind: str, request: pytest.FixtureRequest) -> str | None:
    """None for "sqlite" (the server's default); a fresh PostgreSQL database's URL for "postgresql"."""
    if kind == "sqlite":
        return None
    return request.getfixturevalue("postgres").fresh_database()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"], name="database_kind")
def both_databases(request: pytest.FixtureRequest) -> str:
    """Import this into a test module to run its server tests on SQLite and on PostgreSQL."""
    return request.param


def database_table(url: str | None, request: pytest.FixtureRequest, config_text: str = "") -> str:
    """The config text that points a server at `url` ("" for the default SQLite). A PostgreSQL database
    means several processes, which the server only accepts with a [broker]: a Redis of the test's (or
    module's) own, so no stream counts or tickets of another test's servers are seen, as with SQLite;
    none when `config_text` (what this is added to) names its own [broker]."""
    if url is None:
        return ""
    if "[broker]" in config_text:
        return f'\n[database]\nurl = "{url}"\n'
    from tests.services.redis import RedisService
    broker = RedisService().start()
    request.addfinalizer(broker.cleanup)
    return f'\n[database]\nurl = "{url}"\n\n[broker]\nurl = "{broker.url}"\n'


def server_database(kind: str, request: pytest.FixtureRequest) -> str:
    """The config tables of a server on `kind` ("" for SQLite): a fresh database, and a broker with it."""
    return database_table(url_for(kind, request), request)
