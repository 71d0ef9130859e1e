"""The page's first HTML already shows the canvas, before any Python runs in the browser.

The build writes build/site/index.html with the canvas "loading" between two
markers (app/page.py, tools/canvas.py). For `GET /` the server draws the canvas
again between them, with the same templates the page uses: the header naming
the other side, the composer with the administrator's rules and, when the
server can know who asks, the last RECENT messages of the conversation the URL
names. That is development mode, where `?as=` names the identity. In
production the server cannot know the user before the page has a token, so
the canvas says it is loading; the rules and the header are drawn all the same.
With `[backend] kind = "matrix"` the conversation is on the homeserver, which
the page reads itself: loading too.

The history is `app.render.messages_html` of what the API would answer (the
same JSON, parsed by the same adapter), so Python finds exactly the nodes it
would draw and keeps them: no flash, no duplicate. Message times need the
reader's time zone, which the page remembers in the `attache_tz` cookie
(static/early.mjs); without it (a first visit) times are drawn in UTC and
Python corrects the messages whose time differs.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import unquote
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import Response

from app import render
from app.backends.reference import ReferenceApi
from app.core.http import Response as WireResponse
from app.page import CANVAS_END, CANVAS_START, CanvasView, canvas_html, display_names, title_for
from server.common import CONVERSATION_ID
from server.messages import message_json

RECENT = 50
DEFAULT_IDENTITY = "agent"        # as app/main.py
DEFAULT_CONVERSATION = "default"  # as server.static.page_config


class Shell:
    """build/site/index.html split around its canvas, read again when the file changes."""

    def __init__(self) -> None:
        self._key: tuple[Path, int] | None = None
        self.parts: tuple[str, str] | None = None

    def load(self, path: Path) -> tuple[str, str] | None:
        """(before, after) the canvas, or None for a page without the markers."""
        key = (path, path.stat().st_mtime_ns)
        if key != self._key:
            text = path.read_text()
            head, found, rest = text.partition(CANVAS_START)
            _, found_end, tail = rest.partition(CANVAS_END)
            self.parts = (head + CANVAS_START, CANVAS_END + tail) if found and found_end else None
            self._key = key
        return self.parts


def reader_clock(request: Request, now: datetime) -> tuple[int, str]:
    """The reader's offset to UTC in minutes (from the attache_tz cookie; 0 without it) and now."""
    offset = 0
    zone = unquote(request.cookies.get("attache_tz", ""))
    if zone and len(zone) <= 64:
        try:
            delta = now.astimezone(ZoneInfo(zone)).utcoffset()
            offset = int(delta.total_seconds() // 60) if delta is not None else 0
        except (ValueError, KeyError, OSError):   # unknown zone, or no time zone database
            offset = 0
    return offset, now.isoformat().replace("+00:00", "Z")


def recent_history(request: Request, conversation: str, identity: str) -> list:
    """The conversation's last RECENT messages as the page's adapter reads them from the API."""
    state = request.app.state
    # The seq before the recent page: one indexed query, so a long conversation costs no more.
    row = state.store.db.execute("SELECT seq FROM messages WHERE conversation = ? ORDER BY seq DESC "
                                 "LIMIT 1 OFFSET ?", (conversation, RECENT)).fetchone()
    rows = state.store.messages(conversation, row[0] if row else None)
    body = json.dumps({"messages": [message_json(m, state.signer) for m in rows]})
    api = ReferenceApi("", state.config.identities[identity], conversation, identity=identity)
    return list(api.parse_history(WireResponse(200, {"content-type": "application/json"}, body)).messages)


def canvas_view(request: Request) -> CanvasView:
    """What the first HTML shows to this request."""
    config = request.app.state.config
    rules = config.restrictions
    if config.matrix is not None:   # the page reads the room from the homeserver: it loads there
        return CanvasView.with_rules(replace(rules, max_files_per_message=1))   # one file per Matrix event
    if config.auth is not None:     # production: the user is known once the page has a token
        return CanvasView.with_rules(rules)
    identity = request.query_params.get("as") or DEFAULT_IDENTITY
    conversation = request.query_params.get("conversation") or DEFAULT_CONVERSATION
    if identity not in config.identities or not CONVERSATION_ID.match(conversation):
        return CanvasView.with_rules(rules)     # Python names the problem
    # the names page_config gives the identities, as app/main.py reads them
    names = display_names({name: {"name": name.replace("_", " ").title()} for name in config.identities})
    messages = recent_history(request, conversation, identity)
    history = render.messages_html(messages, identity, names, *reader_clock(request, datetime.now(timezone.utc)))
    return CanvasView.with_rules(rules, title=title_for(names, identity), history_html=history,
                                 identity=identity, conversation=conversation)


def page_response(request: Request, path: Path, headers: dict[str, str]) -> Response | None:
    """index.html with this request's canvas, or None when the page has no canvas markers."""
    shell: Shell = getattr(request.app.state, "page_shell", None) or Shell()
    request.app.state.page_shell = shell
    parts = shell.load(path)
    if parts is None:
        return None
    view = canvas_view(request)
    body = (parts[0] + canvas_html(view) + parts[1]).encode()
    if view.loading:    # the same for everyone: revalidated
        etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
        headers = {**headers, "ETag": etag}
        if etag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
    else:               # someone's messages: never stored
        headers = {**headers, "Cache-Control": "no-store"}
    return Response(body, media_type="text/html", headers=headers)
