"""The values that travel between the parts: files, problems, messages.

Frozen dataclasses, so a value handed to the renderer or the network cannot
change under anyone's feet. JSON helpers live here so the server and every
adapter read and write the same shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any


@dataclass(frozen=True)
class FileInfo:
    """What the browser knows of a picked file (and the server of an upload)."""

    name: str
    size: int
    declared_type: str = ""  # File.type from the browser, may be ""
    head: bytes = b""  # first HEAD_SIZE (4096) bytes, for sniffing; b"" when not known yet

    def __post_init__(self) -> None:
        if self.size < 0:
            raise ValueError(f"{self.name}: size cannot be negative ({self.size})")

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "size": self.size, "declared_type": self.declared_type, "head": self.head.hex()}

    @classmethod
    def from_json(cls, data: Any) -> FileInfo:
        """ValueError for anything that is not what `to_json` wrote."""
        fields = _require(data, "file", ("name", "size", "declared_type", "head"))
        try:
            head = bytes.fromhex(fields["head"])
        except (TypeError, ValueError):
            raise ValueError("file: head is not hex") from None
        return cls(str(fields["name"]), _int(fields["size"], "file size"), str(fields["declared_type"]), head)


@dataclass(frozen=True)
class Problem:
    """Errors are values: a machine code, a sentence for people, what to do next."""

    code: str
    message: str
    hint: str = ""

    def to_json(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message, "hint": self.hint}


@dataclass(frozen=True)
class Attachment:
    id: str
    name: str
    size: int
    content_type: str
    url: str

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "size": self.size,
                "content_type": self.content_type, "url": self.url}

    @classmethod
    def from_json(cls, data: Any) -> Attachment:
        d = _require(data, "attachment", ("id", "name", "size", "content_type", "url"))
        return cls(id=str(d["id"]), name=str(d["name"]), size=_int(d["size"], "attachment size"),
                   content_type=str(d["content_type"]), url=str(d["url"]))


@dataclass(frozen=True)
class Message:
    id: str
    seq: int
    sender: str
    text: str
    attachments: tuple[Attachment, ...]
    created_at: str  # ISO 8601 UTC "2026-11-25T15:04:05Z"
    idempotency_key: str = ""

    def to_json(self) -> dict[str, Any]:
        """The contract's Message JSON, minus "conversation" (the server adds it)."""
        return {"id": self.id, "seq": self.seq, "sender": self.sender, "text": self.text,
                "created_at": self.created_at, "idempotency_key": self.idempotency_key,
                "attachments": [a.to_json() for a in self.attachments]}

    @classmethod
    def from_json(cls, data: Any) -> Message:
        """Read the server's Message JSON; ValueError naming what is missing or wrong."""
        d = _require(data, "message", ("id", "seq", "sender", "created_at"))
        attachments = d.get("attachments")
        attachments = [] if attachments is None else attachments
        if not isinstance(attachments, list):
            raise ValueError("message: 'attachments' must be a list")
        return cls(id=str(d["id"]), seq=_int(d["seq"], "message seq"), sender=str(d["sender"]),
                   text=str(d.get("text") or ""),
                   attachments=tuple(Attachment.from_json(a) for a in attachments),
                   created_at=str(d["created_at"]), idempotency_key=str(d.get("idempotency_key") or ""))


def utc_timestamp(moment: datetime | None = None) -> str:
    """'2026-11-25T15:04:05Z': the one timestamp format of the contract."""
    moment = moment or datetime.now(timezone.utc)
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _require(data: Any, what: str, keys: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ValueError(f"{what}: expected a JSON object, got {type(data).__name__}")
    missing = [k for k in keys if k not in data]
    if missing:
        raise ValueError(f"{what}: missing {', '.join(missing)}")
    return data


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{what} must be an integer, got {value!r}")
    return value
