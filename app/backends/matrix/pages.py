"""Answers that carry many events -- a ``/messages`` page, a ``/sync`` batch -- as values.

Pure functions of the decoded JSON: the adapter hands them the members'
names it knows (updated first from the same answer, so a newcomer's first
message already shows their name).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from app.backends.matrix.compat import HistoryPage, require_list, require_object, require_str
from app.backends.matrix.errors import not_in_room
from app.backends.matrix.events import DELETED, Context, edit_of, read_message, redacted_id
from app.core.models import Message


@dataclass(frozen=True)
class SyncBatch:
    """What one ``/sync`` brought for the room.

    An edit is a Message with the edited message's id and its new text and
    files; apply it only when its ``sender`` is the edited message's sender
    (Matrix's rule: the batch cannot check it, the original may be older than
    the batch) and keep the original's time.
    """

    messages: tuple[Message, ...]  # new events to show, oldest first
    next_since: str  # where the next poll continues
    edits: tuple[Message, ...] = ()  # new content for messages shown earlier (same id)
    deleted: tuple[str, ...] = ()  # ids of messages redacted since
    gap: str | None = None  # the timeline was cut: ``/messages`` from here fills the hole


def _table(data: dict, key: str) -> dict:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def room_state_events(data: dict, room_id: str) -> list:
    """Every event of a sync answer that may name members (state and timeline)."""
    room = _table(_table(_table(data, "rooms"), "join"), room_id)
    state = _table(room, "state").get("events")
    timeline = _table(room, "timeline").get("events")
    return [*(state if isinstance(state, list) else []), *(timeline if isinstance(timeline, list) else [])]


def read_history(data: Any, ctx: Context, status: int | None = None) -> HistoryPage:
    """A ``/messages?dir=b`` answer: newest first on the wire, oldest first here."""
    data = require_object(data, "messages", status)
    chunk = require_list(data, "chunk", "messages", status)
    found = [read_message(e, ctx, f"messages.chunk[{i}]", status) for i, e in enumerate(chunk)]
    end = data.get("end")
    # No `end`: the beginning of the room (an empty chunk alone does not mean that).
    older = end if isinstance(end, str) and end and (chunk or end != data.get("start")) else None
    return HistoryPage(tuple(m for m in reversed(found) if m is not None), older)


def read_sync(data: Any, room_id: str, ctx: Context, status: int | None = None) -> SyncBatch:
    """A ``/sync`` answer filtered to one room (other rooms are ignored if present)."""
    data = require_object(data, "sync", status)
    next_since = require_str(data, "next_batch", "sync", status, nonempty=True)
    rooms = _table(data, "rooms")
    if room_id in _table(rooms, "leave"):
        raise not_in_room()  # left, kicked or banned meanwhile
    room = _table(_table(rooms, "join"), room_id)
    timeline = _table(room, "timeline")
    events = timeline.get("events")
    messages, edits, deleted = [], [], []
    for i, event in enumerate(events if isinstance(events, list) else []):
        where = f"sync.timeline[{i}]"
        message = read_message(event, ctx, where, status)
        if message is not None:
            messages.append(message)
        elif (target := redacted_id(event)) is not None:
            deleted.append(target)
        elif (edit := edit_of(event)) is not None:
            edited = read_message({**event, "event_id": edit[0], "content": edit[1]}, ctx, where, status)
            if edited is not None and edit[1]:
                edits.append(edited)
    prev = timeline.get("prev_batch")
    gap = prev if timeline.get("limited") is True and isinstance(prev, str) and prev else None
    return SyncBatch(tuple(messages), next_since, tuple(edits), tuple(deleted), gap)


def apply_edit(original: Message, edit: Message) -> Message | None:
    """The message as edited: the edit's text and files, the original's time and place.

    None when the edit cannot apply: another user wrote it (Matrix lets only the
    sender edit), or the original was deleted meanwhile."""
    if edit.sender != original.sender or original.kind == "deleted" or edit.id != original.id:
        return None
    return replace(original, text=edit.text, attachments=edit.attachments, kind=edit.kind)


def as_deleted(original: Message) -> Message:
    """A redacted message: a note in its place, its files gone."""
    return replace(original, text=DELETED, attachments=(), kind="deleted")
