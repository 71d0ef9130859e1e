"""Matrix room events -> Attache messages, as pure functions.

Matrix rooms hold far more than messages: state changes, reactions, edits,
redactions, encrypted and custom events from every client. The rule here:
what a person wrote or sent is a Message; what the canvas cannot show
(encrypted, stickers, polls, unknown types) is a Message of kind
"unsupported" that says so in words, never silently dropped; plumbing (state
events, reactions, poll votes, call signalling) is skipped; a redacted
message is a "deleted" note; an edit changes the message it edits.

The envelope (``event_id``, ``sender``, ``origin_server_ts``, ``type``) is
written by the homeserver and validated strictly (BackendError bad_response);
``content`` is written by any client and never trusted to have a shape.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from app.backends.matrix.compat import require_int, require_object, require_str
from app.backends.matrix.wire import download_path, parse_mxc
from app.core.models import Attachment, Message
from app.core.sniff import type_from_name

_MIME = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*")
_MEDIA = ("m.image", "m.file", "m.video", "m.audio")
_TEXT = ("m.text", "m.notice", "m.emote", "m.server_notice")
#: Events that only annotate or drive others: never a line in the history.
_PLUMBING = frozenset({
    "m.reaction", "m.room.redaction", "m.poll.response", "m.poll.end",
    "org.matrix.msc3381.poll.response", "org.matrix.msc3381.poll.end",
    "m.call.candidates", "m.call.answer", "m.call.hangup", "m.call.select_answer",
    "m.call.reject", "m.call.negotiate", "m.receipt", "m.typing",
})
_EVENT_LABELS = {
    "m.room.encrypted": "An encrypted message",
    "m.sticker": "A sticker",
    "m.poll.start": "A poll",
    "org.matrix.msc3381.poll.start": "A poll",
    "m.call.invite": "A call",
}
_MSGTYPE_LABELS = {
    "m.location": "A location",
    "m.key.verification.request": "A verification request",
}
DELETED = "This message was deleted."


@dataclass(frozen=True)
class Context:
    """What mapping needs beyond the event: the homeserver's URL and members' names."""

    homeserver: str
    names: Mapping[str, str] = field(default_factory=dict)


def iso_time(ms: int) -> str:
    """``origin_server_ts`` (ms since the epoch) as ``2026-11-25T15:04:05Z``."""
    try:
        moment = datetime.fromtimestamp(ms / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        moment = datetime(1970, 1, 1, tzinfo=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def display_name(user_id: str, names: Mapping[str, str]) -> str:
    """The member's display name, else the user id's localpart (``@agent:hs`` -> ``agent``)."""
    name = names.get(user_id)
    if isinstance(name, str) and name.strip():
        return name
    return user_id[1:].split(":", 1)[0] if user_id.startswith("@") else user_id


def member_names(events: Any) -> dict[str, str]:
    """``{user_id: displayname}`` from ``m.room.member`` state events (others ignored)."""
    names: dict[str, str] = {}
    for event in events if isinstance(events, list) else ():
        if not isinstance(event, dict) or event.get("type") != "m.room.member":
            continue
        user, content = event.get("state_key"), event.get("content")
        if isinstance(user, str) and isinstance(content, dict):
            name = content.get("displayname")
            if isinstance(name, str) and name.strip():
                names[user] = name
    return names


def edit_of(event: Any) -> tuple[str, dict] | None:
    """``(edited event id, new content)`` when the event is an edit (``m.replace``)."""
    content = event.get("content") if isinstance(event, dict) else None
    if not isinstance(content, dict):
        return None
    relation = content.get("m.relates_to")
    if not isinstance(relation, dict) or relation.get("rel_type") != "m.replace":
        return None
    target, new = relation.get("event_id"), content.get("m.new_content")
    if not isinstance(target, str) or not target:
        return None
    return target, new if isinstance(new, dict) else {}


def redacted_id(event: Any) -> str | None:
    """The id an ``m.room.redaction`` removes (``content.redacts`` in v11+, top-level before)."""
    if not isinstance(event, dict) or event.get("type") != "m.room.redaction":
        return None
    content = event.get("content")
    target = content.get("redacts") if isinstance(content, dict) else None
    target = target if isinstance(target, str) else event.get("redacts")
    return target if isinstance(target, str) and target else None


def read_message(event: Any, ctx: Context, where: str = "event", status: int | None = None) -> Message | None:
    """The Message for one timeline event, or None when it is not shown on its own."""
    event = require_object(event, where, status)
    kind = require_str(event, "type", where, status)
    if "state_key" in event or kind in _PLUMBING or edit_of(event) is not None:
        return None
    unsigned = event.get("unsigned") if isinstance(event.get("unsigned"), dict) else {}
    base = _envelope(event, ctx, unsigned, where, status)
    if "redacted_because" in unsigned:
        return Message(**base, text=DELETED, attachments=(), kind="deleted")
    if kind != "m.room.message":
        return _unsupported(base, _EVENT_LABELS.get(kind) or f"An event of type {_clip(kind)}")
    content = _latest_content(event, unsigned)
    return _from_content(base, content, ctx)


def _envelope(event: dict, ctx: Context, unsigned: dict, where: str, status: int | None) -> dict:
    sender = require_str(event, "sender", where, status, nonempty=True)
    ts = require_int(event, "origin_server_ts", where, status)
    key = unsigned.get("transaction_id")
    return {
        "id": require_str(event, "event_id", where, status, nonempty=True),
        "seq": ts,
        "sender": sender,
        "created_at": iso_time(ts),
        "idempotency_key": key if isinstance(key, str) else "",
        "sender_name": display_name(sender, ctx.names),
    }


def _latest_content(event: dict, unsigned: dict) -> Any:
    """The content as last edited by its own sender (the server bundles the latest edit)."""
    relations = unsigned.get("m.relations")
    edit = relations.get("m.replace") if isinstance(relations, dict) else None
    if isinstance(edit, dict) and edit.get("sender") == event.get("sender"):
        found = edit_of(edit)
        if found is not None and found[1]:
            return found[1]
    return event.get("content")


def _from_content(base: dict, content: Any, ctx: Context) -> Message:
    if not isinstance(content, dict) or not isinstance(content.get("msgtype"), str):
        return _unsupported(base, "A message Attache could not read")
    msgtype, body = content["msgtype"], content.get("body")
    if not isinstance(body, str):
        return _unsupported(base, "A message Attache could not read")
    if msgtype in _TEXT:
        text = _strip_reply_fallback(body, content)
        if msgtype == "m.emote":
            text = f"* {base['sender_name']} {text}"
        return Message(**base, text=text, attachments=())
    if msgtype in _MEDIA:
        return _media(base, content, body, ctx)
    return _unsupported(base, _MSGTYPE_LABELS.get(msgtype) or f"A message of type {_clip(msgtype)}")


def _media(base: dict, content: dict, body: str, ctx: Context) -> Message:
    uri = content.get("url")
    if not isinstance(uri, str) or parse_mxc(uri) is None:
        label = "An encrypted file" if "file" in content else "A file Attache could not read"
        return _unsupported(base, label)
    filename = content.get("filename")
    has_name = isinstance(filename, str) and filename.strip() != ""
    name = filename if isinstance(filename, str) and has_name else body
    caption = body if has_name and body != filename else ""
    info = content.get("info")
    if not isinstance(info, dict):
        info = {}
    size = info.get("size")
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        size = 0  # unknown: other clients may leave it out
    attachment = Attachment(
        id=uri,
        name=name,
        size=size,
        content_type=_content_type(info.get("mimetype"), name),
        url=ctx.homeserver + download_path(uri),
    )
    return Message(**base, text=caption, attachments=(attachment,))


def _content_type(declared: Any, name: str) -> str:
    if isinstance(declared, str):
        declared = declared.split(";", 1)[0].strip().lower()
        if _MIME.fullmatch(declared):
            return declared
    return type_from_name(name) or "application/octet-stream"


def _strip_reply_fallback(body: str, content: dict) -> str:
    """Drop the ``> <@user> quoted`` lines older clients put before a reply's text."""
    relation = content.get("m.relates_to")
    if not isinstance(relation, dict) or not isinstance(relation.get("m.in_reply_to"), dict):
        return body
    lines = body.split("\n")
    if not lines or not lines[0].startswith("> "):
        return body
    while lines and lines[0].startswith(">"):
        lines.pop(0)
    if lines and lines[0] == "":
        lines.pop(0)
    return "\n".join(lines)


def _unsupported(base: dict, label: str) -> Message:
    return Message(**base, text=f"{label} \u2014 not supported here.", attachments=(), kind="unsupported")


def _clip(name: str) -> str:
    return name if len(name) <= 60 else name[:59] + "\u2026"
