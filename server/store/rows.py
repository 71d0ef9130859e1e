"""The rows the queries read and the statements of the hot paths (server.store.queries), built once.

Why built once, with bind parameters: building a statement per call costs more
than SQLite running it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import RowMapping, bindparam, func, literal, select

from app.core.media import thumbnail_ok
from server.store.schema import attachments, messages, thumbnails, uploads


@dataclass
class UploadRow:
    id: str
    owner: str
    name: str
    size: int
    declared_type: str
    content_type: str
    offset: int
    head_checked: bool
    sha256: str | None
    created_at: str
    touched_at: float = 0.0
    thumbnail: tuple[int, int] | None = None    # (width, height) of its thumbnail, when one was made
    thumbnail_pending: bool = False             # a raster image whose thumbnail is not made yet

    @property
    def complete(self) -> bool:
        return self.sha256 is not None


def attached_rows() -> Any:
    """Attachment rows (with their message's seq and their thumbnail's size), in message and position order."""
    return (select(attachments.c.message_seq, uploads, thumbnails.c.width.label("thumb_width"),
                   thumbnails.c.height.label("thumb_height"))
            .select_from(attachments.join(uploads, uploads.c.id == attachments.c.upload_id)
                         .join(messages, messages.c.seq == attachments.c.message_seq)
                         .outerjoin(thumbnails, thumbnails.c.sha256 == uploads.c.sha256))
            .order_by(attachments.c.message_seq, attachments.c.position))


FILE_COLUMNS = [*(c.label(f"file_{c.name}") for c in uploads.c),
                thumbnails.c.width.label("file_thumb_width"), thumbnails.c.height.label("file_thumb_height")]


def with_files(*where: Any) -> Any:
    """Messages in seq order, each row joined to one of its attachments (its upload and thumbnail size, in
    position order) or to none: a stream's read in one statement (`grouped` makes the messages)."""
    return (select(messages, *FILE_COLUMNS)
            .select_from(messages.outerjoin(attachments, attachments.c.message_seq == messages.c.seq)
                         .outerjoin(uploads, uploads.c.id == attachments.c.upload_id)
                         .outerjoin(thumbnails, thumbnails.c.sha256 == uploads.c.sha256))
            .where(*where).order_by(messages.c.seq, attachments.c.position))


def grouped(rows: Iterable[Any]) -> list[tuple[RowMapping, list[UploadRow]]]:
    """The rows of a `with_files` statement as (message row, its upload rows), in seq order."""
    out: list[tuple[RowMapping, list[UploadRow]]] = []
    for row in rows:
        r = row._mapping
        if not out or out[-1][0]["seq"] != r["seq"]:
            out.append((r, []))
        if r["file_id"] is not None:
            out[-1][1].append(upload_row({k[5:]: v for k, v in r.items() if k.startswith("file_")}))
    return out


# The statements of the hot paths (a send, a page, a tus PATCH, a stream's catch-up).
UPLOAD = select(uploads).where(uploads.c.id == bindparam("id"))
UPDATE_UPLOAD = uploads.update().where(uploads.c.id == bindparam("b_id")).values(
    offset=bindparam("b_offset"), head_checked=bindparam("b_head_checked"), content_type=bindparam("b_type"),
    sha256=bindparam("b_sha256"), touched_at=bindparam("b_touched_at"))
TOUCH_UPLOAD = uploads.update().where(uploads.c.id == bindparam("b_id")).values(touched_at=bindparam("b_touched_at"))
TO_SEND = (select(uploads, thumbnails.c.width.label("thumb_width"), thumbnails.c.height.label("thumb_height"))
            .select_from(uploads.outerjoin(thumbnails, thumbnails.c.sha256 == uploads.c.sha256))
            .where(uploads.c.id.in_(bindparam("ids", expanding=True))))
IS_ATTACHED = select(literal(1)).where(attachments.c.upload_id == bindparam("id")).limit(1)
MEDIA_IN_USE = select(literal(1)).where(uploads.c.sha256 == bindparam("sha256")).limit(1)
SHOWING = (select(messages.c.conversation, messages.c.id).distinct()
            .select_from(messages.join(attachments, attachments.c.message_seq == messages.c.seq)
                         .join(uploads, uploads.c.id == attachments.c.upload_id))
            .where(uploads.c.sha256 == bindparam("sha256")))
INSERT_MESSAGE = messages.insert().returning(messages.c.seq)
AFTER = with_files(messages.c.conversation == bindparam("conversation"), messages.c.seq > bindparam("after"))
BY_IDS = with_files(messages.c.id.in_(bindparam("ids", expanding=True)))
BY_KEY = with_files(messages.c.conversation == bindparam("conversation"),
                    messages.c.idempotency_key == bindparam("key"))
PAGE = select(messages).where(
    messages.c.conversation == bindparam("conversation"), messages.c.update_of.is_(None),
    messages.c.seq > bindparam("after"),
    messages.c.seq < bindparam("before")).order_by(messages.c.seq.desc()).limit(bindparam("limit"))
ATTACHED_IN_SPAN = attached_rows().where(attachments.c.message_seq.between(bindparam("first"), bindparam("last")),
                                      messages.c.conversation == bindparam("conversation"))
LAST_SEQ = select(func.coalesce(func.max(messages.c.seq), 0))


def sent_in(query: Any, sha256: str, conversation: str) -> Any:
    return (query.select_from(uploads.join(attachments, attachments.c.upload_id == uploads.c.id)
                              .join(messages, messages.c.seq == attachments.c.message_seq))
            .where(uploads.c.sha256 == sha256, messages.c.conversation == conversation))


def message_dict(r: Mapping[Any, Any], attached: list[UploadRow]) -> dict[str, Any]:
    return {
        "id": r["id"], "seq": r["seq"], "conversation": r["conversation"], "sender": r["sender"],
        "sender_name": r["sender_name"], "sender_role": r["sender_role"], "text": r["text"],
        "created_at": r["created_at"], "idempotency_key": r["idempotency_key"], "attachments": attached,
    }


def uploads_by_id(rows: Iterable[Any]) -> dict[str, UploadRow]:
    return {u.id: u for u in (upload_row(r._mapping) for r in rows)}


def upload_row(r: Mapping[Any, Any]) -> UploadRow:
    u = UploadRow(r["id"], r["owner"], r["name"], r["size"], r["declared_type"], r["content_type"],
                  r["offset"], bool(r["head_checked"]), r["sha256"], r["created_at"], r["touched_at"])
    if r.get("thumb_width"):
        u.thumbnail = (r["thumb_width"], r["thumb_height"])
    elif "thumb_width" in r and r["thumb_width"] is None:     # joined, and no row: not made yet
        u.thumbnail_pending = u.sha256 is not None and thumbnail_ok(u.content_type)
    return u
