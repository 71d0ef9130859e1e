"""The canvas in the built site: drawn into index.html, and inside attache.js.

index.html's source has a CANVAS_MARK comment where the canvas goes. The build
draws the canvas there "loading" (app/page.py), between two markers, so a plain
static host shows it at once; the reference server draws it again between the
same markers for each request (server/page/first_paint.py).

attache.js (from static/attache.js) defines <attache-canvas> for portals. It
stays at the site's root under its own name, so a portal's one script tag keeps
working across releases (revalidated like the pages); the files it loads are
the hashed assets, and the canvas's loading HTML and the PyScript config are
written into it.
"""
from __future__ import annotations

import json
import tomllib

from app.page import CANVAS_END, CANVAS_START, CanvasView, canvas_html

CANVAS_MARK = "<!-- canvas: filled in by build.py (app/templates/canvas.html), and per request by the server -->"
ELEMENT_SOURCE = "static/attache.js"
ELEMENT_CANVAS = '"@CANVAS@"'
ELEMENT_PYSCRIPT = '"@PYSCRIPT@"'


def fill_canvas(html: str) -> str:
    """index.html with the loading canvas in place of CANVAS_MARK."""
    if CANVAS_MARK not in html:
        raise ValueError(f"index.html has no canvas mark ({CANVAS_MARK})")
    return html.replace(CANVAS_MARK, CANVAS_START + "\n" + canvas_html(CanvasView()) + CANVAS_END)


def element_module(text: str, pyscript_toml: str) -> str:
    """attache.js (its references already rewritten) with the loading canvas as a string and
    the site's PyScript config as an object: PyScript resolves a config's relative URLs
    against the page, a portal's, so attache.js makes them absolute from its own URL."""
    for mark in (ELEMENT_CANVAS, ELEMENT_PYSCRIPT):
        if mark not in text:
            raise ValueError(f"{ELEMENT_SOURCE} has no {mark}")
    config = tomllib.loads(pyscript_toml)
    return (text.replace(ELEMENT_CANVAS, json.dumps(canvas_html(CanvasView())))
                .replace(ELEMENT_PYSCRIPT, json.dumps(config)))
