"""The [broker] table, and the refusal of a shared (PostgreSQL) database without one."""

from __future__ import annotations

import pytest

from server.config.broker_config import without_password
from server.config.config_error import ConfigError
from server.config.config_file import load_config

from .conftest import TEST_CONFIG


def load(tmp_path, text: str):
    path = tmp_path / "config.toml"
    path.write_text(TEST_CONFIG + text)
    return load_config(path)


def test_no_broker_is_the_in_process_one(tmp_path):
    assert load(tmp_path, "").broker_url is None
    assert load(tmp_path, '[broker]\nurl = "redis://cache.internal:6379/0"\n').broker_url == \
        "redis://cache.internal:6379/0"


@pytest.mark.parametrize("table, says", [
    ('[broker]\nurl = "http://cache:6379"\n', "must be a Redis URL"),
    ("[broker]\n", "must be a Redis URL"),
    ('[broker]\nurl = "redis://cache"\nchannel = "x"\n', "unknown key 'channel'"),
])
def test_a_bad_broker_table_is_refused(tmp_path, table, says):
    with pytest.raises(ConfigError, match=says):
        load(tmp_path, table)


@pytest.mark.parametrize("url", ["postgresql://attache@db.internal:5432/attache",
                                 "postgresql+psycopg://attache:pw@db/attache", "postgres://db/attache"])
def test_a_shared_database_without_a_broker_is_refused_saying_why(tmp_path, url):
    with pytest.raises(ConfigError) as refused:
        load(tmp_path, f'[database]\nurl = "{url}"\n')
    message = str(refused.value)
    assert "[database] is PostgreSQL but there is no [broker]" in message and "several processes" in message
    assert 'Add [broker] url = "redis://HOST:6379/0"' in message


def test_a_printed_url_has_no_password():
    assert without_password("redis://:s3cret@cache.internal:6379/0") == "redis://cache.internal:6379/0"
    assert without_password("rediss://app:s3cret@[::1]:6380/2") == "rediss://app@[::1]:6380/2"
    assert without_password("redis://cache.internal:6379/0") == "redis://cache.internal:6379/0"
