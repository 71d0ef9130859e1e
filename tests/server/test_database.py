"""The database layer on SQLite and on a real PostgreSQL: the same queries, migrations at start (old SQLite
files upgraded in place), seq order equal to commit order, idempotency races, the Twilio ledger, the config."""

from __future__ import annotations

import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path

import pytest
from sqlalchemy import text

from server.bridges.twilio.ledger import Ledger, SentPart
from server.config.config_error import ConfigError
from server.config.config_file import load_config
from server.config.database_config import database_url as parse_database
from server.store.database import Database
from server.store.migrate import open_database
from server.store.migrate import current, head
from server.store.queries import Store
from server.store.schema import messages
from tests.services.postgres import both_databases  # noqa: F401  (fixture: SQLite and PostgreSQL)

from .legacy_schema import V1, V2


@pytest.fixture
def opened(tmp_path: Path, database_url: str | None):
    """`opened()` -> a Store on this test's database; each call is another "process" (its own engine)."""
    stores: list[Store] = []

    def make() -> Store:
        stores.append(Store(open_database(database_url, tmp_path / "db.sqlite3")))
        return stores[-1]

    yield make
    for store in stores:
        store.close()


def complete_upload(store: Store, name: str = "a.png", sha: str = "a" * 64):
    u = store.create_upload("ann", name, 3, "image/png", "image/png")
    u.offset, u.sha256 = 3, sha
    store.update_upload(u)
    return u


def test_messages_uploads_and_thumbnails_round_trip(opened):
    store = opened()
    u = complete_upload(store)
    store.record_thumbnail(u.sha256, 48, 32)
    first, created = store.add_message("c1", "ann", "hello", "k1", [u], sender_name="Ann", sender_role="customer")
    assert created and first["attachments"][0].thumbnail == (48, 32) and first["sender_name"] == "Ann"
    for i in range(4):
        store.add_message("c1", "bob", f"m{i}", f"k{i + 2}", [])
    store.add_message("c2", "bob", "elsewhere", "k1", [])          # keys are per conversation
    page, older = store.page("c1", limit=3)
    assert [m["text"] for m in page] == ["m1", "m2", "m3"] and older == page[0]["seq"]
    page, older = store.page("c1", before=older, limit=3)
    assert [m["text"] for m in page] == ["hello", "m0"] and older is None
    assert page[0]["attachments"][0].name == "a.png"
    assert [m["text"] for m in store.messages("c1", after=first["seq"])] == ["m0", "m1", "m2", "m3"]
    assert store.last_seq() == store.messages("c2")[0]["seq"]
    assert store.attached_in(u.sha256, "c1") and not store.attached_in(u.sha256, "c2")
    assert store.attached_media_type(u.sha256, "a.png", "c1") == "image/png"
    assert store.is_attached(u.id) and store.stale_uploads(u.touched_at + 1) == []
    store.delete_upload(u.id)                                      # refused: it was sent
    assert store.get_upload(u.id) is not None


def test_a_send_reads_its_uploads_at_once_and_answers_the_message_as_stored(opened):
    """A send asks for all its uploads in one statement and does not read its message back:
    what it answers must be what a later read finds, and a resend what the first one stored."""
    store = opened()
    photo, made = complete_upload(store, "p.png", "c" * 64), complete_upload(store, "m.png", "d" * 64)
    store.record_thumbnail(made.sha256, 20, 10)
    found = store.uploads_to_send([photo.id, made.id, "no-such-upload"])
    assert set(found) == {photo.id, made.id}
    assert found[photo.id].thumbnail_pending and found[made.id].thumbnail == (20, 10)
    sent, created = store.add_message("c9", "ann", "two", "k9", [found[photo.id], found[made.id]], sender_name="Ann")
    assert created and sent == store.find_by_key("c9", "k9") == store.page("c9")[0][0]
    again, created = opened().add_message("c9", "bob", "other", "k9", [])           # the key's index finds it
    assert not created and again == sent
    assert len(store.messages("c9")) == 1


def test_an_unsent_upload_goes_and_its_thumbnail_with_it(opened):
    store = opened()
    u = complete_upload(store, "b.png", "b" * 64)
    assert [x.id for x in store.uploads_without_thumbnail()] == [u.id]
    store.record_thumbnail(u.sha256, 0, 0)                         # 0 x 0: none could be made, also recorded
    store.record_thumbnail(u.sha256, 10, 10)                       # made again: replaced
    assert store.has_thumbnail(u.sha256) and store.uploads_without_thumbnail() == []
    assert [x.id for x in store.stale_uploads(u.touched_at + 1)] == [u.id]
    store.delete_upload(u.id)
    store.forget_thumbnail(u.sha256)
    assert store.get_upload(u.id) is None and not store.media_in_use(u.sha256) and not store.has_thumbnail(u.sha256)


