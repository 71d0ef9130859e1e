"""Which channel a conversation's customer is on, and the media limits Twilio documents for it.

Why here and not only in Twilio's answer: a file the channel will refuse must
be refused before a single byte leaves the browser, with the channel's limit
named; Twilio's error 50512 after a 16 MB upload is the worst way to learn it.

Figures, as Twilio documents them (decimal MB, the stricter reading):
- https://www.twilio.com/docs/conversations/conversations-limits#media-limits
  "Any media file type of up to 150MB is supported between chat-based
  participants"; "JPG, PNG, MP3, AMR, MP4, and PDF files with a filesize of
  less than 5MB will be delivered from Chat participants to SMS"; "A single
  WhatsApp message may contain one piece of media, of maximum size 16MB.
  Supported filetypes include JPG, PNG, MP3, AMR, MP4, and PDF"; and SMS and
  WhatsApp participants "will only receive a single piece of media and the
  text body will be dropped" (so the bridge sends text and file separately).
- https://www.twilio.com/docs/whatsapp/guidance-whatsapp-media-messages
  "For a WhatsApp message, the maximum size limit is 16MB. The size limit for
  images is only 5 MB."
- https://www.twilio.com/docs/messaging/guides/accepted-mime-types  "MMS: 5 MB".
The REST Message resource takes one `MediaSid`, so one file per message everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from app.core.humanize import human_size
from app.core.models import FileInfo, Problem
from app.core.restrictions import Restrictions, check
from app.core.sniff import effective_type, type_from_name

NON_CHAT_TEXT_LIMIT = 1600        # conversations-limits: "WhatsApp and SMS: 1600 Characters"
_MMS_TYPES = ("image/jpeg", "image/png", "audio/mpeg", "audio/amr", ".amr", "video/mp4", "application/pdf")


@dataclass(frozen=True)
class ChannelLimit:
    channel: str                        # "chat", "sms", "whatsapp", or another binding type
    label: str                          # for people: "WhatsApp"
    max_file_size: int
    types: tuple[str, ...] = ()         # accept patterns; () = any type
    type_limits: tuple[tuple[str, int], ...] = ()   # (type prefix, smaller limit), e.g. images on WhatsApp


CHAT = ChannelLimit("chat", "web chat", 150_000_000)
SMS = ChannelLimit("sms", "SMS/MMS", 5_000_000, _MMS_TYPES)
WHATSAPP = ChannelLimit("whatsapp", "WhatsApp", 16_000_000, _MMS_TYPES, (("image/", 5_000_000),))


def channel_of(participant: Mapping[str, Any]) -> ChannelLimit | None:
    """A participant's channel from its messaging binding; chat when it has only an identity.

    WhatsApp is recognised by its `whatsapp:` addresses as well as by the binding
    type; a binding type we do not know gets the strictest limits we know
    (SMS's), under its own name.
    """
    binding = participant.get("messaging_binding")
    if not isinstance(binding, Mapping) or not binding:
        return CHAT if participant.get("identity") else None
    kind = str(binding.get("type") or "").lower()
    addresses = [str(binding.get(k) or "") for k in ("address", "proxy_address", "projected_address")]
    if kind == "whatsapp" or any(a.lower().startswith("whatsapp:") for a in addresses):
        return WHATSAPP
    if kind in ("sms", "mms", ""):
        return SMS
    return replace(SMS, channel=kind, label=kind.upper() if len(kind) <= 4 else kind.capitalize())


@dataclass(frozen=True)
class ConversationRules:
    """The admin's rules made stricter by every channel in the conversation."""

    restrictions: Restrictions
    channels: tuple[ChannelLimit, ...]
    files_allowed: bool = True

    @property
    def strictest(self) -> ChannelLimit:
        return _strictest(self.channels)

    def describe(self) -> str:
        """'WhatsApp: files up to 16 MB (images up to 5 MB)' — the channel's own limit in words."""
        c = self.strictest
        extra = "".join(f" ({_group(p)} up to {_size(n)})" for p, n in c.type_limits)
        return f"{c.label}: files up to {_size(c.max_file_size)}{extra}"

    def check(self, info: FileInfo) -> list[Problem]:
        """core.restrictions.check, with the channel named where its limit is the one broken."""
        name = info.name.strip() or "This file"
        if not self.files_allowed:
            return [Problem("type_not_accepted", f"{name}: no file type is accepted both here and on "
                            f"{self.strictest.label}", "Send a link to the file instead.")]
        problems = []
        for p in check(info, replace(self.restrictions, type_limits=(), channel="")):   # worded here
            channel = self.strictest
            if p.code == "too_large" and self.restrictions.max_file_size == channel.max_file_size:
                p = Problem(p.code, f"{name} is {human_size(info.size)}; {channel.label} accepts files up to "
                            f"{_size(channel.max_file_size)}", "Send a smaller file, or a link to it.")
            elif p.code == "type_not_accepted" and channel.types:
                p = Problem(p.code, f"{name}: this type cannot be sent on {channel.label} "
                            f"(accepted: {self.restrictions.describe_accepted()})", p.hint)
            problems.append(p)
        if not problems:
            problems += _type_limit_problems(info, name, self.channels)
        return problems


def rules_for(admin: Restrictions, participants: Iterable[Mapping[str, Any]]) -> ConversationRules:
    """Stricter of the admin's rules and every participant's channel (chat when nobody else)."""
    channels: list[ChannelLimit] = []
    for participant in participants:
        c = channel_of(participant)
        if c is not None and c not in channels:
            channels.append(c)
    non_chat = [c for c in channels if c.channel != "chat"]
    channels = non_chat or [CHAT]
    size = min([admin.max_file_size, *(c.max_file_size for c in channels)])
    accepted: tuple[str, ...] = tuple(admin.accepted_types)
    allowed = True
    for c in channels:
        if not c.types:
            continue
        narrowed = tuple(t for t in c.types if not accepted or any(_admits(p, t) for p in accepted))
        allowed = allowed and bool(narrowed)
        accepted = narrowed or c.types
    type_limits = tuple((p + "*", n) for p, n in _type_limits(channels) if n < size)   # "image/" -> "image/*"
    text = NON_CHAT_TEXT_LIMIT if non_chat else 0
    restrictions = Restrictions(size, accepted, 1, type_limits, _strictest(channels).label, text)
    return ConversationRules(restrictions, tuple(channels), allowed)


def _strictest(channels: Iterable[ChannelLimit]) -> ChannelLimit:
    return min(channels, key=lambda c: (c.max_file_size, len(c.types) == 0))


def _admits(pattern: str, candidate: str) -> bool:
    """Does the admin's accept pattern let the channel's pattern through?"""
    if pattern == candidate:
        return True
    mime = type_from_name("x" + candidate) if candidate.startswith(".") else candidate
    if mime is None:
        return False
    if pattern.startswith("."):
        return type_from_name("x" + pattern) == mime
    return pattern.endswith("/*") and mime.startswith(pattern[:-1])


def _type_limits(channels: Iterable[ChannelLimit]) -> list[tuple[str, int]]:
    return [(prefix, limit) for c in channels for prefix, limit in c.type_limits]


def _type_limit_problems(info: FileInfo, name: str, channels: Iterable[ChannelLimit]) -> list[Problem]:
    kind = effective_type(info) if info.head else (type_from_name(info.name) or info.declared_type)
    for c in channels:
        for prefix, limit in c.type_limits:
            if kind.startswith(prefix) and info.size > limit:
                return [Problem("too_large", f"{name} is {human_size(info.size)}; {c.label} accepts "
                                f"{_group(prefix)} up to {_size(limit)}", "Send a smaller file, or a link to it.")]
    return []


def _group(prefix: str) -> str:
    return {"image/": "images", "video/": "videos", "audio/": "audio"}.get(prefix, prefix)


def _size(n: int) -> str:
    return human_size(n).replace(".0 ", " ")
