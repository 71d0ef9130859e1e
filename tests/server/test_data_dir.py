"""The data directory (database, media, the link secret) is the server user's alone, whatever the umask."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from server.store.data_dir import private_database, private_dir

from .conftest import AGENT, PNG, send, upload


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def usual_umask() -> Iterator[None]:
    """The umask most systems start with (022): new files readable by everyone unless the server says not."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_a_new_data_dir_and_database_are_private(make_server, tmp_path, usual_umask):
    data = tmp_path / "new" / "data"
    server = make_server(data=data)
    with server.client(AGENT) as c:
        assert send(c, "", [upload(c, "pixel.png", PNG, "image/png")["upload_id"]]).status_code == 201
    assert mode(data) == 0o700
    databases = [p for p in data.iterdir() if p.name.startswith("attache.sqlite3")]
    assert databases and {p.name: mode(p) for p in databases} == {p.name: 0o600 for p in databases}


def test_an_existing_data_dir_open_to_others_is_tightened(make_server, tmp_path, usual_umask):
    data = tmp_path / "old"
    data.mkdir(mode=0o755)
    (data / "attache.sqlite3").touch(mode=0o644)
    (data / "attache.sqlite3-wal").touch(mode=0o644)
    assert (mode(data), mode(data / "attache.sqlite3")) == (0o755, 0o644)
    make_server(data=data)
    assert (mode(data), mode(data / "attache.sqlite3")) == (0o700, 0o600)


def test_private_paths_leave_tight_modes_alone(tmp_path, usual_umask):
    data = tmp_path / "d"
    data.mkdir(mode=0o700)
    db = data / "x.sqlite3"
    db.touch(mode=0o400)                       # even tighter than ours: kept
    assert private_dir(data) == data and private_database(db) == db
    assert (mode(data), mode(db)) == (0o700, 0o400)
    fresh = private_database(data / "y.sqlite3")
    assert mode(fresh) == 0o600 and fresh.stat().st_size == 0