def test_the_same_key_sent_at_once_by_many_processes_is_one_message(opened):
    stores = [opened() for _ in range(6)]
    barrier = threading.Barrier(len(stores))

    def send(store: Store):
        barrier.wait()
        return store.add_message("race", "ann", "once", "same-key", [])

    with ThreadPoolExecutor(len(stores)) as pool:
        results = list(pool.map(send, stores))
    assert sum(created for _, created in results) == 1
    assert len({m["id"] for m, _ in results}) == 1 and len(stores[0].messages("race")) == 1


def test_a_later_seq_never_commits_before_an_earlier_one(opened):
    """A listener reads seq > last: the second insert must wait until the first one committed."""
    first, second, reader = opened(), opened(), opened()
    db: Database = first.database
    start = reader.add_message("order", "ann", "before", "k0", [])[0]["seq"]     # the conversation exists
    with ThreadPoolExecutor(1) as pool:
        with db.transaction() as conn:                          # a slow insert, caught between its seq and commit
            db.lock_messages(conn)
            seq = conn.execute(messages.insert().values(
                id="slow", conversation="order", sender="ann", sender_name="", sender_role="", text="slow",
                created_at="x", idempotency_key="").returning(messages.c.seq)).scalar_one()
            later = pool.submit(second.add_message, "order", "bob", "fast", "k", [])
            wait([later], timeout=1.5)
            assert reader.messages("order", after=start) == []   # the later one is not visible before the first
        message, _ = later.result(timeout=20)
    assert message["seq"] > seq
    assert [m["text"] for m in reader.messages("order", after=start)] == ["slow", "fast"]


def test_every_process_of_a_database_reads_one_cluster_id(opened, tmp_path):
    """What the processes' Redis keys are named after: drawn once per database, the same for all of them."""
    one, two = opened(), opened()
    assert one.cluster_id() == two.cluster_id() and len(one.cluster_id()) == 16
    elsewhere = Store(tmp_path / "elsewhere.sqlite3")
    assert elsewhere.cluster_id() != one.cluster_id()
    elsewhere.close()


def test_two_processes_starting_at_once_migrate_once(tmp_path, database_url):
    with ThreadPoolExecutor(2) as pool:
        databases = list(pool.map(lambda _: open_database(database_url, tmp_path / "db.sqlite3"), range(2)))
    try:
        assert [current(d) for d in databases] == [head(), head()]
    finally:
        for d in databases:
            d.close()


@pytest.mark.parametrize("schema", [V1, V2], ids=["v1", "v2"])
def test_a_database_file_of_the_code_before_migrations_is_upgraded_in_place(tmp_path, schema):
    path = tmp_path / "attache.sqlite3"
    old = sqlite3.connect(path)
    old.executescript(schema)
    old.executescript(
        "INSERT INTO conversations VALUES ('c1', '2026-01-01T00:00:00Z');"
        "INSERT INTO uploads (id, owner, name, size, declared_type, content_type, \"offset\", head_checked, sha256,"
        " created_at) VALUES ('u1', 'agent', 'p.png', 3, 'image/png', 'image/png', 3, 1, 'cafe', 'x');"
        "INSERT INTO messages (id, conversation, sender, text, created_at, idempotency_key)"
        " VALUES ('m1', 'c1', 'customer', 'hi', 'x', 'k1'), ('m2', 'c1', 'agent', 'hello', 'x', 'k2');"
        "INSERT INTO attachments VALUES (2, 0, 'u1');"
        "INSERT INTO thumbnails VALUES ('cafe', 40, 30, 1.0);")
    if schema is V2:                          # as that code wrote them: with the sender's name and role
        old.execute("UPDATE messages SET sender_name = 'Customer', sender_role = 'customer' WHERE id = 'm1'")
        old.execute("UPDATE messages SET sender_name = 'Agent', sender_role = 'agent' WHERE id = 'm2'")
        old.execute("INSERT INTO upload_quota VALUES ('u1', 'agent', 5.0, 3)")
    old.commit()
    old.close()
    store = Store(path)
    assert current(store.database) == head()
    page, _ = store.page("c1")
    assert [(m["text"], m["sender_role"]) for m in page] == [("hi", "customer"), ("hello", "agent")]
    assert [m["sender_name"] for m in page] == ["Customer", "Agent"]     # v1: made from the sender id
    assert page[1]["attachments"][0].thumbnail == (40, 30)
    assert (store.get_upload("u1").touched_at > 0) is (schema is V1)   # v1: its grace period starts now
    assert store.add_message("c1", "agent", "again", "k2", [])[1] is False     # the old unique index holds
    assert store.add_message("c1", "agent", "new", "k3", [])[0]["seq"] == 3
    if schema is V2:
        assert store.database.scalar(text("SELECT bytes FROM upload_quota")) == 3
    store.close()
    store = Store(path)                       # the next start finds nothing to do
    assert len(store.messages("c1")) == 3
    store.close()


