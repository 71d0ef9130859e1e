"""The conversation's history as blocks of messages, for a page that shows only what is near.

Pure bookkeeping (the browser's HistoryView does the DOM): the newest page
comes first, older pages are fetched with the token the page before gave, and
each page is one block. A block far from the viewport is replaced in the DOM by
a spacer of its measured height; once more than `keep_hidden` blocks are
hidden, the oldest-hidden ones drop their messages too and are fetched again
with the same token when they come back near. So neither the DOM nor Python
grows with the length of the conversation.

Messages that arrive live (the answer to our send, the event stream) go into
live blocks at the end, in seq order, each once. The newest page and the live
blocks are never dropped (their token is None): the live feed's deduplication
and the outbox's "did it arrive?" look only at them. A live message older than
the newest page belongs to pages not fetched yet (or fetched already): it is
not shown out of place.
"""
from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from app.core.models import Message

LIVE_BLOCK = 100  # messages per live block: a long session's new messages are virtualised too


class Page(Protocol):
    """What `ConversationApi.parse_history` returns (app.backends.HistoryPage)."""
    @property
    def messages(self) -> Sequence[Message]: ...

    @property
    def older(self) -> str | None: ...


@dataclass(eq=False)
class Block:
    key: int                         # unique, for the DOM (data-block)
    token: str | None                # fetches this block again; None: kept in memory for good
    messages: list[Message] | None   # oldest first; None while dropped (fetch again with `token`)
    live: bool = False               # arrived after start: announced (history blocks are not)
    shown: bool = False              # in the DOM with its messages (else a spacer of `height`)
    height: float = 0.0              # px, as last measured in the DOM

    @property
    def first_seq(self) -> int:
        return self.messages[0].seq if self.messages else 0

    @property
    def last_seq(self) -> int:
        return self.messages[-1].seq if self.messages else 0


class Timeline:
    def __init__(self, keep_hidden: int = 4) -> None:
        self.blocks: list[Block] = []    # oldest first
        self.older: str | None = None    # token of the next older page
        self.started = False
        self.keep_hidden = keep_hidden
        self._hidden: list[Block] = []   # hidden blocks still holding messages, least recently hidden first
        self._recent: dict[str, Message] = {}   # id -> message, in blocks never dropped
        self._by_key: dict[int, Block] = {}
        self._floor = 0                  # seq of the newest page's first message
        self._keys = 0

    # ---- pages ------------------------------------------------------------------------
    @property
    def at_start(self) -> bool:
        """The first message of the conversation is in a block."""
        return self.started and self.older is None

    def start(self, page: Page) -> Block | None:
        """The newest page (None when the conversation is empty)."""
        self.started, self.older = True, page.older
        if not page.messages:
            return None
        block = self._block(None, sorted(page.messages, key=_seq), live=False, at=0)
        self._floor = block.first_seq
        return block

    def prepend(self, token: str, page: Page) -> Block | None:
        """The page `token` fetched, older than every block; None when it holds no message."""
        self.older = page.older
        messages = [m for m in sorted(page.messages, key=_seq) if m.id not in self._recent]
        return self._block(token, messages, live=False, at=0) if messages else None

    def refill(self, block: Block, page: Page) -> None:
        """A dropped block's messages, fetched again with its token."""
        block.messages = sorted(page.messages, key=_seq)

    # ---- live messages -------------------------------------------------------------------
    def add(self, message: Message) -> tuple[Block, Message | None] | None:
        """Place a delivered message: (its block, the message it goes before, None at the end),
        or None when it is shown already or older than the newest page."""
        if message.id in self._recent or (self._floor and message.seq < self._floor):
            return None
        self._recent[message.id] = message
        pinned = [b for b in self.blocks if b.token is None and b.messages]
        newest = pinned[-1].last_seq if pinned else 0
        if message.seq >= newest:
            tail = self.blocks[-1] if self.blocks else None
            held = tail.messages if tail is not None and tail.live else None
            if tail is None or held is None or len(held) >= LIVE_BLOCK:
                held = []
                tail = self._block(None, held, live=True, at=len(self.blocks))
            held.append(message)
            return tail, None
        # out of order (an answer overtaken by a newer event): into its place among the kept blocks
        block, held = next((b, b.messages) for b in pinned if b.messages and b.last_seq > message.seq)
        i = bisect_right([m.seq for m in held], message.seq)
        held.insert(i, message)
        return block, held[i + 1]

    def get(self, message_id: str) -> Message | None:
        """The message with this id, if a block holds it now (else None: not fetched, or dropped)."""
        if message_id in self._recent:
            return self._recent[message_id]
        for block in self.blocks:
            for message in block.messages or ():
                if message.id == message_id:
                    return message
        return None

    def recent_keys(self) -> set[str]:
        """Idempotency keys of the messages the live feed deduplicates against."""
        return {m.idempotency_key for m in self._recent.values() if m.idempotency_key}

    def last_seq(self) -> int | None:
        """The newest seq shown: where the live feed resumes."""
        return max((m.seq for m in self._recent.values()), default=None)

    def update(self, messages: Sequence[Message]) -> int:
        """New copies of messages already held (new signed links; an edit, a deletion): a block drawn
        again uses them. How many changed."""
        fresh = {m.id: m for m in messages}
        changed = 0
        for block in self.blocks:
            held = block.messages or []
            for i, m in enumerate(held):
                if m.id in fresh and fresh[m.id] != m:
                    held[i] = fresh[m.id]
                    changed += 1
        self._recent.update((k, v) for k, v in fresh.items() if k in self._recent)
        return changed

    # ---- in and out of the DOM ------------------------------------------------------------
    def shown(self, block: Block) -> None:
        block.shown = True
        if block in self._hidden:
            self._hidden.remove(block)

    def stays_shown(self, block: Block) -> bool:
        """The newest live block is never a spacer, wherever the reader has scrolled: a message that
        comes live is announced (role=log) and is in the page as it comes, and the block holds at most
        LIVE_BLOCK messages. (Far from the view it used to become a spacer before anyone saw it.)"""
        return block.live and self.blocks[-1] is block

    def hidden(self, block: Block, height: float) -> list[Block]:
        """`block` became a spacer `height` px tall; returns the blocks that dropped their messages."""
        block.shown, block.height = False, height
        if block.token is None:
            return []
        if block not in self._hidden:
            self._hidden.append(block)
        dropped = []
        while len(self._hidden) > self.keep_hidden:
            old = self._hidden.pop(0)
            old.messages = None
            dropped.append(old)
        return dropped

    def find(self, key: int) -> Block | None:
        return self._by_key.get(key)

    @property
    def paged(self) -> bool:
        """Some block came from an older page (so the start of the history was not all there at once)."""
        return bool(self.blocks) and self.blocks[0].token is not None

    def loaded(self) -> int:
        """Messages held in Python now (for the diagnostics)."""
        return sum(len(b.messages) for b in self.blocks if b.messages)

    def _block(self, token: str | None, messages: list[Message], *, live: bool, at: int) -> Block:
        self._keys += 1
        block = Block(self._keys, token, messages, live=live)
        if token is None:
            self._recent.update((m.id, m) for m in messages)
        self.blocks.insert(at, block)
        self._by_key[block.key] = block
        return block


def _seq(message: Message) -> int:
    return message.seq
