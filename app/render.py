"""HTML for the canvas: state in, escaped HTML out.

Pure (no DOM), so the escaping of every user-supplied string — file names,
message text, anything a server answers — is unit-tested under CPython.
jinja2 autoescapes everything; no template marks user data as safe.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from jinja2 import Environment, FileSystemLoader
from markupsafe import Markup, escape

from app.core.humanize import OffsetFor, human_size, icon_for, short_time, type_label
from app.core.media import opens_inline, thumbnail_ok
from app.core.models import Attachment, FileInfo, Message, Problem
from app.core.outbox import Outgoing, Status
from app.core.sniff import effective_type
from app.core.timeline import Timeline

_env = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
)
_URL = re.compile(r"\bhttps?://[^\s<>\"']+", re.IGNORECASE)
_TRAILING = ".,;:!?)]}'\""


def linkify(text: str) -> Markup:
    """Escaped text whose http(s) addresses are links that open in a new tab.

    Only http and https become links (never javascript: or data:); every
    character, inside a link or not, goes through markupsafe's escape."""
    if "://" not in text:  # most messages: skip the regular expression
        return escape(text)
    parts, last = [], 0
    for match in _URL.finditer(text):
        url = match.group(0).rstrip(_TRAILING)
        parts.append(escape(text[last:match.start()]))
        parts.append(Markup('<a href="{0}" target="_blank" rel="noopener noreferrer nofollow">{0}</a>').format(url))
        last = match.start() + len(url)
    parts.append(escape(text[last:]))
    return Markup("").join(parts)


_env.filters["linkify"] = linkify

STATUS_LABELS = {
    Status.QUEUED: "Waiting to send…",
    Status.UPLOADING: "Uploading…",
    Status.SENDING: "Sending…",
    Status.SENT: "Sent",
    Status.FAILED: "Not sent",
}


def badge(name: str, content_type: str) -> str:
    """A short label for the file icon: the extension, else the type's subtype."""
    stem, dot, ext = name.rpartition(".")
    if dot and stem and 0 < len(ext) <= 4:
        return ext.upper()
    return content_type.rpartition("/")[2][:4].upper() or "FILE"


def file_view(name: str, size: int, content_type: str, url: str = "", preview_url: str = "") -> dict:
    return {
        "name": name,
        "url": url,
        "size_label": human_size(size),
        "type_label": type_label(content_type, name),
        "icon": icon_for(content_type, name),
        "badge": badge(name, content_type),
        "thumbnail": thumbnail_ok(content_type),
        "inline": opens_inline(content_type),
        "preview_url": preview_url,
        "thumb_url": url if thumbnail_ok(content_type) else "",
        "thumb_size": None,
        "placeholder": False,
    }


THUMB_HEIGHT = 240  # px: the tallest a thumbnail is drawn (the server makes them 480 px, for dense screens)