def test_the_twilio_ledger_lives_in_the_servers_database(opened, tmp_path):
    store = opened()
    ledger = Ledger(store.database)
    ledger.posting("CH1", "k", 0, "ME1")
    assert ledger.part("CH1", "k", 0).state == "posting"
    ledger.sent("CH1", "k", SentPart(0, "IM1", 4, "ME1", "2026-01-01T00:00:00Z"))
    assert ledger.part("CH1", "k", 0).sent == SentPart(0, "IM1", 4, "ME1", "2026-01-01T00:00:00Z")
    ledger.forget("CH1", "k", 0)
    assert ledger.part("CH1", "k", 0) is None
    ledger.mark_processed("tok", "IM2")
    ledger.mark_processed("tok", "IM2")                          # a redelivery: nothing twice, no error
    assert ledger.processed("tok", "other") and ledger.processed("", "IM2") and not ledger.processed("", "IM3")
    assert Ledger(opened().database).processed("tok", "IM2")     # another process sees it
    ledger.close()                                               # not its database: the store's stays open
    assert store.last_seq() == 0


def test_an_older_ledger_file_is_read_in_once(opened, tmp_path):
    old = Ledger(tmp_path / "twilio.sqlite3")                    # as a ledger file of its own
    old.sent("CH1", "k", SentPart(0, "IM1", 1, None, "t"))
    old.mark_processed("tok", "IM9")
    old.close()
    ledger = Ledger(opened().database)
    assert ledger.adopt(tmp_path / "twilio.sqlite3") == 2
    assert ledger.part("CH1", "k", 0).sent.message_sid == "IM1" and ledger.processed("tok", "x")
    assert not (tmp_path / "twilio.sqlite3").exists() and (tmp_path / "twilio.sqlite3.imported").exists()
    assert ledger.adopt(tmp_path / "twilio.sqlite3") == 0


# -- configuration --------------------------------------------------------------------------------------
def test_without_database_the_server_keeps_sqlite_in_its_data_folder():
    assert load_config(None).database_url is None


def test_a_database_url_is_read_and_never_shown_with_its_password(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[database]\nurl = "postgres://attache:s3cret@db.internal:5432/attache"\n'
                    '[broker]\nurl = "redis://cache.internal:6379/0"\n')
    config = load_config(path)
    assert config.database_url == "postgresql://attache:s3cret@db.internal:5432/attache"
    assert "s3cret" not in repr(config)


@pytest.mark.parametrize("table,error", [
    ({"url": "mysql://a@h/db"}, "'mysql' is not supported"),
    ({"url": "postgresql://a@h"}, "names no database"),
    ({"url": "postgresql:///db"}, "names no host"),
    ({"url": ""}, "url must be a PostgreSQL URL"),
    ({"url": 5}, "url must be a PostgreSQL URL"),
    ({"url": "postgresql://a@h/db", "pool": 3}, "unknown key 'pool'"),
    ("postgresql://a@h/db", r"\[database\] must be a table"),
])
def test_a_bad_database_table_says_what_is_wrong(table, error):
    with pytest.raises(ConfigError, match=error):
        parse_database(table, "c.toml", storage=False)


def test_files_in_a_bucket_need_a_shared_database():
    with pytest.raises(ConfigError, match=r"\[storage\] needs a \[database\] table"):
        parse_database(None, "c.toml", storage=True)
    assert parse_database({"url": "postgresql://a@h/db"}, "c.toml", storage=True) == "postgresql://a@h/db"


def test_the_openapi_document_of_a_server_on_postgresql_lists_its_503s(tmp_path):
    from server.openapi.document import document
    path = tmp_path / "c.toml"
    path.write_text('[database]\nurl = "postgresql://attache@db.internal/attache"\n'
                    '[broker]\nurl = "redis://cache.internal:6379/0"\n')
    for config, listed in ((load_config(path), True), (load_config(None), False)):
        paths = document(config)["paths"]
        for path_, method in (("/api/conversations/{cid}/messages", "post"),
                              ("/api/conversations/{cid}/messages", "get"), ("/api/uploads", "post")):
            assert ("503" in paths[path_][method]["responses"]) is listed, (path_, method)
