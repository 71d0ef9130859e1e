"""The tests' reference servers, as fixtures (a pytest plugin loaded by tests/conftest.py): one
`reference_server` for the session, and `make_server` for a test's own servers.

Every test talks HTTP to a real `python -m server` (tools/services/attache.py) on 127.0.0.1, so what is
tested is what ships: routing, middleware, streaming, signals.
"""
from __future__ import annotations

import hashlib
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.api import MINTERS
from tests.e2e.production import IDENTITIES, Person, Portal, conversations_for, production_server
from tests.server.stored import FolderStored, S3Stored, Stored
from tests.services.postgres import database_table, postgres, url_for  # noqa: F401  (postgres: a fixture)
from tests.services.s3 import moto, s3_bucket  # noqa: F401  (fixtures: moto_server once, a bucket per module)
from tools.services.attache import RunningServer

STORAGES = ["folder", "s3"]   # a module that tests bytes runs with both: `storage` fixture over STORAGES

TEST_CONFIG = """
[attachments]
max_file_size = "300 MB"
accepted_types = ["image/*", ".pdf", ".txt", ".docx", ".html"]
max_files_per_message = 2

[identities]
agent = "agent-dev-token"
customer = "customer-dev-token"

[server]
cors_allow_origins = ["https://portal.example.com"]
"""


class Server(RunningServer):
    """A test server and a view of what it stored (`stored`), in the folder or the bucket."""

    def __init__(self, *args, stored: Stored, database_url: str | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.stored, self.database_url = stored, database_url     # database_url None: SQLite in `data`


@pytest.fixture(scope="session")
def token_portal():
    """The portal on its own origin: session cookies in, signed tokens out (tests/e2e/production.py)."""
    started = Portal().start()
    yield started
    started.stop()


@pytest.fixture(scope="session")
def reference_server(request, tmp_path_factory):
    """One server for the session; tests isolate themselves by conversation id.
    `--mode production`: a production-mode server whose pages get their tokens from `token_portal`."""
    root = tmp_path_factory.mktemp("server")
    if request.config.getoption("--mode") == "production":
        token_portal = request.getfixturevalue("token_portal")
        server = production_server(root, token_portal)
        # v1's tests open some pages by hand with ?as=agent: without a portal session, they are the agent
        token_portal.anonymous = Person("agent", "Agent", "agent", ["*"])
        MINTERS[server.url] = lambda identity, conversation: server.mint(
            IDENTITIES[identity][0], IDENTITIES[identity][2],
            conversations_for(IDENTITIES[identity][2], conversation), IDENTITIES[identity][1])
    else:
        (root / "data").mkdir()
        server = RunningServer(root / "data").start()
    yield server
    server.stop()


@pytest.fixture
def storage() -> str:
    """Where servers keep bytes: "folder" (--data) here; modules that test bytes also run "s3"
    (they define `storage` over STORAGES)."""
    return "folder"


@pytest.fixture(scope="module")
def database_kind() -> str:
    """The servers' database: SQLite (the default); a module that imports
    tests.services.postgres.both_databases runs on PostgreSQL too."""
    return "sqlite"


@pytest.fixture
def database_url(database_kind: str, request: pytest.FixtureRequest) -> str | None:
    """None (SQLite in the data dir), or a fresh PostgreSQL database for this test's servers."""
    return url_for(database_kind, request)


@pytest.fixture
def make_server(tmp_path: Path, storage: str, database_url: str | None, request) -> Iterator:
    """Factory: `make_server(data=..., config_text=..., static_root=...)`; all are stopped at the end.
    `config_text=None`: no config file at all (development defaults).

    With storage "s3", the config gains a [storage] table: this module's bucket, a key
    prefix per data folder (a restarted server finds its files again); and, as files in a
    bucket need a shared database, a PostgreSQL one. Every server of a test shares its database."""
    servers: list[Server] = []
    bucket = request.getfixturevalue("s3_bucket") if storage == "s3" else None
    if bucket is not None and database_url is None:
        database_url = url_for("postgresql", request)
    tables: dict[bool, str] = {}

    def shared_tables(config_text: str) -> str:
        """[database] (and a [broker] unless the config names one): the same for every server of the test."""
        own_broker = "[broker]" in config_text
        if own_broker not in tables:
            tables[own_broker] = database_table(database_url, request, config_text)
        return tables[own_broker]

    def make(data: Path | None = None, config_text: str | None = TEST_CONFIG, static_root: Path | None = None,
             extra: tuple[str, ...] = (), start: bool = True, s3_endpoint: str | None = None,
             s3_prefix: str | None = None) -> Server:
        data = data or tmp_path / "data"
        config = None
        stored: Stored = FolderStored(data)
        if bucket is not None:
            prefix = s3_prefix or "t-" + hashlib.sha256(str(data).encode()).hexdigest()[:16]
            config_text = (config_text or "") + bucket.config(prefix, s3_endpoint)
            stored = S3Stored(bucket.moto.client(), bucket.name, prefix)
        if database_url is not None:
            config_text = (config_text or "") + shared_tables(config_text or "")
        if config_text is not None:
            config = tmp_path / f"config{len(servers)}.toml"
            config.write_text(config_text)
        server = Server(data, config, static_root, tmp_path / f"server{len(servers)}.log", extra, stored=stored,
                        database_url=database_url)
        servers.append(server)
        return server.start() if start else server

    yield make
    for server in servers:
        try:
            server.stop(signal.SIGKILL)
        except Exception:
            pass
