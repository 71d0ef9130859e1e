"""A real PostgreSQL 15 (Debian's), started as a new user would, for the tests and the benches.

Why real: the things that matter here (advisory locks, commit order,
unique-index races, a server that goes away) are PostgreSQL's behaviour, which
no stand-in reproduces. Debian's postgresql-15 (installed with apt when missing),
`initdb` and `pg_ctl` as the postgres user (they refuse root) in a folder of its
own, on a free port on 127.0.0.1. A fresh database is made with CREATE DATABASE
(a copy of template1: milliseconds).
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

from tools.services.process import ServiceUnavailable, free_port

BIN = Path("/usr/lib/postgresql/15/bin")
USER = "postgres"


def _install() -> None:
    if (BIN / "initdb").exists():
        return
    if os.geteuid() != 0:
        raise ServiceUnavailable("PostgreSQL 15 is not installed (apt-get install postgresql-15) and we are not root")
    subprocess.run(["apt-get", "install", "-y", "-q", "postgresql-15"], check=True, capture_output=True,
                   env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})


def _as_postgres(*cmd: str) -> list[str]:
    return ["runuser", "-u", USER, "--", *cmd] if os.geteuid() == 0 else list(cmd)


class Postgres:
    """One PostgreSQL server in a temporary folder; `stop()` and `start()` again keep its data and port."""

    def __init__(self) -> None:
        _install()
        self.root = Path(tempfile.mkdtemp(prefix="attache-pg-"))
        self.root.chmod(0o755)
        shutil.chown(self.root, USER, USER) if os.geteuid() == 0 else None
        self.data, self.log = self.root / "data", self.root / "postgres.log"
        self.port = free_port()
        subprocess.run(_as_postgres(str(BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", USER,
                                    "--no-sync"), check=True, capture_output=True)

    def start(self) -> Postgres:
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
    """A PostgreSQL for a `with` block (the load bench). `folder` is not used: the server's files must sit
    where the postgres user can reach them, which a caller's private temporary folder is not."""
    server = Postgres().start()
    try:
        yield server
    finally:
        server.destroy()


def new_database(server: Postgres, name: str) -> str:
    """A fresh database on `server` whose name starts with `name`; its URL."""
    return server.fresh_database(name)
