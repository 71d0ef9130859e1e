"""The page's first HTML already shows the canvas, before any Python runs in the browser.

The build writes build/site/index.html with the canvas "loading" between two
markers (app/page.py, tools/canvas.py). For `GET /` the server draws the canvas
again between them, with the same templates the page uses: the header naming
the other side, the composer with the administrator's rules and, when the
server can know who asks, the history as the page opens it. That is
development mode, where `?as=` names the identity. In production the server
cannot know the user before the page has a token, so the canvas says it is
loading; the rules and the header are drawn all the same.
With `[backend] kind = "matrix"` the conversation is on the homeserver, which
the page reads itself: loading too; and with "twilio", whose earlier messages
the history API reads from Twilio when the page asks.

The history is `app.render.opening_html` of the newest page the API would
answer (the same paging, the same JSON, parsed by the same adapter): the
sentinel and one block of up to a page of messages, so a long conversation
costs one page. Python draws that very HTML when it starts and keeps the nodes
it finds (app.browser.blocks): no flash, no duplicate, no image loaded twice.
Message times need the reader's time zone, which the page remembers in the
`attache_tz` cookie (static/early.mjs); each time is drawn at that zone's
offset at its own moment, as the browser does. Without the cookie (a first
visit) times are drawn in UTC and Python corrects the ones that differ.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import unquote
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import Response

from app import render
from app.backends import HistoryPage
from app.backends.reference import ReferenceApi
from app.core.http import Response as WireResponse
from app.core.humanize import OffsetFor
from app.core.timeline import Timeline
from app.page import CANVAS_END, CANVAS_START, CanvasView, canvas_html, display_names, title_for
from server.conversations.messages import page_json
from server.http.inputs import CONVERSATION_ID
from server.services import Services

DEFAULT_IDENTITY = "agent"        # as app/main.py
DEFAULT_CONVERSATION = "default"  # as server.page.static_site.page_config


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


def reader_zone(request: Request) -> OffsetFor:
    """The reader's offset to UTC in minutes at each moment: the attache_tz cookie's zone, else UTC."""
    zone = unquote(request.cookies.get("attache_tz", ""))
    if zone and len(zone) <= 64:
        try:
            info = ZoneInfo(zone)
        except (ValueError, KeyError, OSError):   # unknown zone, or no time zone database
            return _utc
        return lambda moment: int((moment.astimezone(info).utcoffset() or timedelta()).total_seconds() // 60)
    return _utc


def _utc(_moment: datetime) -> int:
    return 0


def newest_page(state: Services, conversation: str, identity: str) -> HistoryPage:
    """The conversation's newest page as the page's adapter reads it from the API."""
    body = json.dumps(page_json(state, conversation))
    api = ReferenceApi("", state.config.identities[identity], conversation, identity=identity)
    return api.parse_history(WireResponse(200, {"content-type": "application/json"}, body))


def history_html(page: HistoryPage, identity: str, names: dict[str, str], offset: OffsetFor, now: str) -> str:
    """The history as app.browser.blocks opens it with this page."""
    timeline = Timeline()
    timeline.start(page)
    return render.opening_html(timeline, lambda messages: render.messages_html(messages, identity, names, offset, now))


def canvas_view(request: Request, state: Services) -> CanvasView:
    """What the first HTML shows to this request."""
    config = state.config
    rules = config.restrictions
    if config.matrix is not None:   # the page reads the room from the homeserver: it loads there
        return CanvasView.with_rules(replace(rules, max_files_per_message=1))   # one file per Matrix event
    if config.auth is not None:     # production: the user is known once the page has a token
        return CanvasView.with_rules(rules)
    if config.twilio is not None:   # the history is read from Twilio as the page asks for it
        return CanvasView.with_rules(rules)
    identity = request.query_params.get("as") or DEFAULT_IDENTITY
    conversation = request.query_params.get("conversation") or DEFAULT_CONVERSATION
    if identity not in config.identities or not CONVERSATION_ID.match(conversation):
        return CanvasView.with_rules(rules)     # Python names the problem
    # the names page_config gives the identities, as app/main.py reads them
    names = display_names({name: {"name": name.replace("_", " ").title()} for name in config.identities})
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    page = newest_page(state, conversation, identity)
    history = history_html(page, identity, names, reader_zone(request), now)
    return CanvasView.with_rules(rules, title=title_for(names, identity), history_html=history,
                                 identity=identity, conversation=conversation, empty=not page.messages)


def page_response(request: Request, path: Path, headers: dict[str, str], state: Services,
                  shell: Shell) -> Response | None:
    """index.html with this request's canvas, or None when the page has no canvas markers."""
    parts = shell.load(path)
    if parts is None:
        return None
    view = canvas_view(request, state)
    body = (parts[0] + canvas_html(view) + parts[1]).encode()
    if view.loading:    # the same for everyone: revalidated
        etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
        headers = {**headers, "ETag": etag}
        if etag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
    else:               # someone's messages: never stored
        headers = {**headers, "Cache-Control": "no-store"}
    return Response(body, media_type="text/html", headers=headers)
