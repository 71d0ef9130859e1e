"""PostgreSQL for the tests (tools/services/postgres.py starts it): once per session, a fresh database per test (or module).

Each test's database is made with CREATE DATABASE, so tests never see each other's rows.

Modules that run against both databases import `both_databases` (a fixture
named `database_kind`); the server fixtures turn it into a [database] table
(and a [broker]: the server refuses a PostgreSQL without one).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tools.services.postgres import Postgres
from tools.services.process import ServiceUnavailable
from tools.services.redis import RedisService


def started_postgres() -> Postgres:
    """A PostgreSQL of its own, running; the test is skipped where none can be installed."""
    try:
        return Postgres().start()
    except ServiceUnavailable as why:
        pytest.skip(str(why))


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """The session's PostgreSQL (started on first use)."""
    server = started_postgres()
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
    broker = RedisService().start()
    request.addfinalizer(broker.cleanup)
    return f'\n[database]\nurl = "{url}"\n\n[broker]\nurl = "{broker.url}"\n'


def server_database(kind: str, request: pytest.FixtureRequest) -> str:
    """The config tables of a server on `kind` ("" for SQLite): a fresh database, and a broker with it."""
    return database_table(url_for(kind, request), request)
