"""What survives a reload: the composer's draft and every message not yet delivered.

The views say what to keep; `storage.UnsentStore` keeps it in IndexedDB, File
objects included. Records are JSON-able dicts (the outbox's `to_record`, the
draft's text and file descriptions); handles are the Files that go with them.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from app.browser.storage import COMPOSER, UnsentStore
from app.core.composer import Staged


@dataclass
class Kept:
    """What the last page left: the draft (record, handles) and the unsent messages (key, record, handles)."""

    draft: tuple[dict, list] | None = None
    messages: list[tuple[str, dict, list]] = field(default_factory=list)


class Persistence:
    def __init__(self, store: UnsentStore) -> None:
        self.store = store

    async def open(self) -> None:
        await self.store.open()

    def keep_draft(self, text: str, staged: Sequence[Staged]) -> None:
        if not text and not staged:
            return self.store.delete(COMPOSER)
        record = {"text": text, "files": [s.info.to_json() for s in staged]}
        self.store.put(COMPOSER, record, [s.handle for s in staged])

    def keep_message(self, record: dict, files: Sequence[Staged]) -> None:
        """Keep an undelivered message (an `Outbox.to_record`) under its local id."""
        self.store.put(record["local_id"], record, [s.handle for s in files])

    def forget(self, key: str) -> None:
        """A message was delivered or given up, or a kept entry proved unusable."""
        self.store.delete(key)

    async def load(self) -> Kept:
        kept = Kept()
        for key, record, handles in await self.store.load():
            if key == COMPOSER:
                kept.draft = (record, handles)
            else:
                kept.messages.append((key, record, handles))
        return kept
