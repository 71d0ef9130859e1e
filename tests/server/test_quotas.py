"""Upload quotas per identity: uploads in progress at once and bytes per 24 hours -> 429 the page can show."""

from __future__ import annotations

import base64
import time

import pytest

from server.config.config_error import ConfigError
from server.config.config_file import load_config
from server.store.migrate import open_database
from server.store.queries import Store
from server.uploads.quotas import WINDOW, Quotas, in_words
from tests.services.postgres import both_databases, server_database  # noqa: F401  (fixture: SQLite and PostgreSQL)

from .conftest import TUS, metadata, patch, start_upload, upload_id
from .openapi_check import check
from .production import PROD_CONFIG, bearer, mint, shared_server

SMALL = """
[attachments]
max_file_size = "600 kB"
accepted_types = [".txt"]
max_open_uploads = 3
daily_bytes_per_identity = "1 MB"

[auth]
secret_file = "jwt.key"
"""


@pytest.fixture(scope="module")
def prod(tmp_path_factory, database_kind, request):
    yield from shared_server(tmp_path_factory, PROD_CONFIG, server_database(database_kind, request))


@pytest.fixture(scope="module")
def small(tmp_path_factory, database_kind, request):
    yield from shared_server(tmp_path_factory, SMALL, server_database(database_kind, request))


def client(server, sub: str):
    return server.client(bearer(mint(sub, "customer", ["c1"])))


def refused(r, code: str, quota: str, limit: int) -> dict:
    assert r.status_code == 429, r.text
    error = r.json()["error"]
    assert (error["code"], error["quota"], error["limit"]) == (code, quota, limit)
    assert 1 <= int(r.headers["retry-after"]) == error["retry_after"] <= WINDOW
    assert error["message"] and error["hint"] and "location" not in r.headers
    return error


def test_a_burst_of_creations_stops_at_max_open_uploads(prod):
    """Issue 7: 200 creations of 1 MB in a fraction of a second went through; now the 21st is refused."""
    with client(prod, "u-burst") as c, client(prod, "u-bystander") as other:
        doc = c.get("/api/openapi.json").json()
        answers = [start_upload(c, f"f{i}.txt", 1_000_000, "text/plain") for i in range(200)]
        assert [r.status_code for r in answers] == [201] * 20 + [429] * 180
        check(doc, answers[-1])                                          # as the OpenAPI document says
        error = refused(answers[-1], "too_many_open_uploads", "max_open_uploads", 20)
        assert "20 uploads in progress" in error["message"] and "24 hours" in error["message"]
        assert start_upload(other, "mine.txt", 10, "text/plain").status_code == 201     # per identity
        # rules still come first: a file that could never be accepted says so, not "later"
        assert start_upload(c, "big.pdf", 300_000_001, "application/pdf").status_code == 413
        # finishing one upload or cancelling another makes room, one at a time
        first, second = upload_id(answers[0]), upload_id(answers[1])
        assert patch(c, first, 0, b"a" * 1_000_000).status_code == 204
        assert start_upload(c, "next.txt", 10, "text/plain").status_code == 201
        assert start_upload(c, "more.txt", 10, "text/plain").status_code == 429
        assert c.delete(f"/api/uploads/{second}", headers=TUS).status_code == 204
        assert start_upload(c, "more.txt", 10, "text/plain").status_code == 201


def keyed(c, name: str, size: int, key: str):
    """A creation as the page sends it: with an idempotency-key in its metadata."""
    meta = metadata(name, "text/plain") + ",idempotency-key " + base64.b64encode(key.encode()).decode()
    return c.post("/api/uploads", headers={**TUS, "Upload-Length": str(size), "Upload-Metadata": meta})


def test_a_creation_sent_again_names_the_upload_the_first_made_and_counts_once(small):
    """Its answer lost, the page reloaded or the send cancelled while it was on its way: the page sends the
    creation again with its key, and gets the first one's upload, even with no room left for another."""
    key = "k" * 32
    with client(small, "u-again") as c, client(small, "u-someone") as someone:
        first = keyed(c, "a.txt", 600_000, key)
        again = keyed(c, "a.txt", 600_000, key)
        assert (first.status_code, again.status_code) == (201, 201) and upload_id(again) == upload_id(first)
        assert start_upload(c, "b.txt", 400_000, "text/plain").status_code == 201   # 1 MB a day: charged once
        assert start_upload(c, "c.txt", 1, "text/plain").status_code == 429
        assert upload_id(keyed(c, "a.txt", 600_000, key)) == upload_id(first)      # still named, not refused
        reused = keyed(c, "other.txt", 10, key)
        assert reused.status_code == 409 and reused.json()["error"]["code"] == "creation_key_reused"
        assert keyed(c, "a.txt", 600_000, "short").json()["error"]["code"] == "bad_metadata"
        assert upload_id(keyed(someone, "a.txt", 600_000, key)) != upload_id(first)   # keys are per identity
        assert c.delete(f"/api/uploads/{upload_id(first)}", headers=TUS).status_code == 204
        assert keyed(c, "a.txt", 1, key).status_code == 201                # terminated: the key is free again