def thumb_size(width: int, height: int) -> tuple[int, int] | None:
    """The size a thumbnail is drawn at (then at most the bubble's width, keeping its shape), so
    its place is kept before it loads and nothing moves when it does."""
    if width <= 0 or height <= 0:
        return None
    scale = min(1.0, THUMB_HEIGHT / height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def attachment_view(attachment: Attachment) -> dict:
    """A server's thumbnail when it made one; a placeholder (the image's place, its name) while it
    makes it; a file card when it says there is none (a bad image); the original itself only for a
    backend that makes no thumbnails (thumbnail_url None)."""
    view = file_view(attachment.name, attachment.size, attachment.content_type, attachment.url)
    if attachment.thumbnail_url is not None:
        view["thumb_url"] = attachment.thumbnail_url if view["thumbnail"] else ""
        view["thumb_size"] = thumb_size(attachment.thumbnail_width, attachment.thumbnail_height)
        view["placeholder"] = view["thumbnail"] and attachment.thumbnail_pending
    return view


def wants_preview(info: FileInfo) -> bool:
    """Does a local file get a thumbnail (and so an object URL)? Judged on the type
    we believe, the content's: a PNG named "screenshot" does, an SVG never."""
    return thumbnail_ok(effective_type(info))


def info_view(info: FileInfo, preview_url: str = "") -> dict:
    """A local file (staged or uploading); only raster images get a preview."""
    content_type = effective_type(info)
    return file_view(info.name, info.size, content_type, preview_url=preview_url if thumbnail_ok(content_type) else "")


def message_view(message: Message, me: str, names: dict[str, str], utc_offset_minutes: int | OffsetFor = 0,
                 now: str = "") -> dict:
    return {
        "dom_id": message.id,
        "seq": message.seq,
        "side": "mine" if message.sender == me else "theirs",
        "sender_label": "You" if message.sender == me else (
            message.sender_name or names.get(message.sender) or message.sender.title()),
        "text": message.text,
        "kind": message.kind,  # "unsupported" / "deleted": a note in words, not a message
        "created_at": message.created_at,
        "time": short_time(message.created_at, utc_offset_minutes, now),
        "attachments": [attachment_view(a) for a in message.attachments],
    }


def messages_html(messages: Iterable[Message], me: str, names: dict[str, str],
                  utc_offset_minutes: int | OffsetFor = 0, now: str = "", *, protected_media: bool = False) -> str:
    """Messages in one template call (a block of the history).

    Times are shown on the reader's clock: `utc_offset_minutes` is their offset to UTC in
    minutes, or a function giving it for each instant (the browser's zone,
    daylight saving included); dated unless on `now`'s day. `protected_media`: attachment
    URLs need the bearer token (Matrix), so the browser is given none to follow
    (`data-protected`); app.browser.protected_media fetches them and shows `blob:` URLs."""
    views = [message_view(m, me, names, utc_offset_minutes, now) for m in messages]
    return _env.get_template("messages.html").render(views=views, protected=protected_media)


def block_html(key: int, inner: str, live: bool) -> str:
    """One block of the history (app.core.timeline): its messages, or nothing while it is a spacer.
    Blocks of history already there are not announced; blocks of arriving messages are (role=log)."""
    kind = 'block live"' if live else 'block" aria-live="off"'
    return f'<div class="{kind} data-block="{int(key)}">{inner}</div>'


START_ID = "history-start"   # the sentinel above the blocks: older pages load when it comes near
EARLIER_LOADING = "Loading earlier messages…"
EARLIER_FAILED = "Earlier messages could not be loaded."
EARLIER_NONE = "This is the start of the conversation."


def start_html(older: bool) -> str:
    """The sentinel as the history opens (app.browser.blocks keeps it up to date): shown when there
    are older pages, saying they load; hidden when the newest page is the whole conversation."""
    hidden = "" if older else " hidden"
    text = EARLIER_LOADING if older else EARLIER_NONE
    return (f'<div id="{START_ID}" class="history-start" aria-live="off"{hidden}>'
            f'<span class="history-start-text">{text}</span>'
            '<button type="button" class="btn btn-small" hidden>Try again</button></div>')


def opening_html(timeline: Timeline, inner: Callable[[Sequence[Message]], str]) -> str:
    """The history as it opens: the sentinel, then the newest page as one block (`inner` draws a
    block's messages). The server's first paint is exactly this, so the page keeps its nodes."""
    blocks = "".join(block_html(b.key, inner(b.messages or []), b.live) for b in timeline.blocks)
    return start_html(timeline.older is not None) + blocks


def percent(outgoing: Outgoing) -> int:
    return round(outgoing.progress * 100)


def status_label(outgoing: Outgoing) -> str:
    if outgoing.status == Status.UPLOADING:
        return f"Uploading… {percent(outgoing)}%"
    return STATUS_LABELS.get(outgoing.status, outgoing.status)


ANNOUNCE_EVERY = 25  # percent


def progress_announcement(outgoing: Outgoing) -> str:
    """What a screen reader hears while a file uploads: at the start and every 25%.
    The bar and its label move with every chunk but are not announced (aria-live=off)."""
    if outgoing.status != Status.UPLOADING:
        return ""
    step = percent(outgoing) // ANNOUNCE_EVERY * ANNOUNCE_EVERY
    return f"Uploading, {step}% done" if step else "Uploading"


def pending_html(outgoing: Outgoing, preview_urls: dict[int, str]) -> str:
    """A message not delivered yet; `preview_urls` maps a file's index to its thumbnail's URL."""
    view = {
        "announce": progress_announcement(outgoing),
        "local_id": outgoing.local_id,
        "status": outgoing.status,
        "status_label": status_label(outgoing),
        "busy": outgoing.status in (Status.QUEUED, Status.UPLOADING, Status.SENDING),
        "percent": percent(outgoing),
        "text": outgoing.text,
        "problem": outgoing.problem,
        "attachments": [info_view(s.info, preview_urls.get(i, "")) for i, s in enumerate(outgoing.files)],
    }
    return _env.get_template("pending.html").render(p=view)


def staged_html(infos: list[FileInfo], preview_urls: dict[int, str]) -> str:
    """The composer's staged files; `preview_urls` maps an index to its thumbnail's URL."""
    views = [info_view(info, preview_urls.get(i, "")) for i, info in enumerate(infos)]
    return _env.get_template("staged.html").render(views=views)


def notice_html(notice_id: int | str, problem: Problem, kind: str = "error", action: str = "",
                action_label: str = "") -> str:
    """A notice; with `action`, a button (`data-action`) that does something about it."""
    return _env.get_template("notice.html").render(
        notice_id=notice_id, message=problem.message, hint=problem.hint, kind=kind, action=action,
        action_label=action_label,
    )
