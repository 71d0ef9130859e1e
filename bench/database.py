"""Database benchmark: what a request pays for its statements, per database, beside hand-written sqlite3.

    .venv/bin/python bench/database.py [--ops N]

The server calls the database synchronously on its event loop (server/store/database.py says why), so
the cost of one call is time no other request gets. Three calls dominate a busy server: storing a
message (a write transaction: the message lock, the insert, reading it back with its attachments),
the newest page of a conversation (two queries) and a tus PATCH's bookkeeping (read the upload,
write its offset). Each is timed (median of N, in microseconds) through `server.store.queries.Store` on
SQLite and on PostgreSQL 15 (tools/services/postgres.py starts one; local socket, fsync off: the
figure is the client's and the protocol's cost, not a disk's), and the same SQL written by hand
against sqlite3 is the baseline, measured in the same run. Nothing asserts a time.
"""
from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from server.store.migrate import open_database
from server.store.queries import Store, utc_now


def timed(op: Callable[[int], object], n: int) -> float:
    """Median microseconds of `op(i)` over n calls (after 20 warm-up calls)."""
    for i in range(20):
        op(-1 - i)
    samples = []
    for i in range(n):
        start = time.perf_counter()
        op(i)
        samples.append((time.perf_counter() - start) * 1e6)
    return statistics.median(samples)


def store_ops(store: Store, n: int) -> dict[str, float]:
    for i in range(1000):
        store.add_message("long", "ann", f"m{i}", f"seed-{i}", [])
    upload = store.create_upload("ann", "a.bin", 10**9, "", "application/octet-stream")

    def patch(i: int) -> None:
        u = store.get_upload(upload.id)
        assert u is not None   # created above, never removed
        u.offset = i + 100
        store.update_upload(u)
    return {"send": timed(lambda i: store.add_message("c", "ann", "hi", f"k{i}", []), n),
            "page": timed(lambda i: store.page("long", limit=100), n),
            "patch": timed(patch, n)}


def raw_ops(path: Path, n: int) -> dict[str, float]:
    """The same statements by hand on sqlite3 (the server before SQLAlchemy), on the same schema."""
    open_database(None, path).close()
    db = sqlite3.connect(path, isolation_level=None)
    db.row_factory = sqlite3.Row
    db.execute("PRAGMA synchronous=NORMAL")

    def send(i: int) -> None:
        db.execute("BEGIN IMMEDIATE")
        key = f"k{i}"
        if db.execute("SELECT * FROM messages WHERE conversation = ? AND idempotency_key = ?",
                      ("c", key)).fetchone() is None:
            db.execute("INSERT OR IGNORE INTO conversations (id, created_at) VALUES (?, ?)", ("c", utc_now()))
            seq = db.execute("INSERT INTO messages (id, conversation, sender, sender_name, sender_role, text,"
                             " created_at, idempotency_key) VALUES (?, 'c', 'ann', '', '', 'hi', ?, ?)",
                             (uuid.uuid4().hex, utc_now(), key)).lastrowid
            db.execute("SELECT * FROM messages WHERE seq = ?", (seq,)).fetchone()
            db.execute("SELECT u.* FROM attachments a JOIN uploads u ON u.id = a.upload_id WHERE a.message_seq = ?",
                       (seq,)).fetchall()
        db.execute("COMMIT")

    for i in range(1000):
        db.execute("INSERT INTO conversations VALUES ('long', 'x') ON CONFLICT DO NOTHING")
        db.execute("INSERT INTO messages (id, conversation, sender, text, created_at) VALUES (?, 'long', 'a', ?, 'x')",
                   (uuid.uuid4().hex, f"m{i}"))

    def page(i: int) -> None:
        rows = db.execute("SELECT * FROM messages WHERE conversation = ? AND seq > 0 AND seq < ? ORDER BY seq DESC"
                          " LIMIT 101", ("long", 2**63 - 1)).fetchall()
        db.execute("SELECT a.message_seq, u.* FROM attachments a JOIN uploads u ON u.id = a.upload_id JOIN messages m"
                   " ON m.seq = a.message_seq WHERE a.message_seq BETWEEN ? AND ? AND m.conversation = ?",
                   (rows[-1]["seq"], rows[0]["seq"], "long")).fetchall()

    db.execute("INSERT INTO uploads (id, owner, name, size, declared_type, content_type, created_at) VALUES"
               " ('u', 'ann', 'a', 1000000000, '', '', 'x')")

    def patch(i: int) -> None:
        db.execute("SELECT * FROM uploads WHERE id = ?", ("u",)).fetchone()
        db.execute('UPDATE uploads SET "offset" = ?, touched_at = ? WHERE id = ?', (i + 100, time.time(), "u"))
    return {"send": timed(send, n), "page": timed(page, n), "patch": timed(patch, n)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=500)
    n = parser.parse_args().ops
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        results["sqlite3 by hand (baseline)"] = raw_ops(Path(tmp) / "raw.sqlite3", n)
        store = Store(Path(tmp) / "store.sqlite3")
        results["Store on SQLite"] = store_ops(store, n)
        store.close()
    from tools.services.postgres import Postgres
    postgres = Postgres().start()
    try:
        store = Store(open_database(postgres.fresh_database(), ""))
        results["Store on PostgreSQL 15"] = store_ops(store, n)
        store.close()
    finally:
        postgres.destroy()
    base = results["sqlite3 by hand (baseline)"]
    print(f"median µs per call, {n} calls each (ratio to the baseline)")
    print(f"| {'':28} | {'send a message':>16} | {'page of 100':>16} | {'tus PATCH rows':>16} |")
    print(f"|{'-' * 30}|{'-' * 18}|{'-' * 18}|{'-' * 18}|")
    for name, figures in results.items():
        cells = [f"{figures[k]:7.0f} ({figures[k] / base[k]:4.1f}x)" for k in ("send", "page", "patch")]
        print(f"| {name:28} | " + " | ".join(f"{c:>16}" for c in cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
