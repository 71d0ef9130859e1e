"""The data directory and the database file, readable by the server's user only.

Why: the directory holds every message, every file, the media-link secret and
the database; under the usual umask (022) a new folder and a new SQLite file
would be readable by every user of the machine. A new data directory is
created 0700 and a new database file 0600 (SQLite gives its -wal and -shm
files the database file's mode). An existing directory or database that others
may read is tightened if it is ours; the administrator's own choice of group
access is not kept, since nothing in there is meant for anyone but the server.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path


def _tighten(path: Path, mode: int) -> None:
    """Drop group and other permissions of `path` when it has any and this process owns it."""
    info = path.stat()
    if stat.S_IMODE(info.st_mode) & 0o077 and info.st_uid == os.geteuid():
        path.chmod(mode)


def private_dir(path: Path) -> Path:
    """`path` as a directory only its owner may enter (created with its parents if missing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:
        _tighten(path, 0o700)
    return path


def private_database(path: Path) -> Path:
    """`path` as an SQLite file only its owner may read: created empty (0600) if missing (SQLite
    fills an empty file); an existing one, and its journal files, tightened."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(FileNotFoundError):
                _tighten(path.with_name(path.name + suffix), 0o600)
    return path