def test_daily_bytes_count_from_creation_and_a_cancel_gives_back_what_was_never_sent(small):
    with client(small, "u-daily") as c:
        a = start_upload(c, "a.txt", 600_000, "text/plain")
        b = start_upload(c, "b.txt", 400_000, "text/plain")
        assert (a.status_code, b.status_code) == (201, 201)
        error = refused(start_upload(c, "c.txt", 1, "text/plain"), "daily_upload_quota", "daily_bytes_per_identity",
                        1_000_000)
        assert "c.txt" in error["message"] and "1.0 MB" in error["message"] and "24 hours" in error["message"]
        assert error["retry_after"] > WINDOW - 600                     # the first upload leaves the window then
        # b sends 100 kB, then is cancelled: 300 kB come back, not one byte more
        assert patch(c, upload_id(b), 0, b"b" * 100_000).status_code == 204
        assert c.delete(b.headers["location"], headers=TUS).status_code == 204
        assert start_upload(c, "d.txt", 300_001, "text/plain").status_code == 429
        assert start_upload(c, "d.txt", 300_000, "text/plain").status_code == 201
    with client(small, "u-daily-2") as other:                          # another identity has its own day
        assert start_upload(other, "e.txt", 600_000, "text/plain").status_code == 201


def test_an_agent_and_a_customer_with_the_same_sub_have_their_own_quotas_and_uploads(small):
    """Quotas were keyed on `sub` alone: a customer whose sub equals an agent's used the agent's quota
    (and could resume or cancel the agent's uploads). The owner is now role and sub."""
    with small.client(bearer(mint("u-twin", "customer", ["c1"]))) as customer, \
            small.client(bearer(mint("u-twin", "agent", ["c1"]))) as agent:
        first = start_upload(customer, "a.txt", 600_000, "text/plain")
        assert first.status_code == 201
        assert start_upload(customer, "b.txt", 600_000, "text/plain").status_code == 429
        assert start_upload(agent, "b.txt", 600_000, "text/plain").status_code == 201     # a day of its own
        assert agent.head(first.headers["location"], headers=TUS).status_code == 404      # not the agent's
        assert customer.head(first.headers["location"], headers=TUS).status_code == 200


def test_malformed_headers_are_400_even_over_quota(small):
    with client(small, "u-full") as c:
        for i in range(3):
            assert start_upload(c, f"{i}.txt", 10, "text/plain").status_code == 201
        assert start_upload(c, "x.txt", 10, "text/plain").status_code == 429
        r = c.post("/api/uploads", headers={**TUS, "Upload-Length": "\u00b2".encode(),
                                            "Upload-Metadata": metadata("x.txt")})
        assert r.status_code == 400


# -- the ledger, with a clock -----------------------------------------------------------------------

@pytest.fixture
def ledger(tmp_path, database_url):
    store = Store(open_database(database_url, tmp_path / "db.sqlite3"))
    now = [time.time()]          # the store stamps rows with the real clock
    quotas = Quotas(store.database, max_open=2, daily_bytes=1000, expiry=3600, clock=lambda: now[0])
    yield store, quotas, now
    store.close()


def test_the_day_is_a_sliding_24_hours(ledger):
    store, quotas, now = ledger
    for size in (300, 300):
        u = store.create_upload("ann", "a.txt", size, "", "text/plain")
        quotas.charge(u.id, "ann", size)
        u.sha256 = "0" * 64           # finished: no longer in progress
        store.update_upload(u)
        now[0] += 3600
    with pytest.raises(Exception) as caught:
        quotas.admit("ann", "b.txt", 500)
    assert caught.value.status == 429 and caught.value.extra["retry_after"] == WINDOW - 7200  # the oldest frees it
    now[0] += WINDOW - 7200
    quotas.admit("ann", "b.txt", 500)


def test_uploads_in_progress_that_expired_do_not_count(ledger):
    store, quotas, now = ledger
    for _ in range(2):
        store.create_upload("ann", "a.txt", 10, "", "text/plain")
    with pytest.raises(Exception) as caught:
        quotas.admit("ann", "b.txt", 10)
    assert 3590 < caught.value.extra["retry_after"] <= 3601     # when the oldest expires
    now[0] += 3601
    quotas.admit("ann", "b.txt", 10)


@pytest.mark.parametrize("seconds,words", [(0.2, "1 second"), (59, "59 seconds"), (61, "2 minutes"),
                                           (3600, "1 hour"), (3661, "1 hour 2 minutes"), (86400, "24 hours")])
def test_waits_in_words(seconds, words):
    assert in_words(seconds) == words


# -- config ------------------------------------------------------------------------------------------

def config(tmp_path, attachments: str):
    path = tmp_path / "c.toml"
    path.write_text(f"[attachments]\n{attachments}\n")
    return load_config(path)


def test_quota_defaults(tmp_path):
    c = config(tmp_path, "")
    assert (c.max_open_uploads, c.daily_bytes_per_identity) == (20, 5_000_000_000)
    assert config(tmp_path, 'max_file_size = "8 GB"').daily_bytes_per_identity == 8_000_000_000
    c = config(tmp_path, 'max_open_uploads = 3\ndaily_bytes_per_identity = "2 GiB"')
    assert (c.max_open_uploads, c.daily_bytes_per_identity) == (3, 2 * 2**30)
    assert "max_open_uploads" not in c.restrictions.to_json()


@pytest.mark.parametrize("line,message", [
    ("max_open_uploads = 0", "max_open_uploads"), ("max_open_uploads = true", "max_open_uploads"),
    ('max_open_uploads = "5"', "max_open_uploads"),
    ('daily_bytes_per_identity = "lots"', "daily_bytes_per_identity"),
    ('daily_bytes_per_identity = "1 MB"', "less than max_file_size"),
])
def test_bad_quota_settings_are_refused_at_start(tmp_path, line, message):
    with pytest.raises(ConfigError, match=message):
        config(tmp_path, line)
