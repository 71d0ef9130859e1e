"""A Twilio message's media made into our uploads, the same way for a webhook and for history.

Each item is described by MCS and its short-lived content URL streamed into
`ingest` (the same checks as any upload). A file `ingest` refuses is listed
(and named in the text by `refusal_notes`); a passing fault (MCS down, rate
limited) is raised, so the caller tries the whole message again later.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from server.bridges.twilio.bridge import TwilioBridge
from server.bridges.twilio.problems import from_exception

MAX_MEDIA = 10
Ingest = Callable[[str, str, str, AsyncIterable[bytes]], Any]   # -> upload row (or awaitable of one)


async def fetch_media(bridge: TwilioBridge, ingest: Ingest, owner: str,
                      items: Sequence[Mapping[str, Any]]) -> tuple[list[Any], list[dict[str, str]]]:
    """(upload rows, refused files) for a message's media list.

    Items come as the webhook's `Media` JSON (`Sid`, `Filename`, `ContentType`)
    or as the REST message's `media` (`sid`, `filename`, `content_type`).
    """
    attachments, refused = [], []
    for item in list(items)[:MAX_MEDIA]:
        sid = str(item.get("Sid") or item.get("sid") or "")
        filename = item.get("Filename") or item.get("filename")
        try:
            info = await bridge.mcs.describe(sid)
            name = str(filename or info.filename or info.sid)
            declared = str(item.get("ContentType") or item.get("content_type") or info.content_type)
            chunks = bridge.mcs.content(info, bridge.admin.max_file_size)
            try:
                attachments.append(await maybe(ingest(owner, name, declared, chunks)))
            finally:
                await chunks.aclose()   # a refused file must not keep its download open
        except Exception as exc:  # any: refused files are reported, transient ones retried
            error = from_exception(exc)
            if error.extra.get("retryable"):
                raise error from None
            refused.append({"name": str(filename or "file"), "code": error.code, "message": error.message})
    return attachments, refused


def refusal_notes(text: str, refused: Sequence[Mapping[str, Any]]) -> str:
    """The customer's text, then one line per file this server did not accept, for the agent to read.

    Why in the text: the page shows a message's text as it is, whatever the
    backend, and the agent must learn that the customer sent a file they
    cannot see (so they can ask for it another way).
    """
    lines = []
    for item in refused:
        name, reason = str(item.get("name") or "file"), str(item.get("message") or "refused").rstrip(".")
        lines.append(f"⚠ Attachment not accepted: {reason if name in reason else f'{name}: {reason}'}.")
    return "\n".join([t for t in (text,) if t.strip()] + lines)


async def maybe(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


def iso_time(value: str) -> str:
    """Twilio's time (ISO 8601, with Z or an offset) as the contract writes times; now when unreadable."""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        moment = datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
