"""Production mode for server tests: an [auth] config, a signing key, tokens minted as a portal would.

Import the fixtures where needed (`from .production import prod, customer_c1, ...`);
`dev` and `dev_agent` (named `agent`) are the development-mode twin: one server per module.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import jwt
import pytest

from tools.services.attache import RunningServer
from tests.server.conftest import AGENT, TEST_CONFIG
from tests.services.postgres import server_database

SECRET = b"3f9c2a7d1e5b8064c2d9a1f7e3b5c8d0" * 2 + b"\n"   # as `openssl rand -hex 32 > FILE` writes it

PROD_CONFIG = """
[attachments]
max_file_size = "300 MB"
accepted_types = ["image/*", ".pdf", ".txt"]
max_files_per_message = 2

[server]
max_streams_per_identity = 2

[auth]
secret_file = "jwt.key"
token_url = "/portal/attache-token"
"""


def mint(sub: str = "u-ann", role: str = "customer", conversations: list[str] | None = None, *,
         name: str | None = None, ttl: float = 600, secret: bytes = SECRET, drop: tuple[str, ...] = (),
         algorithm: str = "HS256", **extra) -> str:
    now = int(time.time())
    claims = {"sub": sub, "name": name if name is not None else sub.title(), "role": role,
              "conversations": conversations if conversations is not None else ["c1"],
              "iat": now, "exp": int(now + ttl), **extra}
    for claim in drop:
        claims.pop(claim)
    return jwt.encode(claims, secret, algorithm=algorithm)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def shared_server(tmp_path_factory, config_text: str, database: str = "") -> Iterator[RunningServer]:
    """One server for a whole test module (tests isolate themselves by conversation and sub).
    Its config file and the key sit side by side, so the key path is relative."""
    root = tmp_path_factory.mktemp("shared")
    (root / "jwt.key").write_bytes(SECRET)
    config = root / "config.toml"
    config.write_text(config_text + database)
    server = RunningServer(root / "data", config, log=root / "server.log").start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def dev(tmp_path_factory, database_kind, request) -> Iterator[RunningServer]:
    """A development-mode server shared by the module (on the module's `database_kind`)."""
    yield from shared_server(tmp_path_factory, TEST_CONFIG, server_database(database_kind, request))


@pytest.fixture(name="agent")
def dev_agent(dev: RunningServer) -> Iterator[httpx.Client]:
    """The agent's client on the module's development server (instead of a server per test)."""
    with dev.client(AGENT) as client:
        yield client


@pytest.fixture(scope="module")
def prod(tmp_path_factory, database_kind, request) -> Iterator[RunningServer]:
    """A production-mode server shared by the module (on the module's `database_kind`)."""
    yield from shared_server(tmp_path_factory, PROD_CONFIG, server_database(database_kind, request))


def _client(server: RunningServer, token: str) -> Iterator[httpx.Client]:
    with server.client(bearer(token)) as c:
        yield c


@pytest.fixture
def customer_c1(prod) -> Iterator[httpx.Client]:
    """Ann, a customer of conversation c1 only."""
    yield from _client(prod, mint("u-ann", "customer", ["c1"], name="Ann Customer"))


@pytest.fixture
def agent_c1(prod) -> Iterator[httpx.Client]:
    """Bob, an agent of c1 and c2 (not c3)."""
    yield from _client(prod, mint("u-bob", "agent", ["c1", "c2"], name="Bob Agent"))


@pytest.fixture
def agent_all(prod) -> Iterator[httpx.Client]:
    """Cleo, an agent of every conversation."""
    yield from _client(prod, mint("u-cleo", "agent", ["*"], name="Cleo Lead"))
