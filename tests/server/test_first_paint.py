"""GET / draws the canvas into the built page (server/page/first_paint.py): the newest page of
the conversation and identity the URL names in development, "loading" in production, the
composer with the rules in both; and what a portal embedding the canvas loads is allowed
to its origin by CORS."""
from __future__ import annotations

import asyncio
import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from html import unescape

import httpx
import pytest

from app.page import CANVAS_END, CANVAS_START
from server.conversations.messages import PAGE_SIZE
from tests.server.conftest import AGENT, CUSTOMER, TEST_CONFIG
from tools.seed import seed
from tools.services.attache import RunningServer
from tests.server.production import prod  # noqa: F401  (the fixture)

PORTAL = "https://portal.example.com"   # in TEST_CONFIG's cors_allow_origins


@pytest.fixture(scope="module")
def dev(tmp_path_factory):
    root = tmp_path_factory.mktemp("first-paint")
    (root / "config.toml").write_text(TEST_CONFIG)
    server = RunningServer(root / "data", root / "config.toml", log=root / "server.log").start()
    yield server
    server.stop()


def canvas(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    return response.text.split(CANVAS_START, 1)[1].split(CANVAS_END, 1)[0]


def labels(html: str) -> list[str]:
    return [unescape(label) for label in re.findall(r'<article class="msg[^"]*"[^>]*aria-label="([^"]*)"', html)]


def new_conversation() -> str:
    return f"fp-{uuid.uuid4().hex[:8]}"


@pytest.fixture()
def conversation(dev):
    """A conversation with two messages, the customer's first."""
    cid = new_conversation()
    with httpx.Client(base_url=dev.url) as client:
        for headers, text in ((CUSTOMER, "<script>alert(1)</script> hello"), (AGENT, "hi, how can I help?")):
            r = client.post(f"/api/conversations/{cid}/messages", headers=headers,
                            json={"idempotency_key": uuid.uuid4().hex, "text": text, "attachments": []})
            r.raise_for_status()
    return cid


def test_development_draws_the_history_the_identity_would_see(dev, conversation):
    r = httpx.get(f"{dev.url}/?as=agent&conversation={conversation}")
    html = canvas(r)
    assert [label.split(",")[0] for label in labels(html)] == ["Customer", "You"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt; hello" in html and "<script>alert" not in html
    assert '<h1 id="peer">Conversation with Customer</h1>' in html
    assert 'data-identity="agent"' in html and f'data-conversation="{conversation}"' in html
    assert "Loading the conversation" not in re.sub(r"<p[^>]*hidden[^>]*>[^<]*</p>", "", html)
    assert r.headers["cache-control"] == "no-store"                 # someone's messages
    assert "script-src 'self'" in r.headers["content-security-policy"]
    as_customer = canvas(httpx.get(f"{dev.url}/?as=customer&conversation={conversation}"))
    assert [label.split(",")[0] for label in labels(as_customer)] == ["You", "Agent"]


def test_the_composer_carries_the_administrators_rules(dev):
    html = canvas(httpx.get(f"{dev.url}/?conversation={new_conversation()}"))
    assert re.search(r'<input type="file" id="file-input" hidden tabindex="-1" accept="[^"]*\.pdf[^"]*" multiple>', html)
    assert re.search(r'id="restrictions-hint" class="restrictions-hint">Up to 300 MB', html)
    assert re.search(r'<p id="history-empty" class="history-empty">No messages yet', html)


def test_the_history_is_drawn_as_the_page_opens_it_the_newest_page_in_one_block(dev):
    cid = new_conversation()
    seed(dev.data / "attache.sqlite3", cid, PAGE_SIZE + 3, text=lambda i: f"n{i}.")
    html = canvas(httpx.get(f"{dev.url}/?conversation={cid}"))
    texts = re.findall(r'<p class="text">(n\d+)\.</p>', html)
    assert texts == [f"n{n}" for n in range(3, PAGE_SIZE + 3)]       # one page, however long the conversation
    sentinel = re.search(r'<div id="history-start"[^>]*>.*?</div><div class="block"[^>]*data-block="1">', html)
    assert sentinel and " hidden" not in sentinel.group(0).split(">")[0]   # older pages: it says they load
    assert "Loading earlier messages" in sentinel.group(0)
    assert html.count('class="block"') == 1


def test_a_short_conversation_has_the_start_of_it_and_an_empty_one_says_so(dev, conversation):
    html = canvas(httpx.get(f"{dev.url}/?conversation={conversation}"))
    assert re.search(r'<div id="history-start"[^>]* hidden>', html)   # all of it is there
    assert re.search(r'<p id="history-empty" class="history-empty" hidden>', html)
    empty = canvas(httpx.get(f"{dev.url}/?conversation={new_conversation()}"))
    assert re.search(r'<div id="history-start"[^>]* hidden>', empty) and "<article" not in empty
    assert re.search(r'<p id="history-empty" class="history-empty">No messages yet', empty)


def test_times_follow_the_zone_the_page_remembered(dev, conversation):
    url = f"{dev.url}/?as=agent&conversation={conversation}"
    utc = re.search(r"\d\d:\d\d", labels(canvas(httpx.get(url)))[0]).group(0)
    shifted = labels(canvas(httpx.get(url, cookies={"attache_tz": "Asia%2FKolkata"})))[0]
    hours, minutes = map(int, utc.split(":"))
    total = (hours * 60 + minutes + 330) % (24 * 60)
    assert f"{total // 60:02d}:{total % 60:02d}" in shifted
    for bogus in ("Mars%2FOlympus", "..%2F..%2Fetc%2Fpasswd", "x" * 200):
        assert utc in labels(canvas(httpx.get(url, cookies={"attache_tz": bogus})))[0]


@pytest.mark.parametrize("query", ["?as=boss", "?conversation=..", "?conversation=" + "x" * 200])
def test_what_the_server_cannot_draw_is_left_loading(dev, query):
    html = canvas(httpx.get(f"{dev.url}/{query}"))
    assert re.search(r'<p id="history-loading" class="history-empty">Loading the conversation', html)
    assert "<article" not in html and "data-identity" not in html


def test_production_draws_the_canvas_loading_for_everyone(prod):  # noqa: F811
    r = httpx.get(f"{prod.url}/?as=agent&conversation=c1")
    html = canvas(r)
    assert "Loading the conversation" in html and "<article" not in html
    assert re.search(r'id="restrictions-hint" class="restrictions-hint">Up to 300 MB', html)
    assert r.headers["cache-control"] == "no-cache"
    again = httpx.get(f"{prod.url}/", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304


def test_a_portal_may_load_the_element_and_its_assets(dev):
    r = httpx.get(f"{dev.url}/attache.js", headers={"Origin": PORTAL})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/javascript")
    assert r.headers["access-control-allow-origin"] == PORTAL
    assert r.headers["cache-control"] == "no-cache"                 # a stable name: revalidated
    asset = re.search(r'"\./(assets/early\.[0-9a-f]{12}\.mjs)"', r.text).group(1)
    loaded = httpx.get(f"{dev.url}/{asset}", headers={"Origin": PORTAL})
    assert loaded.status_code == 200 and loaded.headers["access-control-allow-origin"] == PORTAL
    other = httpx.get(f"{dev.url}/attache.js", headers={"Origin": "https://elsewhere.example"})
    assert "access-control-allow-origin" not in other.headers


def test_with_a_matrix_backend_the_canvas_is_loading_with_one_file_per_message(tmp_path):
    """The conversation is on the homeserver, which only the page reads: no reference history is drawn."""
    config = tmp_path / "config.toml"
    config.write_text(TEST_CONFIG + '[backend]\nkind = "matrix"\n\n[matrix]\nhomeserver = "http://127.0.0.1:9"\n'
                      'room = "#support:localhost"\n\n[matrix.identities]\nagent = "syt_agent"\n')
    server = RunningServer(tmp_path / "data", config).start()
    try:
        html = canvas(httpx.get(f"{server.url}/?as=agent&conversation=default"))
    finally:
        server.stop()
    assert labels(html) == []
    assert re.search(r'<p id="history-loading" class="history-empty">', html)
    assert 'aria-busy="true"' in html and " multiple" not in html


def test_the_drawn_page_may_fetch_its_token_from_the_portals_origin(tmp_path):
    """GET / is drawn per request: it carries the same CSP as the built page, the portal's origin included."""
    from server.app import create_app
    from tests.server.production import SECRET

    (tmp_path / "jwt.key").write_bytes(SECRET)
    (tmp_path / "c.toml").write_text('[auth]\nsecret_file = "jwt.key"\ntoken_url = "http://127.0.0.1:9/t"\n')
    app = create_app(tmp_path / "c.toml", data_dir=tmp_path / "data")

    async def get(path: str) -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c:
            return await c.get(path)

    try:
        with ThreadPoolExecutor(1) as pool:   # a loop of its own (the browser tests' may run in this thread)
            for path in ("/", "/index.html"):
                r = pool.submit(asyncio.run, get(path)).result()
                assert CANVAS_START in r.text
                assert "connect-src 'self' http://127.0.0.1:9;" in r.headers["content-security-policy"]
    finally:
        app.services.store.close()
