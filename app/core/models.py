"""The values that travel between the parts: files, problems, messages.

Frozen dataclasses, so a value handed to the renderer or the network cannot
change under anyone's feet. Reading the server's JSON is the adapters' job
(each backend has its own shape); FileInfo's JSON form is how the browser keeps
unsent files' descriptions across a reload.
"""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass(frozen=True)
class Attachment:
    id: str
    name: str
    size: int
    content_type: str
    url: str
    # None: the backend makes no thumbnails (a raster image is drawn from `url`); "": this file has
    # none (not an image, or one the server could not read: a file card); else the thumbnail's URL.
    thumbnail_url: str | None = None
    thumbnail_width: int = 0
    thumbnail_height: int = 0
    thumbnail_pending: bool = False  # the server is making it: a placeholder until the message comes again


@dataclass(frozen=True)
class Message:
    id: str
    seq: int
    sender: str
    text: str
    attachments: tuple[Attachment, ...]
    created_at: str  # ISO 8601 UTC "2026-11-25T15:04:05Z"
    idempotency_key: str = ""
    sender_name: str = ""  # how the sender is shown, when the backend says ("" = from the page config)
    sender_role: str = ""  # e.g. "agent", "customer", when the backend says
    # "" for an ordinary message; "unsupported" (an event the canvas cannot show: encrypted,
    # sticker, poll...) or "deleted" (redacted): `text` then says so in words, shown as a note.
    kind: str = ""


@dataclass(frozen=True)
class Uploaded:
    """A finished upload, ready to be attached to a message.

    ``ref`` is what the conversation API attaches (the reference server's
    upload id, a Matrix ``mxc://`` URI); ``content_type`` is the type the
    content is believed to be (the server's word when it says, else sniffed).
    """

    ref: str
    info: FileInfo
    content_type: str

    def to_json(self) -> dict[str, Any]:
        return {"ref": self.ref, "info": self.info.to_json(), "content_type": self.content_type}

    @classmethod
    def from_json(cls, data: Any) -> Uploaded:
        """ValueError for anything that is not what `to_json` wrote."""
        fields = _require(data, "upload", ("ref", "info", "content_type"))
        if not isinstance(fields["ref"], str) or not fields["ref"] or not isinstance(fields["content_type"], str):
            raise ValueError("upload: ref and content_type must be strings")
        return cls(fields["ref"], FileInfo.from_json(fields["info"]), fields["content_type"])


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
