"""The canvas before Python (app/page.py) and where the build puts it (tools/canvas.py):
the static page and <attache-canvas> show it loading; the server draws it again
between the same markers."""
from __future__ import annotations

import json
import re

import pytest

from app import render
from app.core.models import Message
from app.core.restrictions import Restrictions
from app.page import CANVAS_END, CANVAS_START, CanvasView, canvas_html, display_names, title_for
from tests.unit.test_build import assemble, referenced, source  # noqa: F401  (the fixture)
from tools import canvas as build_canvas


def hidden(html: str, element_id: str) -> bool:
    tag = re.search(rf'<[^>]*\bid="{element_id}"[^>]*>', html).group(0)
    return re.search(r"\shidden(\s|>|=)", tag) is not None


def test_a_canvas_whose_history_is_not_known_says_it_is_loading():
    html = canvas_html(CanvasView())
    assert not hidden(html, "history-loading") and hidden(html, "history-empty")
    assert 'aria-busy="true"' in re.search(r'<section id="history"[^>]*>', html).group(0)
    assert re.search(r'<textarea id="message"[^>]*\sdisabled', html)       # static/early.mjs opens it
    assert re.search(r'<button type="submit" id="send"[^>]*\sdisabled', html)
    assert 'id="restrictions-hint" class="restrictions-hint"></p>' in html   # rules unknown: nothing claimed


def test_an_empty_history_says_so_and_a_known_one_is_drawn_as_given():
    empty = canvas_html(CanvasView(history_html=""))
    assert not hidden(empty, "history-empty") and hidden(empty, "history-loading")
    message = Message(id="m1", seq=1, sender="customer", text="<b>hi</b>", attachments=(),
                      created_at="2026-11-25T15:04:05Z", idempotency_key="k")
    history = render.messages_html([message], "agent", {"customer": "Customer"})
    full = canvas_html(CanvasView(history_html=history))
    assert history in full and "&lt;b&gt;hi&lt;/b&gt;" in full
    assert hidden(full, "history-empty") and hidden(full, "history-loading")


def test_what_the_canvas_names_is_escaped():
    html = canvas_html(CanvasView(title='Conversation with <img src=x>', identity='a"b', conversation="<c>",
                                  config_url='"><script>'))
    assert "<img src=x>" not in html and "<script>" not in html and "&lt;img src=x&gt;" in html
    assert 'data-identity="a&#34;b"' in html and 'data-conversation="&lt;c&gt;"' in html


def test_the_rules_are_drawn_as_the_composer_applies_them():
    rules = Restrictions.from_mapping({"max_file_size": "5 MB", "accepted_types": ["image/*", ".pdf"],
                                       "max_files_per_message": 3})
    html = canvas_html(CanvasView.with_rules(rules))
    assert f'accept="{rules.accept_attribute()}" multiple>' in html
    assert f">{rules.describe_limit()}</p>" in html


def test_names_and_title_as_the_page_shows_them():
    names = display_names({"agent": {"name": "Ann"}, "customer": "token", "big_boss": {}})
    assert names == {"agent": "Ann", "customer": "Customer", "big_boss": "Big_Boss"}
    assert title_for(names, "agent") == "Conversation with Customer, Big_Boss"
    assert title_for({"agent": "Agent"}, "agent") == "Conversation with everyone"


def test_the_build_draws_the_loading_canvas_between_the_servers_markers():
    page = build_canvas.fill_canvas(f"<body>\n  {build_canvas.CANVAS_MARK}\n</body>")
    inner = page.split(CANVAS_START, 1)[1].split(CANVAS_END, 1)[0]
    assert inner.strip() == canvas_html(CanvasView()).strip()
    with pytest.raises(ValueError):
        build_canvas.fill_canvas("<body></body>")


def test_the_site_has_the_canvas_and_the_element_naming_hashed_assets(source, tmp_path):  # noqa: F811
    src, snapshot = source
    out = tmp_path / "site"
    assemble(src, snapshot, out)
    html = (out / "index.html").read_text()
    assert html.count(CANVAS_START) == 1 and html.count(CANVAS_END) == 1
    assert "Loading the conversation…" in html
    early = re.search(r'<script type="module" src="\./(assets/early\.[0-9a-f]{12}\.mjs)">', html).group(1)
    assert html.index(early) < html.index("pyscript-")          # it runs before PyScript's core
    element = (out / "attache.js").read_text()
    refs = referenced(element)
    assert {re.sub(r"[.-][0-9a-f]{12}", "", r).split("/")[1] for r in refs} >= {"early.mjs", "attache.css", "pyscript"}
    assert all((out / ref.split("/core.js")[0]).exists() for ref in refs)
    assert "./static/" not in element and "@CANVAS@" not in element and "@PYSCRIPT@" not in element
    shell = json.loads(re.search(r"const CANVAS = (\".*\");", element).group(1))
    assert shell == canvas_html(CanvasView())
