"""The agent's side of a Twilio conversation: its rules, and sending text and files into it.

A send is: judge each file by the conversation's rules (admin's and the
channel's), upload it to MCS, then create the message with the `twilio`
library, carrying our idempotency key in `Attributes`. On SMS and WhatsApp,
where Twilio drops the text of a message that has media, text and file go as
two messages (parts), each keyed by (key, part). See ledger.py for how a
retry after a lost answer finds what was already created.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import httpx
from twilio.base import values

from app.core.models import FileInfo
from app.core.restrictions import Restrictions, check_text
from app.core.sniff import HEAD_SIZE
from server.bridges.twilio.channels import ConversationRules, rules_for
from server.bridges.twilio.ledger import KeyedLocks, Ledger, SentPart
from server.bridges.twilio.problems import ambiguous, from_exception
from server.bridges.twilio.rest import Mcs, make_client, new_http
from server.config.twilio_config import TwilioSettings
from server.http.api_error import ApiError
from server.store.database import Database

CONVERSATION_SID = re.compile(r"^CH[0-9a-fA-F]{32}$")
ATTRIBUTE = "attache"             # Attributes = {"attache": {"key": ..., "part": i, "parts": n}}
READ_BACK = 50                    # recent messages searched for a key after a lost answer
MAX_KEY = 200


class FileBytes(Protocol):
    """A stored file's bytes, read on demand (server.blobs.protocol.StoredFile: the --data folder or a bucket)."""

    async def head(self, n: int) -> bytes: ...

    def chunks(self) -> AsyncIterator[bytes]: ...


@dataclass(frozen=True)
class OutgoingFile:
    """A stored, complete upload: its bytes, its name and the type we believe."""

    source: FileBytes
    name: str
    content_type: str
    size: int


@dataclass(frozen=True)
class Sent:
    conversation_sid: str
    idempotency_key: str
    parts: tuple[SentPart, ...]   # one per Twilio message created (text and file may be two)


def check_conversation(sid: str) -> str:
    if not CONVERSATION_SID.match(sid or ""):
        raise ApiError(404, "conversation_not_found", "This is not a Twilio conversation id (CH...).",
                       "Open the conversation from its link.", retryable=False)
    return sid


