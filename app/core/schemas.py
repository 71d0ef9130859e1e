"""The JSON the reference server exchanges (and a Twilio-bridged server, which speaks the same).

Defined once here: the server answers through these (``app.core.wire.encode``),
the reference adapter decodes with them, and the server's OpenAPI document and
the "Wire format" section of docs/api.md are generated from them
(``app.core.wire.json_schemas``).
Uploads are not JSON: they speak tus 1.0.0 (headers), see ``app/core/tus.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.core.wire import prop

MAX_TEXT = 20_000
MAX_IDEMPOTENCY_KEY = 200


@dataclass(frozen=True)
class Thumbnail:
    """A small image of an attachment, made by the server (WebP, at most 480 px on its longer side)."""

    url: str = prop(nonempty=True, description="Signed URL, relative to the server's root; expires like the file's")
    width: int = prop(minimum=1, description="Pixels")
    height: int = prop(minimum=1, description="Pixels")


@dataclass(frozen=True)
class Attachment:
    """A file attached to a message."""

    id: str = prop(nonempty=True, description="The upload id (last path segment of the tus upload URL)")
    name: str = prop(description="The file's name as uploaded (tus metadata `filename`)")
    size: int = prop(minimum=0, description="Bytes")
    content_type: str = prop(description="The type the server believes the content is: sniffed from its first "
                                         "bytes, else by name; not the browser's File.type (tus metadata `filetype`)")
    url: str = prop(nonempty=True, description="Signed media URL, relative to the server's root")
    thumbnail: Thumbnail | None = prop(default=None, description="Absent or null when the file has none (not a "
                                                                 "raster image, or one the server could not read)")
    thumbnail_pending: bool = prop(default=False, omit_default=True, description="Present (true) only while the "
                                   "server is still making the thumbnail: the message comes again as an `update` "
                                   "event once it is made")


@dataclass(frozen=True, kw_only=True)
class Message:
    """One message of a conversation."""

    id: str = prop(nonempty=True)
    seq: int = prop(minimum=0, description="Increasing with every message the server stores; the live cursor")
    conversation: str = prop()
    sender: str = prop(description="The identity that sent it")
    sender_name: str = prop(default="", description="How the sender is shown, when the server knows")
    sender_role: str = prop(default="", description="The sender's role (agent, customer...), when the server knows")
    text: str = prop()
    created_at: str = prop(fmt="date-time", description="ISO 8601 UTC, e.g. 2026-11-25T15:04:05Z")
    idempotency_key: str = prop(description="The key it was sent with ('' when none)")
    attachments: tuple[Attachment, ...] = prop()


@dataclass(frozen=True)
class History:
    """A page of a conversation's messages, oldest first."""

    messages: tuple[Message, ...] = prop()
    older: str | None = prop(default=None, description="Token for the page before this one (query `before`); "
                                                        "absent or null when this page starts the conversation")


@dataclass(frozen=True)
class TypeLimit:
    """A smaller limit for some types (a bridged channel's, e.g. images on WhatsApp)."""

    types: str = prop(nonempty=True, description="A pattern as in accepted_types, e.g. 'image/*'")
    max_file_size: int = prop(minimum=1, description="Bytes")


@dataclass(frozen=True)
class Restrictions:
    """What files may be attached (in a conversation: the stricter of the server's and its channel's)."""

    max_file_size: int = prop(minimum=0, description="Bytes (also tus `Tus-Max-Size`)")
    accepted_types: tuple[str, ...] = prop(description="MIME types, 'image/*' or '.ext'; empty = all")
    max_files_per_message: int = prop(minimum=1)
    type_limits: tuple[TypeLimit, ...] = prop(default=(), omit_default=True,
                                              description="Smaller limits for some types")
    channel: str = prop(default="", omit_default=True, description="The conversation's channel for people (e.g. "
                        "'WhatsApp') when the server bridges one; its limits are included above")
    max_text_length: int = prop(default=0, minimum=0, omit_default=True, description="Characters of text a message "
                                "may carry on the bridged channel (SMS, WhatsApp: 1600); 0: no limit but the "
                                "server's own")
    limit: str = prop(default="", omit_default=True, description="The channel's own limits in words, e.g. "
                      "'WhatsApp: files up to 16 MB (images up to 5 MB)'")


@dataclass(frozen=True)
class MessageCreate:
    """Send a message; the same idempotency key returns the message already created."""

    idempotency_key: str = prop(nonempty=True, max_length=MAX_IDEMPOTENCY_KEY)
    text: str = prop(default="", max_length=MAX_TEXT)
    attachments: tuple[str, ...] = prop(default=(), description="Ids of complete uploads, in order")


@dataclass(frozen=True)
class ErrorDetail:
    """What went wrong; the members after `hint` appear only with the refusals that say them."""

    code: str = prop(nonempty=True, description="Machine code, e.g. too_large")
    message: str = prop(description="A sentence for people")
    hint: str = prop(default="", description="What to do next")
    offset: int | None = prop(default=None, minimum=0, omit_default=True,
                              description="Bytes the server holds (offset_mismatch, server_stopping)")
    quota: str | None = prop(default=None, choices=("max_open_uploads", "daily_bytes_per_identity"),
                             omit_default=True, description="Which [attachments] quota refused the upload (429)")
    limit: int | None = prop(default=None, minimum=0, omit_default=True, description="That quota's value (429)")
    retry_after: int | None = prop(default=None, minimum=1, omit_default=True,
                                   description="Seconds until it has room, at the latest (429, as Retry-After)")
    conversation: str | None = prop(default=None, omit_default=True,
                                    description="The conversation the token does not grant (403)")
    field: str | None = prop(default=None, omit_default=True,
                             description="The body member that holds a lone surrogate (invalid_unicode)")
    retryable: bool | None = prop(default=None, omit_default=True, description="With a bridged service (Twilio): "
                                  "whether sending the same request again may succeed")
    twilio_code: int | None = prop(default=None, omit_default=True, description="Twilio's own error code, when "
                                   "it gave one")
    channel_limit: str | None = prop(default=None, omit_default=True, description="A bridged channel's limits in "
                                     "words, when its rules refused the message (as Restrictions.limit)")


@dataclass(frozen=True)
class Error:
    """The body of every error answer (uploads' too)."""

    error: ErrorDetail = prop()


@dataclass(frozen=True)
class EventsTicket:
    """A single-use ticket that opens one event stream (`?ticket=`): one conversation's, or /api/events."""

    ticket: str = prop(nonempty=True)
    expires_in: int = prop(minimum=1, description="Seconds it stays valid")


#: Every shape of the API, for the OpenAPI document's components and docs/api.md.
ALL = (Thumbnail, Attachment, Message, History, Restrictions, MessageCreate, Error, EventsTicket)
