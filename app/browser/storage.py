"""Unsent work survives a reload: the composer's draft and every message not yet
delivered are kept in IndexedDB, File objects included (structured clone keeps a
reference to the file, not a copy in Python).

Storage is a convenience, never a reason to fail: where IndexedDB is missing or
refuses (private windows, some embedding iframes), the canvas works without it.
"""
from __future__ import annotations

import asyncio
import json
from typing import Any

from js import Object, console, indexedDB
from pyodide.ffi import create_proxy, to_js

DB_NAME = "attache"
DB_VERSION = 1
STORE = "unsent"
COMPOSER = "composer"


class StorageError(Exception):
    pass


def _settle(request) -> asyncio.Future:
    """A future for an IDBRequest; handlers are attached at once, so no event is missed."""
    future = asyncio.get_event_loop().create_future()

    def ok(_event):
        if not future.done():
            future.set_result(request.result)

    def fail(_event):
        if not future.done():
            future.set_exception(StorageError(str(request.error)))

    proxies = [create_proxy(ok), create_proxy(fail)]
    request.onsuccess, request.onerror = proxies
    future.add_done_callback(lambda _f: [proxy.destroy() for proxy in proxies])
    return future


class UnsentStore:
    """Records of one identity in one conversation: the composer and the outbox."""

    def __init__(self, place: str, identity: str) -> None:
        """place: the backend and conversation; identity: who we are (set again once the backend says)."""
        self.place, self.identity = place, identity
        self.db: Any = None   # the IndexedDB database (a JS proxy); None: not opened, or none here

    @property
    def scope(self) -> str:
        return f"{self.place}|{self.identity}"

    async def open(self) -> None:
        try:
            request = indexedDB.open(DB_NAME, DB_VERSION)
            key_path = to_js({"keyPath": "id"}, dict_converter=Object.fromEntries)
            upgrade = create_proxy(lambda _e: request.result.createObjectStore(STORE, key_path))
            request.onupgradeneeded = upgrade
            try:
                self.db = await _settle(request)
            finally:
                upgrade.destroy()
        except Exception as error:  # no IndexedDB here: carry on without it
            console.warn(f"Attache: unsent messages will not survive a reload ({error})")
            self.db = None

    def _store(self, mode: str):
        return self.db.transaction(STORE, mode).objectStore(STORE)

    def put(self, key: str, record: dict, handles: list) -> None:
        """Keep `record` (JSON-able) and its File handles under `key`; ordered, fire-and-forget."""
        if self.db is None:
            return
        value = {"id": f"{self.scope}/{key}", "scope": self.scope, "key": key,
                 "record": json.dumps(record), "files": handles}
        self._quietly(self._store("readwrite").put(to_js(value, dict_converter=Object.fromEntries)))

    def delete(self, key: str) -> None:
        if self.db is not None:
            self._quietly(self._store("readwrite").delete(f"{self.scope}/{key}"))

    async def load(self) -> list[tuple[str, dict, list]]:
        """Every kept (key, record, handles) of this scope; unreadable entries are dropped."""
        if self.db is None:
            return []
        try:
            values = await _settle(self._store("readonly").getAll())
        except StorageError as error:
            console.warn(f"Attache: could not read unsent messages ({error})")
            return []
        kept = []
        for value in values:
            if value.scope != self.scope:
                continue
            try:
                kept.append((value.key, json.loads(value.record), list(value.files)))
            except (TypeError, ValueError):
                self.delete(value.key)
        return kept

    @staticmethod
    def _quietly(request) -> None:
        _settle(request).add_done_callback(_warn_on_failure)


def _warn_on_failure(future: asyncio.Future) -> None:
    if future.exception() is not None:
        console.warn(f"Attache: could not keep an unsent message ({future.exception()})")
