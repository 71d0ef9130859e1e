"""What a load bench runs beside its server processes (tools.services.attache.RunningServer) and what
they all cost: the shared services (PostgreSQL, Redis, moto) started as the tests start them, CPU
seconds per process, the database's transactions. bench/load.py drives them; bench/storage.py borrows
the shared services.
"""
from __future__ import annotations

import contextlib
import os
import time
import uuid
from pathlib import Path

from tools.services.s3 import MotoServer


def cpu_seconds(pid: int, *, children: bool = False) -> float:
    """utime + stime of a process from /proc (Linux), in seconds; with `children`, also its children's:
    those it has reaped and those alive (PostgreSQL's backends)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, IndexError, ValueError):
                child = stat.read_text().rsplit(")", 1)[1].split()
                if int(child[1]) == pid:
                    ticks += int(child[11]) + int(child[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def shared_services(folder: Path, stack: contextlib.ExitStack, name: str = "load"
                    ) -> tuple[str, MotoServer, dict[str, int]]:
    """PostgreSQL, Redis and S3 (moto) started as the tests start them: the config tables naming them (a
    database and a bucket called after `name`), moto, and their processes (name -> pid)."""
    from tools.services import postgres, redis, s3
    database = stack.enter_context(postgres.running(folder / "pg"))
    broker = redis.RedisService().start()
    stack.callback(broker.stop)
    stack.enter_context(s3.aws_credentials())         # the server processes read the AWS variables
    moto = s3.start_moto(folder / "moto.log")
    stack.callback(moto.stop)
    bucket = f"attache-{name.replace('_', '-')}-{uuid.uuid4().hex[:8]}"
    moto.client().create_bucket(Bucket=bucket)
    assert broker.proc is not None
    pids = {"PostgreSQL": int((database.data / "postmaster.pid").read_text().split()[0]),
            "Redis": broker.proc.pid, "S3 (moto)": moto.proc.pid}
    return (f'[database]\nurl = "{postgres.new_database(database, name)}"\n\n'
            f'[broker]\nurl = "{broker.url}"\n\n'
            f'[storage]\nurl = "s3://{bucket}/bench"\nendpoint_url = "{moto.endpoint}"\n'), moto, pids


def database_transactions(config: Path) -> int | None:
    """Transactions the shared database has finished (a statement on its own is one): the round trips a
    bench costs it, once the servers' connections are closed (their counts reach the statistics as they
    end). None on the embedded default."""
    import tomllib
    url = tomllib.loads(config.read_text()).get("database", {}).get("url")
    if url is None:
        return None
    import psycopg
    with psycopg.connect(url, autocommit=True) as conn:
        def value(sql: str) -> int:
            row = conn.execute(sql).fetchone()
            assert row is not None
            return int(row[0])
        while value("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid()"):
            time.sleep(0.05)          # the servers' connections are closing: their counts follow
        conn.execute("SELECT pg_stat_clear_snapshot()")
        return value("SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()")