class TwilioBridge:
    """Owns the HTTP pool, the `twilio` client, MCS and the ledger; `aclose()` on shutdown."""

    def __init__(self, settings: TwilioSettings, admin: Restrictions, ledger: Database | str | Path,
                 http: httpx.AsyncClient | None = None) -> None:
        self.settings, self.admin = settings, admin
        self.http = http or new_http()
        self.client = make_client(settings, self.http)
        self.mcs = Mcs(settings, self.http)
        self.ledger = Ledger(ledger)          # the server's database, or (tests) a SQLite file
        self.locks = KeyedLocks()
        self.incoming = KeyedLocks()   # by Twilio message SID: the webhook and the history reader store it once

    async def aclose(self) -> None:
        await self.http.aclose()
        self.ledger.close()

    def conversation(self, sid: str) -> Any:
        return self.client.conversations.v1.conversations(check_conversation(sid))

    async def participants(self, conversation_sid: str) -> list[dict[str, Any]]:
        """Every participant's identity and messaging binding (all pages)."""
        out: list[dict[str, Any]] = []
        try:
            page = await self.conversation(conversation_sid).participants.page_async(page_size=100)
            while page is not None:
                out += [{"identity": p.identity, "messaging_binding": p.messaging_binding} for p in page]
                page = await page.next_page_async()
        except Exception as exc:  # any: mapped, or re-raised when not Twilio's
            raise from_exception(exc) from None
        return out

    async def rules(self, conversation_sid: str) -> ConversationRules:
        """The restrictions endpoint's answer for this conversation (and the send's judge)."""
        return rules_for(self.admin, await self.participants(conversation_sid))

    async def send(self, conversation_sid: str, author: str, text: str, files: Sequence[OutgoingFile],
                   idempotency_key: str) -> Sent:
        """Send once per key: a retry returns what the first attempt created."""
        check_conversation(conversation_sid)
        if not idempotency_key or len(idempotency_key) > MAX_KEY:
            raise ApiError(422, "invalid_idempotency_key", f"An idempotency key of 1 to {MAX_KEY} characters "
                           "is needed.", retryable=False)
        # a double click waits for the first attempt, then finds it in the ledger
        async with self.locks.hold((conversation_sid, idempotency_key)):
            return await self._send(conversation_sid, author, text, list(files), idempotency_key)

    async def _send(self, cid: str, author: str, text: str, files: list[OutgoingFile], key: str) -> Sent:
        if not text.strip() and not files:
            raise ApiError(422, "empty_message", "The message is empty.", "Write something or attach a file.",
                           retryable=False)
        if len(files) > 1:
            raise ApiError(422, "too_many_files", f"{len(files)} files attached; Twilio takes one per message.",
                           "Send the other files in another message.", retryable=False)
        rules = await self.rules(cid)
        non_chat = any(c.channel != "chat" for c in rules.channels)
        for p in check_text(text, rules.restrictions):      # the page refused it already; re-checked here
            raise ApiError.from_problem(p, retryable=False, channel_limit=rules.describe())
        for f in files:
            problems = rules.check(FileInfo(f.name, f.size, f.content_type, await f.source.head(HEAD_SIZE)))
            if problems:
                raise ApiError.from_problem(problems[0], retryable=False, channel_limit=rules.describe())
        body_parts: list[tuple[str, OutgoingFile | None]]
        if files and text.strip() and non_chat:
            body_parts = [(text, None), ("", files[0])]
        else:
            body_parts = [(text, files[0] if files else None)]
        sent = [await self._part(cid, author, key, i, len(body_parts), body, f)
                for i, (body, f) in enumerate(body_parts)]
        return Sent(cid, key, tuple(sent))

    async def _part(self, cid: str, author: str, key: str, part: int, parts: int, body: str,
                    f: OutgoingFile | None) -> SentPart:
        row = self.ledger.part(cid, key, part)
        if row and row.sent:
            return row.sent
        if row and row.state == "posting":
            found = await self._find(cid, key, part)
            if found is not None:
                self.ledger.sent(cid, key, found)
                return found
        media_sid = row.media_sid if row else None
        try:
            if f is not None and not media_sid:
                media_sid = await self.mcs.upload(f.source.chunks(), f.content_type, f.size)
            self.ledger.posting(cid, key, part, media_sid)
            attributes = json.dumps({ATTRIBUTE: {"key": key, "part": part, "parts": parts}})
            message = await self.conversation(cid).messages.create_async(
                author=author, body=body if body.strip() else values.unset,
                media_sid=media_sid or values.unset, attributes=attributes)
        except Exception as exc:
            error = from_exception(exc)
            if not ambiguous(error):
                self.ledger.forget(cid, key, part)
            raise error from None
        result = SentPart(part, message.sid, message.index, media_sid, _iso(message.date_created))
        self.ledger.sent(cid, key, result)
        return result

    async def _find(self, cid: str, key: str, part: int) -> SentPart | None:
        """After a lost answer: is our (key, part) among the conversation's recent messages?"""
        try:
            page = await self.conversation(cid).messages.page_async(order="desc", page_size=READ_BACK)
        except Exception as exc:
            raise from_exception(exc) from None
        for m in page:
            mark = our_mark(m.attributes)
            if mark is not None and mark == (key, part):
                media = m.media[0].get("sid") if isinstance(m.media, list) and m.media else None
                return SentPart(part, m.sid, m.index, media, _iso(m.date_created))
        return None


def our_mark(attributes: Any) -> tuple[str, int] | None:
    """(key, part) when a message's Attributes say this bridge created it."""
    try:
        data = json.loads(attributes) if isinstance(attributes, str) else None
    except ValueError:
        return None
    mark = data.get(ATTRIBUTE) if isinstance(data, dict) else None
    if isinstance(mark, dict) and isinstance(mark.get("key"), str) and isinstance(mark.get("part"), int):
        return mark["key"], mark["part"]
    return None


def _iso(value: Any) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if isinstance(value, datetime) else str(value or "")
